// The workstation pipeline on debug configs, checking real outcomes: the expert succeeds on its own
// demonstrations, a BC policy trained on them succeeds and beats a random policy, and evaluation
// gives the same results at any rank count.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <regex>
#include <string>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

double Number(const std::string& json, const std::string& key) {
  const std::regex pattern("\"" + key + "\": ([-0-9.eE+]+)");
  std::smatch match;
  if (!std::regex_search(json, match, pattern)) return -1.0;
  return std::stod(match[1]);
}

class PipelineTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("simscale_pipeline_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    const std::string configs = std::string(SIMSCALE_SOURCE_DIR) + "/configs/";
    auto run = [](const std::string& command) {
      const auto result = RunProcess(command, 600);
      ASSERT_EQ(result.exit_code, 0) << command << "\n" << result.output;
    };
    run(MpiRun(2) + ToolPath("datagen_mpi") + " --config " + configs +
        "datagen_reach_debug.yaml --output " + (dir_ / "reach.h5").string() + " --log.level warn");
    run(MpiRun(2) + ToolPath("train_ddp") + " --config " + configs +
        "bc_reach_debug.yaml --dataset " + (dir_ / "reach.h5").string() + " --output " +
        (dir_ / "bc").string() + " --steps 800 --log.level warn");
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static std::string Evaluate(int ranks, const std::string& policy, const std::string& name,
                              const std::string& extra = "") {
    const fs::path out = dir_ / name;
    const auto result = RunProcess(MpiRun(ranks) + ToolPath("evaluate") +
                                       " --env reach --episodes 20 --seed 1000 --policy " + policy +
                                       " --output " + out.string() + " --log.level warn " + extra,
                                   600);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return fs::exists(out / "results.json") ? ReadFile(out / "results.json") : "";
  }

  static inline fs::path dir_;
};

TEST_F(PipelineTest, TheExpertSucceedsOnItsOwnDemonstrations) {
  const auto stats =
      RunProcess(ToolPath("datagen_mpi") + " --stats " + (dir_ / "reach.h5").string());
  ASSERT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("success rate   1.0000 (40 of 40)"), std::string::npos)
      << stats.output;
  const auto valid =
      RunProcess(ToolPath("datagen_mpi") + " --validate " + (dir_ / "reach.h5").string());
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
}

TEST_F(PipelineTest, TrainedBcSucceedsAndBeatsARandomPolicy) {
  const double bc = Number(Evaluate(2, (dir_ / "bc").string(), "eval_bc"), "success_rate");
  const double random = Number(Evaluate(2, "random", "eval_random"), "success_rate");
  EXPECT_GE(bc, 0.8) << "BC success on 20 unseen reach layouts";
  EXPECT_LE(random, 0.1);
  EXPECT_GT(bc, random);
}

TEST_F(PipelineTest, EvaluationIsTheSameAtAnyRankCount) {
  const std::string one = Evaluate(1, (dir_ / "bc").string(), "eval_np1");
  const std::string three = Evaluate(3, (dir_ / "bc").string(), "eval_np3");
  ASSERT_FALSE(one.empty());
  // The per-episode outcomes (returns, lengths) are identical, not just the rates.
  const auto details = [](const std::string& json) {
    return json.substr(json.find("\"episodes_detail\""));
  };
  EXPECT_EQ(details(one), details(three));
}

TEST_F(PipelineTest, SeveralConditionsGiveATransferTableAndFrames) {
  const std::string json = Evaluate(2, "scripted", "eval_conditions",
                                    "--conditions clean,heavy,gains --set eval.frame_episodes=2");
  const nlohmann::json results = nlohmann::json::parse(json);
  for (const char* condition : {"clean", "heavy", "gains"}) {
    ASSERT_TRUE(results.at("conditions").contains(condition)) << json;
    EXPECT_GT(results["conditions"][condition].at("success_rate").get<double>(), 0.0)
        << condition << ": the expert should succeed";
  }
  EXPECT_TRUE(fs::exists(dir_ / "eval_conditions/frames_heavy.png"));
  EXPECT_TRUE(fs::exists(dir_ / "eval_conditions/results.csv"));
  // A single condition puts its metrics at the top level.
  const std::string single = Evaluate(1, "scripted", "eval_single");
  EXPECT_DOUBLE_EQ(Number(single, "success_rate"), 1.0);
}

TEST_F(PipelineTest, ExistingResultsAreNotOverwrittenWithoutOverwrite) {
  Evaluate(1, "random", "eval_twice");
  const auto again = RunProcess(ToolPath("evaluate") + " --env reach --episodes 2 --output " +
                                (dir_ / "eval_twice").string());
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("--overwrite"), std::string::npos) << again.output;
}

}  // namespace
}  // namespace simscale
