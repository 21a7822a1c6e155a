// train_ddp end to end, run as users run it: rank-count equivalence, exact resume, preemption,
// the non-finite guard, and a policy that learns.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "common/core/atomic_file.h"
#include "common/io/hdf5.h"
#include "tests/support/process.h"
#include "tests/train/checkpoint_compare.h"
#include "tests/train/train_fixture.h"

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
  const std::regex loss(R"("loss":\s*([-0-9.eE+naif]+))");
  while (std::getline(in, line)) {
    std::smatch match;
    if (std::regex_search(line, match, loss)) losses.push_back(std::stod(match[1]));
  }
  return losses;
}

class TrainTest : public train::testing::TrainDatasetTest {
 protected:
  // Runs train_ddp (or `tool`: train_ddp_faults injects faults) after the shell prefix `env`;
  // `ranks` 0 means without mpirun.
  static testing_support::ProcessResult Train(int ranks, const fs::path& run,
                                              const std::string& args,
                                              const std::string& tool = "train_ddp",
                                              const std::string& env = "") {
    const std::string launcher = ranks == 0 ? "" : MpiRun(ranks);
    return RunProcess(env + launcher + ToolPath(tool) + " --dataset " + dataset_.string() +
                          " --output " + run.string() +
                          " --set train.log_every=1 --set model.bc.dropout=0 --set "
                          "train.warmup_steps=5 --log.level warn " +
                          args,
                      300);
  }
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
  // Dropout on: its masks must be repeated exactly after the resume too.
  const std::string args =
      "--steps 40 --set train.batch_size=32 --set train.checkpoint_every=10 --set "
      "model.bc.dropout=0.1";
  const fs::path full = dir_ / ("full" + std::to_string(ranks));
  const fs::path split = dir_ / ("split" + std::to_string(ranks));
  ASSERT_EQ(Train(ranks, full, args).exit_code, 0);
  // Stopped at step 25 (as a preemption would): checkpoint at 25, exit code 75.
  const std::string stop = " --fault.stop_at 25";
  const auto stopped = Train(ranks, split, args + stop, "train_ddp_faults");
  ASSERT_EQ(stopped.exit_code, 75) << stopped.output;
  ASSERT_TRUE(fs::exists(split / "checkpoints/step_000000025/COMPLETE"));
  // Without --resume the run directory is protected.
  const auto refused = Train(ranks, split, args);
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;
  // Resumed with the same fault flags, as a requeued job would be: it starts at step 25, so the
  // stop does not fire again.
  const auto resumed = Train(ranks, split, args + stop + " --resume", "train_ddp_faults");
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  const auto a = Losses(full / "metrics.jsonl");
  const auto b = Losses(split / "metrics.jsonl");
  ASSERT_EQ(a.size(), 40u);
  ASSERT_EQ(b.size(), a.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_DOUBLE_EQ(b[i], a[i]) << "step " << i + 1;
  // The printed losses have 6 digits; the weights, optimizer state must match bit for bit.
  EXPECT_GT(train::testing::ExpectCheckpointsEqual(full / "checkpoints/step_000000040",
                                                   split / "checkpoints/step_000000040"),
            0);
  // Only the last keep_checkpoints (3) remain.
  int checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(split / "checkpoints")) {
    checkpoints += entry.path().filename().string().rfind("step_", 0) == 0 ? 1 : 0;
  }
  EXPECT_EQ(checkpoints, 3);
}

INSTANTIATE_TEST_SUITE_P(Ranks, ResumeTest, ::testing::Values(1, 2));

// Steps of the complete checkpoints of a run directory, in ascending order.
std::vector<int64_t> CompleteCheckpointSteps(const fs::path& run) {
  std::vector<int64_t> steps;
  if (!fs::exists(run / "checkpoints")) return steps;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints")) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("step_", 0) == 0 && fs::exists(entry.path() / "COMPLETE")) {
      steps.push_back(std::stoll(name.substr(5)));
    }
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

