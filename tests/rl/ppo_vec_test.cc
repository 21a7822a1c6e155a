// ppo_vec end to end, run as users run it: the same first update at any rank count, a debug run
// that learns, and config errors that name their key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

std::vector<nlohmann::json> ReadMetrics(const fs::path& run) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(run / "metrics.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    // A line being written while a test reads is skipped, not an error.
    auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!entry.is_discarded()) lines.push_back(std::move(entry));
  }
  return lines;
}

class PpoVecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("simscale_ppo_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // `ranks` 0: without mpirun.
  testing_support::ProcessResult Ppo(int ranks, const std::string& run, const std::string& args,
                                     int timeout = 240) {
    const std::string launcher = ranks == 0 ? "" : MpiRun(ranks);
    return RunProcess(launcher + ToolPath("ppo_vec") + " --output " + (dir_ / run).string() +
                          " --overwrite " + args,
                      timeout);
  }

  fs::path dir_;
};

// Short episodes so that some end (terminate or truncate) inside the first rollout.
constexpr const char* kSmall =
    " --env reach --total-steps 256 --set ppo.rollout_steps=16 --set ppo.max_steps=6"
    " --set ppo.epochs=2 --set ppo.minibatches=4 --seed 3 --log.level warn";

TEST_F(PpoVecTest, TwoRanksOfFourEnvsLearnAsOneRankOfEight) {
  const auto one = Ppo(1, "one", std::string(kSmall) + " --num-envs 8");
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto two = Ppo(2, "two", std::string(kSmall) + " --num-envs 4");
  ASSERT_EQ(two.exit_code, 0) << two.output;
  const auto a = ReadMetrics(dir_ / "one"), b = ReadMetrics(dir_ / "two");
  ASSERT_EQ(a.size(), 2u);
  ASSERT_EQ(b.size(), 2u);
  EXPECT_GT(a[0]["episodes"].get<double>(), 0);  // the comparison covers episode ends
  for (const char* key :
       {"episodes", "episode_return", "success_rate", "policy_loss", "value_loss", "entropy",
        "approx_kl", "clip_fraction", "explained_variance", "grad_norm"}) {
    for (size_t u = 0; u < 2; ++u) {
      const double x = a[u][key].get<double>(), y = b[u][key].get<double>();
      // Only float regrouping may differ (sums split over ranks, 4- vs 8-row matrix products).
      EXPECT_NEAR(x, y, 1e-4 * (1 + std::abs(x))) << key << " at update " << u + 1;
    }
  }
}

TEST_F(PpoVecTest, DebugConfigBeatsTheInitialRandomPolicyOnReach) {
  const auto result = Ppo(0, "debug",
                          "--config " + std::string(SIMSCALE_SOURCE_DIR) +
                              "/configs/ppo_reach_debug.yaml --log.level warn",
                          300);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  const auto lines = ReadMetrics(dir_ / "debug");
  ASSERT_GE(lines.size(), 4u);
  // The first rollout is played by the untrained policy: zero-mean Gaussian actions of std 1
  // clipped to the bounds, a random policy. The last rollouts must do clearly better.
  const double first = lines.front()["episode_return"].get<double>();
  const double last = lines.back()["episode_return"].get<double>();
  const double last_success = lines.back()["success_rate"].get<double>();
  const double first_success = lines.front()["success_rate"].get<double>();
  EXPECT_GT(last, first + 0.5 * std::abs(first)) << "returns " << first << " -> " << last;
  EXPECT_GT(last_success, first_success + 0.2);
  EXPECT_TRUE(fs::exists(dir_ / "debug" / "checkpoints"));

  // The run is a policy for the other tools: evaluate plays its deterministic (mean) action, so
  // two evaluations give the same episodes, and it beats the random policy on the same layouts.
  auto evaluate = [&](const std::string& policy, const std::string& out) {
    const auto run = RunProcess(ToolPath("evaluate") + " --env reach --episodes 20 --seed 77 " +
                                    "--policy " + policy + " --output " + (dir_ / out).string() +
                                    " --overwrite --log.level warn",
                                120);
    EXPECT_EQ(run.exit_code, 0) << run.output;
    return nlohmann::json::parse(ReadFile(dir_ / out / "results.json"));
  };
  const auto first_eval = evaluate((dir_ / "debug").string(), "eval_a");
  const auto second_eval = evaluate((dir_ / "debug").string(), "eval_b");
  const auto random_eval = evaluate("random", "eval_random");
  EXPECT_EQ(first_eval["episodes_detail"], second_eval["episodes_detail"]);
  EXPECT_GT(first_eval["return_mean"].get<double>(), random_eval["return_mean"].get<double>());
}

