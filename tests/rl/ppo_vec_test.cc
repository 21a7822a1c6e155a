// ppo_vec end to end, run as users run it: the same first update at any rank count, a debug run
// that learns, and config errors that name their key.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
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
  ASSERT_GE(lines.size(), 20u);
  // The first rollouts are played by a nearly untrained policy (at first zero-mean Gaussian
  // actions of std 1 clipped to the bounds, a random policy). The last rollouts must do clearly
  // better. Each rollout ends only about ten episodes, so one rollout's success rate moves by 0.1
  // per episode: compare the means of the first and the last ten rollouts.
  const auto window_mean = [&](size_t begin, const char* key) {
    double sum = 0.0;
    for (size_t i = begin; i < begin + 10; ++i) sum += lines[i][key].get<double>();
    return sum / 10.0;
  };
  const size_t tail = lines.size() - 10;
  const double first = window_mean(0, "episode_return");
  const double last = window_mean(tail, "episode_return");
  const double first_success = window_mean(0, "success_rate");
  const double last_success = window_mean(tail, "success_rate");
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

// ppo.target_kl stops an update after the epoch whose mean KL exceeds it (CleanRL's early stop).
TEST_F(PpoVecTest, TargetKlStopsTheEpochsEarly) {
  const auto stopped = Ppo(0, "kl", std::string(kSmall) + " --set ppo.target_kl=1e-9");
  ASSERT_EQ(stopped.exit_code, 0) << stopped.output;
  const auto full = Ppo(0, "full", std::string(kSmall));
  ASSERT_EQ(full.exit_code, 0) << full.output;
  for (const auto& line : ReadMetrics(dir_ / "kl")) EXPECT_EQ(line["epochs"].get<int64_t>(), 1);
  for (const auto& line : ReadMetrics(dir_ / "full")) EXPECT_EQ(line["epochs"].get<int64_t>(), 2);
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

// 8 updates of 8 envs with episodes ending inside rollouts, a checkpoint every 2 updates.
constexpr const char* kResumable =
    " --env pick_place --num-envs 8 --total-steps 1024 --set ppo.rollout_steps=16"
    " --set ppo.max_steps=11 --set ppo.epochs=2 --set ppo.minibatches=4 --seed 5"
    " --set ppo.checkpoint_every=2 --log.level warn";

// What a metrics line says about learning (timings left out).
nlohmann::json Learning(nlohmann::json line) {
  for (const char* key : {"wall_s", "sps", "collect_s", "learn_s", "allreduce_s"}) line.erase(key);
  return line;
}

// Stopped by a preemption before update 5 (exit 75) or killed with SIGKILL in the middle of update
// 7, then resumed: the run ends with the parameters and optimizer state of the run that was never
// stopped, bit for bit, and the same metrics.
TEST_F(PpoVecTest, ResumedRunsEndBitForBitAsTheUninterruptedOne) {
  const auto whole = Ppo(0, "whole", kResumable);
  ASSERT_EQ(whole.exit_code, 0) << whole.output;
  const std::string faults = ToolPath("ppo_vec_faults") + " --output ";
  const auto stopped =
      RunProcess(faults + (dir_ / "stopped").string() + kResumable + " --fault.stop_at 5");
  ASSERT_EQ(stopped.exit_code, 75) << stopped.output;
  const auto killed =
      RunProcess(faults + (dir_ / "killed").string() + kResumable + " --fault.kill_at 7");
  ASSERT_NE(killed.exit_code, 0) << killed.output;
  ASSERT_FALSE(fs::exists(dir_ / "killed" / "checkpoints" / "update_000000008"));
  ASSERT_EQ(ReadMetrics(dir_ / "killed").size(), 6u);
  for (const char* run : {"stopped", "killed"}) {
    const auto resumed = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / run).string() +
                                    kResumable + " --resume");
    ASSERT_EQ(resumed.exit_code, 0) << run << ": " << resumed.output;
    const fs::path last = fs::path("checkpoints") / "update_000000008";
    EXPECT_TRUE(ReadFile(dir_ / run / last / "model.pt") ==
                ReadFile(dir_ / "whole" / last / "model.pt"))
        << run << ": model.pt differs";
    auto state = [](const fs::path& dir) {
      auto json = nlohmann::json::parse(ReadFile(dir / "state.json"));
      json.erase("wall_seconds");
      json.erase("config");
      return json;
    };
    EXPECT_EQ(state(dir_ / run / last), state(dir_ / "whole" / last)) << run;
    const auto a = ReadMetrics(dir_ / "whole"), b = ReadMetrics(dir_ / run);
    ASSERT_EQ(a.size(), b.size()) << run;
    for (size_t u = 0; u < a.size(); ++u) EXPECT_EQ(Learning(a[u]), Learning(b[u])) << run << u;
  }
  // The next-to-last update is learned from the optimizer state restored at update 6: had it
  // not been restored (fresh Adam moments), the parameters would differ above.
  EXPECT_TRUE(fs::exists(dir_ / "killed" / "checkpoints" / "update_000000006" / "COMPLETE"));
}

