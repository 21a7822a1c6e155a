// train_ddp end to end, run as users run it: rank-count equivalence, exact resume, preemption,
// the non-finite guard, and a policy that learns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/atomic_file.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

// Losses of a metrics.jsonl file, in step order.
std::vector<double> Losses(const fs::path& metrics) {
  std::vector<double> losses;
  std::ifstream in(metrics);
  std::string line;
  const std::regex loss(R"("loss": ([-0-9.eE+naif]+))");
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_search(line, match, loss)) losses.push_back(std::stod(match[1]));
  }
  return losses;
}

class TrainTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("simscale_train_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    dataset_ = dir_ / "reach.h5";
    const auto result = RunProcess(MpiRun(2) + ToolPath("datagen_mpi") +
                                       " --env reach --episodes 24 --max-steps 40 --output " +
                                       dataset_.string() + " --log.level warn",
                                   300);
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  // Runs train_ddp; `ranks` 0 means without mpirun.
  static testing_support::ProcessResult Train(int ranks, const fs::path& run,
                                              const std::string& args,
                                              const std::string& env = "") {
    const std::string launcher = ranks == 0 ? "" : MpiRun(ranks);
    return RunProcess(env + launcher + ToolPath("train_ddp") + " --dataset " + dataset_.string() +
                          " --output " + run.string() +
                          " --set train.log_every=1 --set model.bc.dropout=0 --set "
                          "train.warmup_steps=5 --log.level warn " +
                          args,
                      300);
  }

  static inline fs::path dir_;
  static inline fs::path dataset_;
};

TEST_F(TrainTest, TwoRanksWithHalfBatchesReproduceOneRank) {
  const std::string args = "--steps 30 --set train.batch_size=64";
  ASSERT_EQ(Train(1, dir_ / "one", args).exit_code, 0);
  ASSERT_EQ(Train(2, dir_ / "two", args).exit_code, 0);
  // Uneven shares too: 3 ranks split 64 as 22/21/21.
  ASSERT_EQ(Train(3, dir_ / "three", args).exit_code, 0);
  const auto one = Losses(dir_ / "one/metrics.jsonl");
  ASSERT_EQ(one.size(), 30u);
  for (const char* other : {"two", "three"}) {
    const auto losses = Losses(dir_ / other / "metrics.jsonl");
    ASSERT_EQ(losses.size(), one.size()) << other;
    // The same samples and weights give the same losses; only the grouping of floating-point
    // sums differs (the gradient of 64 samples vs. an all-reduced sum of 32 + 32). Equal to the
    // printed precision early on; later the rounding differences grow slowly through Adam.
    for (size_t i = 0; i < one.size(); ++i) {
      const double tolerance = (i < 10 ? 1e-5 : 5e-3) * std::abs(one[i]);
      EXPECT_NEAR(losses[i], one[i], tolerance) << other << " ranks, step " << i + 1;
    }
  }
  EXPECT_LT(one.back(), 0.5 * one.front()) << "the loss should fall";
}

class ResumeTest : public TrainTest, public ::testing::WithParamInterface<int> {};