// Newline-terminated lines of a file (a line being written does not count).
int CompleteLines(const fs::path& path) {
  std::ifstream in(path);
  int lines = 0;
  for (char c; in.get(c);) lines += c == '\n' ? 1 : 0;
  return lines;
}

class PreemptionTest : public TrainTest, public ::testing::WithParamInterface<int> {
 protected:
  // A training long enough to be interrupted, started without a shell.
  std::vector<std::string> LongTraining(const fs::path& run) const {
    return {ToolPath("train_ddp"), "--dataset", dataset_.string(), "--output",
            run.string(),          "--steps",   "1000000",         "--set",
            "train.log_every=1",   "--set",     "log.level=warn"};
  }
  std::string SignalName() const { return GetParam() == SIGTERM ? "SIGTERM" : "SIGUSR1"; }
};

TEST_P(PreemptionTest, SignalWhileTrainingWritesACheckpointAndExits75) {
  const fs::path run = dir_ / ("signal_" + SignalName());
  testing_support::BackgroundProcess train(LongTraining(run), run.string() + ".log");
  // Ready when the first optimizer step is done and its metrics line written: the loop runs.
  for (int i = 0; i < 1200 && train.running() && CompleteLines(run / "metrics.jsonl") < 1; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ASSERT_TRUE(train.running()) << train.output();
  ASSERT_GE(CompleteLines(run / "metrics.jsonl"), 1) << train.output();
  train.Signal(GetParam());
  EXPECT_EQ(train.Wait(120), 75) << train.output();
  EXPECT_NE(train.output().find("preemption (" + SignalName() + ")"), std::string::npos)
      << train.output();
  const auto steps = CompleteCheckpointSteps(run);
  ASSERT_EQ(steps.size(), 1u) << train.output();
  EXPECT_GE(steps[0], 1);
}

// A signal that arrives before the tool's handlers exist (here: sent at once, held pending by a
// mask the child inherits) must not kill the run: it is honoured when the handlers are installed,
// and the run checkpoints before its first step.
TEST_P(PreemptionTest, SignalDuringStartUpCheckpointsBeforeTheFirstStep) {
  const fs::path run = dir_ / ("early_signal_" + SignalName());
  testing_support::BackgroundProcess train(LongTraining(run), run.string() + ".log", {GetParam()});
  train.Signal(GetParam());
  EXPECT_EQ(train.Wait(120), 75) << train.output();
  EXPECT_EQ(CompleteCheckpointSteps(run), std::vector<int64_t>{0}) << train.output();
}

INSTANTIATE_TEST_SUITE_P(Signals, PreemptionTest, ::testing::Values(SIGUSR1, SIGTERM),
                         [](const ::testing::TestParamInfo<int>& info) {
                           return std::string(info.param == SIGTERM ? "SIGTERM" : "SIGUSR1");
                         });

TEST_F(TrainTest, NonFiniteStepsAreSkippedOnEveryRankAndTooManyStopTheRun) {
  // Two isolated bad steps: skipped and counted; training finishes.
  const fs::path run = dir_ / "nan";
  const auto ok = Train(2, run, "--steps 20 --set train.batch_size=32 --fault.nan_steps 3,7",
                        "train_ddp_faults");
  ASSERT_EQ(ok.exit_code, 0) << ok.output;
  EXPECT_NE(ReadFile(run / "summary.json").find("\"nonfinite_skipped\": 2"), std::string::npos)
      << ReadFile(run / "summary.json");
  // Five in a row with max_nonfinite 5: the run stops with an error naming the last good
  // checkpoint, which stays intact.
  const fs::path bad = dir_ / "nan_stop";
  const auto stopped =
      Train(2, bad,
            "--steps 40 --set train.batch_size=32 --set train.checkpoint_every=10 --set "
            "train.max_nonfinite=5 --fault.nan_steps 15,16,17,18,19",
            "train_ddp_faults");
  EXPECT_NE(stopped.exit_code, 0);
  EXPECT_NE(stopped.output.find("5 non-finite steps in a row"), std::string::npos)
      << stopped.output;
  EXPECT_NE(stopped.output.find("step_000000010"), std::string::npos) << stopped.output;
  EXPECT_TRUE(fs::exists(bad / "checkpoints/step_000000010/COMPLETE"));
}

// Faults are injected only by code a test passes in: the production tool neither reads the old
// environment variables nor offers the fault flags.
TEST_F(TrainTest, ProductionToolHasNoFaultInjection) {
  const fs::path run = dir_ / "no_faults";
  const auto result = Train(2, run, "--steps 6 --set train.batch_size=32", "train_ddp",
                            "env SIMSCALE_TRAIN_STOP_AT=2 SIMSCALE_TRAIN_NAN_STEPS=0,1,2,3 ");
  ASSERT_EQ(result.exit_code, 0) << result.output;
  EXPECT_EQ(CompleteCheckpointSteps(run), std::vector<int64_t>{6}) << result.output;
  EXPECT_NE(ReadFile(run / "summary.json").find("\"nonfinite_skipped\": 0"), std::string::npos)
      << ReadFile(run / "summary.json");
  const auto flag = Train(0, dir_ / "no_fault_flag", "--steps 6 --fault.stop_at 2");
  EXPECT_EQ(flag.exit_code, 2) << flag.output;
  EXPECT_NE(flag.output.find("unknown option '--fault.stop_at'"), std::string::npos) << flag.output;
}

// A newcomer's first try: only the required inputs and a few steps. The default warmup (100
// steps) is longer than the run; it is clamped to the run with one warning (rank 0's), not an
// error. Every tool accepts its bare invocation (the configuration is what a first try meets; the
// full default runs take minutes).
TEST_F(TrainTest, FirstTryWithOnlyTheRequiredInputsWorks) {
  const fs::path run = dir_ / "first_try";
  const auto first = RunProcess(MpiRun(2) + ToolPath("train_ddp") + " --model bc --dataset " +
                                    dataset_.string() + " --steps 10 --output " + run.string(),
                                300);
  ASSERT_EQ(first.exit_code, 0) << first.output;
  const std::string warning = "train.warmup_steps (100) exceeds train.steps (10)";
  const auto at = first.output.find(warning);
  EXPECT_NE(at, std::string::npos) << first.output;
  EXPECT_EQ(first.output.find(warning, at + 1), std::string::npos) << "warned more than once";
  EXPECT_TRUE(fs::exists(run / "checkpoints/step_000000010/COMPLETE")) << first.output;
  for (const std::string& bare :
       {"train_ddp --model bc --dataset " + dataset_.string(),
        "datagen_mpi --env reach --output " + (dir_ / "bare.h5").string(),
        "evaluate --policy " + run.string(), std::string("ppo_vec --env reach")}) {
    const auto result = RunProcess(ToolPath("") + bare + " --print-config");
    EXPECT_EQ(result.exit_code, 0) << bare << "\n" << result.output;
  }
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

// Auxiliary targets through train_ddp and evaluate: at weight 0 they leave every logged loss equal
// to the run without them (the target head only adds its own term), at weight 1 they change the
// loss and validation reports their part; the checkpoint evaluates; a key the dataset lacks is a
// clear error.
TEST_F(TrainTest, AuxiliaryTargetsAddOnlyTheirOwnLossAndTheRunEvaluates) {
  const std::string args =
      "--steps 20 --set train.batch_size=32 --set train.eval_every=10 --run.plots false "
      "--set data.state_keys=[ee_pos,joint_pos,joint_vel]";
  const std::string targets = " --set model.target_keys=[target_pos]";
  ASSERT_EQ(Train(2, dir_ / "aux_plain", args).exit_code, 0);
  const auto zero = Train(2, dir_ / "aux_zero", args + targets + " --set model.target_weight=0");
  ASSERT_EQ(zero.exit_code, 0) << zero.output;
  const auto one = Train(2, dir_ / "aux_one", args + targets);
  ASSERT_EQ(one.exit_code, 0) << one.output;
  const auto plain = Losses(dir_ / "aux_plain/metrics.jsonl");
  ASSERT_EQ(plain.size(), 20u);
  EXPECT_EQ(Losses(dir_ / "aux_zero/metrics.jsonl"), plain);
  const auto weighted = Losses(dir_ / "aux_one/metrics.jsonl");
  ASSERT_EQ(weighted.size(), plain.size());
  EXPECT_NE(weighted, plain);
  std::ifstream metrics(dir_ / "aux_one/metrics.jsonl");
  int validated = 0;
  const std::regex target_loss(R"("valid_target_loss":([0-9.eE+-]+))");
  for (std::string line; std::getline(metrics, line);) {
    if (line.find("\"valid_loss\"") == std::string::npos) continue;
    ++validated;
    std::smatch match;
    ASSERT_TRUE(std::regex_search(line, match, target_loss)) << line;
    EXPECT_GT(std::stod(match[1]), 0.0) << line;
  }
  EXPECT_EQ(validated, 2);
  const auto evaluated =
      RunProcess(ToolPath("evaluate") + " --policy " + (dir_ / "aux_one").string() +
                     " --episodes 2 --log.level warn --run.plots false --output " +
                     (dir_ / "aux_eval").string(),
                 300);
  EXPECT_EQ(evaluated.exit_code, 0) << evaluated.output;
  const auto bad = Train(0, dir_ / "aux_bad", args + " --set model.target_keys=[elbow]");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("model.target_keys: 'elbow' is not a low-dimensional observation"),
            std::string::npos)
      << bad.output;
}

// 200 random bytes flipped inside the stored data of a column, as a bad disk or copy would.
void FlipBytesInAChunk(const fs::path& path, const std::string& dataset_path) {
  io::h5::Dataset::ChunkLocation chunk;
  {
    const io::h5::File file = io::h5::File::Open(path.string(), io::h5::File::Mode::kReadOnly);
    chunk = file.OpenDataset(dataset_path).ChunkLocations().at(0);
  }
  std::fstream stream(path, std::ios::in | std::ios::out | std::ios::binary);
  std::mt19937 random(3);
  for (int i = 0; i < 200; ++i) {
    const auto at = static_cast<std::streamoff>(chunk.file_address + random() % chunk.bytes);
    char byte = 0;
    stream.seekg(at);
    stream.read(&byte, 1);
    byte = static_cast<char>(byte ^ static_cast<char>(1 + random() % 255));
    stream.seekp(at);
    stream.write(&byte, 1);
  }
}

TEST_F(TrainTest, DamagedDatasetStopsTrainingNamingFileColumnAndEpisode) {
  const fs::path damaged = dir_ / "damaged.h5";
  fs::copy_file(dataset_, damaged);
  FlipBytesInAChunk(damaged, "episodes/actions");
  const auto train = [&](const std::string& run, const std::string& extra) {
    return RunProcess(ToolPath("train_ddp") + " --dataset " + damaged.string() + " --output " +
                          (dir_ / run).string() +
                          " --steps 2 --set train.warmup_steps=1 --log.level warn" + extra,
                      300);
  };
  const auto checked = train("damaged_run", "");
  EXPECT_NE(checked.exit_code, 0) << checked.output;
  const std::regex named("'" + damaged.string() +
                         "': column 'actions' of episode [0-9]+ \\(rows \\[[0-9]+, [0-9]+\\)\\) "
                         "does not match its checksum");
  EXPECT_TRUE(std::regex_search(checked.output, named)) << checked.output;
  // Verification is switchable: without it the damage goes unnoticed by the reader.
  const auto unchecked = train("unchecked_run", " --set data.verify_checksums=false");
  EXPECT_EQ(unchecked.output.find("checksum"), std::string::npos) << unchecked.output;
}

}  // namespace
}  // namespace simscale