// A run directory is not trained over by accident, and a resume with other settings than the
// run's (or another total number of envs) is refused naming what differs.
TEST_F(PpoVecTest, ARunIsNotOverwrittenOrResumedWithOtherSettings) {
  fs::create_directories(dir_ / "taken");
  WriteFileAtomic(dir_ / "taken" / "metrics.jsonl", "{}\n");
  const auto taken = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "taken").string() +
                                " " + std::string(kSmall));
  EXPECT_EQ(taken.exit_code, 2) << taken.output;
  EXPECT_NE(taken.output.find("--resume"), std::string::npos) << taken.output;
  EXPECT_EQ(ReadFile(dir_ / "taken" / "metrics.jsonl"), "{}\n");

  const std::string args = std::string(kSmall) + " --num-envs 4 --set ppo.checkpoint_every=1";
  const auto first = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "r").string() + args);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const auto lr = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "r").string() + args +
                             " --resume --set ppo.lr=0.002");
  EXPECT_EQ(lr.exit_code, 2) << lr.output;
  EXPECT_NE(lr.output.find("'ppo.lr'"), std::string::npos) << lr.output;
  const auto envs = RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "r").string() + args +
                               " --resume --num-envs 8");
  EXPECT_EQ(envs.exit_code, 2) << envs.output;
  EXPECT_NE(envs.output.find("holds 4 envs"), std::string::npos) << envs.output;
  // --resume on a finished run trains nothing more and says so; on an empty directory it starts.
  const auto again =
      RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "r").string() + args + " --resume");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(ReadMetrics(dir_ / "r").size(), 4u);
  const auto fresh =
      RunProcess(ToolPath("ppo_vec") + " --output " + (dir_ / "new").string() + args + " --resume");
  EXPECT_EQ(fresh.exit_code, 0) << fresh.output;
  EXPECT_EQ(ReadMetrics(dir_ / "new").size(), 4u);
}

// A NaN loss on the last of 2 ranks at one minibatch step: the step is skipped on both ranks (the
// guard sees all-reduced numbers; the ranks' parameters are compared at every checkpoint, and a
// difference stops the run), training goes on with finite numbers.
TEST_F(PpoVecTest, ANonFiniteStepIsSkippedOnEveryRank) {
  const auto run = RunProcess(MpiRun(2) + ToolPath("ppo_vec_faults") + " --output " +
                                  (dir_ / "nan").string() + kSmall +
                                  " --num-envs 4 --set ppo.checkpoint_every=1"
                                  " --fault.nan_update 1 --fault.nan_step 2",
                              240);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  EXPECT_NE(run.output.find("skipped on every rank"), std::string::npos) << run.output;
  const auto lines = ReadMetrics(dir_ / "nan");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0]["nonfinite_skipped"].get<int64_t>(), 1);
  EXPECT_EQ(lines[1]["nonfinite_skipped"].get<int64_t>(), 0);
  for (const auto& line : lines) {
    for (const char* key : {"policy_loss", "value_loss", "approx_kl", "grad_norm"}) {
      ASSERT_TRUE(line[key].is_number()) << key << " " << line.dump();
      EXPECT_TRUE(std::isfinite(line[key].get<double>())) << key << " " << line.dump();
    }
  }
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