TEST_P(ResumeTest, InterruptedThenResumedRunRepeatsTheUninterruptedLosses) {
  const int ranks = GetParam();
  const std::string args = "--steps 40 --set train.batch_size=32 --set train.checkpoint_every=10";
  const fs::path full = dir_ / ("full" + std::to_string(ranks));
  const fs::path split = dir_ / ("split" + std::to_string(ranks));
  ASSERT_EQ(Train(ranks, full, args).exit_code, 0);
  // Stopped at step 25 (as a preemption would): checkpoint at 25, exit code 75.
  const auto stopped = Train(ranks, split, args, "env SIMSCALE_TRAIN_STOP_AT=25 ");
  ASSERT_EQ(stopped.exit_code, 75) << stopped.output;
  ASSERT_TRUE(fs::exists(split / "checkpoints/step_000000025/COMPLETE"));
  // Without --resume the run directory is protected.
  const auto refused = Train(ranks, split, args);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;
  const auto resumed = Train(ranks, split, args + " --resume");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto a = Losses(full / "metrics.jsonl");
  const auto b = Losses(split / "metrics.jsonl");
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b[i], a[i]) << "step " << i + 1;
  // Only the last keep_checkpoints (3) remain.
  int checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(split / "checkpoints")) {
    checkpoints += entry.path().filename().string().rfind("step_", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(checkpoints, 3);
}

INSTANTIATE_TEST_SUITE_P(Ranks, ResumeTest, ::testing::Values(1, 2));

TEST_F(TrainTest, Sigusr1WritesACheckpointAndStops) {
  const fs::path run = dir_ / "signal";
  const fs::path pid_file = dir_ / "signal.pid";
  // Long enough to be interrupted; run in the background and signal it once it trains.
  const std::string command = "sh -c '" + ToolPath("train_ddp") + " --dataset " +
                              dataset_.string() + " --output " + run.string() +
                              " --steps 1000000 --set train.log_every=1 --set log.level=warn & "
                              "echo $! > " +
                              pid_file.string() + "; wait $!'";
  std::thread signaller([&] {
    for (int i = 0; i < 600 && !fs::exists(run / "metrics.jsonl"); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    const pid_t pid = static_cast<pid_t>(std::stol(ReadFile(pid_file)));
    kill(pid, SIGUSR1);
  });
  const auto result = RunProcess(command, 120);
  signaller.join();
  EXPECT_EQ(result.exit_code, 75) << result.output;
  bool checkpoint = false;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints")) {
    checkpoint = checkpoint || fs::exists(entry.path() / "COMPLETE");
  }
  EXPECT_TRUE(checkpoint);
}

TEST_F(TrainTest, NonFiniteStepsAreSkippedOnEveryRankAndTooManyStopTheRun) {
  // Two isolated bad steps: skipped and counted; training finishes.
  const fs::path run = dir_ / "nan";
  const auto ok =
      Train(2, run, "--steps 20 --set train.batch_size=32", "env SIMSCALE_TRAIN_NAN_STEPS=3,7 ");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ReadFile(run / "summary.json").find("\"nonfinite_skipped\": 2"), std::string::npos)
      << ReadFile(run / "summary.json");
  // Five in a row with max_nonfinite 5: the run stops with an error naming the last good
  // checkpoint, which stays intact.
  const fs::path bad = dir_ / "nan_stop";
  const auto stopped =
      Train(2, bad,
            "--steps 40 --set train.batch_size=32 --set train.checkpoint_every=10 --set "
            "train.max_nonfinite=5",
            "env SIMSCALE_TRAIN_NAN_STEPS=15,16,17,18,19 ");
  EXPECT_NE(stopped.exit_code, 0);
  EXPECT_NE(stopped.output.find("5 non-finite steps in a row"), std::string::npos)
      << stopped.output;
  EXPECT_NE(stopped.output.find("step_000000010"), std::string::npos) << stopped.output;
  EXPECT_TRUE(fs::exists(bad / "checkpoints/step_000000010/COMPLETE"));
}

TEST_F(TrainTest, BadDatasetAndKeysAreClearErrors) {
  const auto missing = RunProcess(ToolPath("train_ddp") + " --dataset /nonexistent.h5 --output " +
                                  (dir_ / "x").string());
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.output.find("'/nonexistent.h5' does not exist"), std::string::npos)
      << missing.output;
  const auto key = Train(0, dir_ / "y", "--set data.state_keys=[ee_pos,elbow]");
  EXPECT_EQ(key.exit_code, 2);
  EXPECT_NE(key.output.find("'elbow' is not a low-dimensional observation"), std::string::npos)
      << key.output;
}

}  // namespace
}  // namespace simscale
