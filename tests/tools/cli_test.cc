// The four executables, run as users run them: --help, bad configuration, --print-config layering.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/atomic_file.h"
#include "common/models/policy.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

class ToolTest : public ::testing::TestWithParam<const char*> {};

TEST_P(ToolTest, HelpListsTheCommonFlagsAndExitsZero) {
  const auto result = RunProcess(ToolPath(GetParam()) + " --help");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  for (const char* flag :
       {"--config", "--set", "--print-config", "--seed", "--output", "--overwrite", "--resume"}) {
    EXPECT_NE(result.output.find(flag), std::string::npos) << flag << "\n" << result.output;
  }
}

TEST_P(ToolTest, UnknownKeyExitsWithCode2AndNamesIt) {
  const auto result = RunProcess(ToolPath(GetParam()) + " --set no.such_key=1");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("unknown config key 'no.such_key'"), std::string::npos)
      << result.output;
}

TEST_P(ToolTest, BadConfigUnderMpirunFailsOnceWithoutAbort) {
  const auto result = RunProcess(MpiRun(2) + ToolPath(GetParam()) + " --seed -4", 60);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("config key 'run.seed'"), std::string::npos) << result.output;
  EXPECT_EQ(result.output.find("MPI_ABORT"), std::string::npos) << result.output;
}

INSTANTIATE_TEST_SUITE_P(AllTools, ToolTest,
                         ::testing::Values("datagen_mpi", "train_ddp", "ppo_vec", "evaluate"));

TEST(DatagenCli, PrintConfigShowsLayeredValues) {
  const auto dir = std::filesystem::temp_directory_path() / "simscale_cli_test";
  std::filesystem::create_directories(dir);
  const auto file = dir / "datagen.yaml";
  WriteFileAtomic(file, "datagen:\n  env: pick_place\n  episodes: 50\n");
  const auto result = RunProcess(ToolPath("datagen_mpi") + " --config " + file.string() +
                                 " --episodes 7 --print-config");
  EXPECT_EQ(result.exit_code, 0) << result.output;
  EXPECT_NE(result.output.find("env: pick_place"), std::string::npos) << result.output;
  EXPECT_NE(result.output.find("episodes: 7"), std::string::npos) << result.output;
  std::filesystem::remove_all(dir);
}

// Fault injection lives in a test-only build of the tool; the production tool does not know it.
TEST(DatagenCli, TheProductionToolOffersNoFaultInjection) {
  const auto result = RunProcess(ToolPath("datagen_mpi") + " --fault.kill_at after_commit:0:0");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find("fault.kill_at"), std::string::npos) << result.output;
  EXPECT_EQ(RunProcess(ToolPath("datagen_mpi") + " --help").output.find("fault."),
            std::string::npos);
}

TEST(DatagenCli, OutOfRangeValueNamesKeyAndExpectation) {
  const auto result = RunProcess(ToolPath("datagen_mpi") + " --episodes 0");
  EXPECT_EQ(result.exit_code, 2) << result.output;
  EXPECT_NE(result.output.find(
                "config key 'datagen.episodes' (from command line --episodes): expected an "
                "integer >= 1, got '0'"),
            std::string::npos)
      << result.output;
}

TEST(TrainDdpCli, HelpListsEveryRegisteredModelAndEachIsAccepted) {
  const std::vector<std::string> models = models::ListModels();
  ASSERT_GE(models.size(), 2u);
  const auto help = RunProcess(ToolPath("train_ddp") + " --help");
  EXPECT_EQ(help.exit_code, 0) << help.output;
  EXPECT_NE(help.output.find(fmt::format("--train.model, --model STRING\n      model to train (a "
                                         "registered model name) (one of {{{}}}",
                                         fmt::join(models, ", "))),
            std::string::npos)
      << help.output;
  for (const std::string& model : models) {
    const auto result = RunProcess(ToolPath("train_ddp") + " --dataset unused.h5 --model " + model +
                                   " --print-config");
    EXPECT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find("model: " + model + "\n"), std::string::npos) << result.output;
  }
  const auto unknown = RunProcess(ToolPath("train_ddp") + " --dataset unused.h5 --model nope");
  EXPECT_EQ(unknown.exit_code, 2) << unknown.output;
  EXPECT_NE(unknown.output.find(fmt::format("one of {{{}}}", fmt::join(models, ", "))),
            std::string::npos)
      << unknown.output;
}

}  // namespace
}  // namespace simscale

namespace simscale {
namespace {

// Every shipped config parses with its tool (the file name says which: datagen_*, train_* /
// bc_* / vla_*, eval_*, ppo_*).
// A vision config gives the policy proprioception only: every vla config of the pixel tasks sets
// model.vision, and asking it for an object's position stops train_ddp before it starts, naming
// the key.
TEST(ShippedConfigs, VisionConfigsRefusePrivilegedStateKeys) {
  const std::filesystem::path dir = std::filesystem::path(SIMSCALE_SOURCE_DIR) / "configs";
  int vision_configs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("vla_pick_place_vision", 0) != 0 && name.rfind("vla_pick_place_multi", 0) != 0) {
      continue;
    }
    EXPECT_NE(ReadFile(entry.path()).find("  vision: true\n"), std::string::npos) << name;
    ++vision_configs;
  }
  EXPECT_EQ(vision_configs, 6);
  const std::string command = testing_support::ToolPath("train_ddp") + " --config " +
                              (dir / "vla_pick_place_multi.yaml").string() +
                              " --dataset data.h5 --print-config";
  const auto refused =
      testing_support::RunProcess(command + " --set data.state_keys=[ee_pos,object_pos]");
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("data.state_keys: 'object_pos' is not proprioception"),
            std::string::npos)
      << refused.output;
  EXPECT_EQ(
      testing_support::RunProcess(command + " --set data.state_keys=[ee_pos,joint_pos]").exit_code,
      0);
}

TEST(ShippedConfigs, EveryConfigParsesWithItsTool) {
  const std::filesystem::path dir = std::filesystem::path(SIMSCALE_SOURCE_DIR) / "configs";
  int checked = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() != ".yaml") continue;
    const std::string name = entry.path().filename().string();
    std::string tool;
    if (name.rfind("datagen_", 0) == 0) tool = "datagen_mpi";
    if (name.rfind("bc_", 0) == 0 || name.rfind("vla_", 0) == 0 || name.rfind("train_", 0) == 0) {
      tool = "train_ddp";
    }
    if (name.rfind("eval_", 0) == 0) tool = "evaluate";
    if (name.rfind("ppo_", 0) == 0) tool = "ppo_vec";
    ASSERT_FALSE(tool.empty()) << name << ": no tool for this config name";
    // train_ddp configs leave the dataset to the command line (it is required).
    const std::string dataset = tool == "train_ddp" ? " --dataset data.h5" : "";
    const auto result =
        testing_support::RunProcess(testing_support::ToolPath(tool) + " --config " +
                                    entry.path().string() + dataset + " --print-config");
    EXPECT_EQ(result.exit_code, 0) << name << "\n" << result.output;
    ++checked;
  }
  EXPECT_GE(checked, 4);
}

}  // namespace
}  // namespace simscale