TEST_F(PpoVecTest, BadConfigExitsTwoNamingTheKey) {
  const auto minibatches = Ppo(0, "bad", std::string(kSmall) + " --set ppo.minibatches=7");
  EXPECT_EQ(minibatches.exit_code, 2) << minibatches.output;
  EXPECT_NE(minibatches.output.find("ppo.minibatches"), std::string::npos) << minibatches.output;
  const auto steps = Ppo(0, "bad", " --env reach --total-steps 10 --log.level warn");
  EXPECT_EQ(steps.exit_code, 2) << steps.output;
  EXPECT_NE(steps.output.find("ppo.total_steps"), std::string::npos) << steps.output;
  EXPECT_FALSE(fs::exists(dir_ / "bad" / "metrics.jsonl"));
}

// Resuming a PPO run is not implemented: the flag is refused, not silently ignored, and a run
// directory is not replaced without --overwrite.
TEST_F(PpoVecTest, ResumeIsRefusedAndARunIsNotOverwrittenByAccident) {
  const auto resume = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "r").string() +
                                 " --resume --log.level warn");
  EXPECT_EQ(resume.exit_code, 2) << resume.output;
  EXPECT_NE(resume.output.find("not implemented yet"), std::string::npos) << resume.output;
  fs::create_directories(dir_ / "taken");
  WriteFileAtomic(dir_ / "taken" / "metrics.jsonl", "{}\n");
  const auto taken = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "taken").string() +
                                " " + std::string(kSmall));
  EXPECT_EQ(taken.exit_code, 2) << taken.output;
  EXPECT_NE(taken.output.find("--overwrite"), std::string::npos) << taken.output;
  EXPECT_EQ(ReadFile(dir_ / "taken" / "metrics.jsonl"), "{}\n");
}

TEST_F(PpoVecTest, SigtermWritesACheckpointAndExits75) {
  const fs::path run = dir_ / "preempted";
  testing_support::BackgroundProcess ppo(
      {ToolPath("ppo_vec"), "--output", run.string(), "--env", "reach", "--num-envs", "4",
       "--total-steps", "100000000", "--set", "ppo.rollout_steps=16", "--set", "ppo.epochs=1",
       "--set", "ppo.minibatches=2", "--log.level", "warn"},
      (dir_ / "preempted.log").string());
  // Signal once training runs (a metrics line), so the checkpoint holds a trained update.
  for (int i = 0; i < 600 && ReadMetrics(run).empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_FALSE(ReadMetrics(run).empty()) << ppo.output();
  ppo.Signal(SIGTERM);
  EXPECT_EQ(ppo.Wait(60), 75) << ppo.output();
  const auto lines = ReadMetrics(run);
  ASSERT_FALSE(lines.empty());
  const int64_t last = lines.back()["update"].get<int64_t>();
  // The checkpoint is of the last finished update, and complete.
  char name[32];
  std::snprintf(name, sizeof(name), "update_%09lld", static_cast<long long>(last));
  EXPECT_TRUE(fs::exists(run / "checkpoints" / name / "COMPLETE")) << name;
  EXPECT_NE(ppo.output().find("SIGTERM"), std::string::npos) << ppo.output();
}

}  // namespace
}  // namespace simscale
