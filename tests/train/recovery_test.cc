// train_ddp after the failures a cluster delivers: a SIGKILL at a random step (1 and 2 ranks,
// dropout and EMA on), a SIGKILL in the middle of a checkpoint write, a full disk. Each resumed
// run must end with the weights and optimizer state of an uninterrupted one, bit for bit.
#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "common/models/checkpoint.h"
#include "tests/support/process.h"
#include "tests/train/checkpoint_compare.h"
#include "tests/train/train_fixture.h"

namespace simscale::train {
namespace {
namespace fs = std::filesystem;
using testing_support::BackgroundProcess;
using testing_support::FillDisk;
using testing_support::RunProcess;
using testing_support::TmpfsMount;
using testing_support::ToolPath;

constexpr int kSteps = 120;
constexpr const char* kFinal = "checkpoints/step_000000120";

// Newline-terminated lines of a file (a line being written does not count).
int CompleteLines(const fs::path& path) {
  std::ifstream in(path);
  int lines = 0;
  for (char c; in.get(c);) lines += c == '\n' ? 1 : 0;
  return lines;
}

// Names under <run>/checkpoints.
std::vector<std::string> CheckpointEntries(const fs::path& run) {
  std::vector<std::string> names;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run / "checkpoints", ec)) {
    names.push_back(entry.path().filename().string());
  }
  std::sort(names.begin(), names.end());
  return names;
}

// The seed of the kill points: SIMSCALE_TEST_KILL_SEED if set (to repeat a failure), else a fresh
// one. Printed either way.
uint64_t KillSeed() {
  const char* given = std::getenv("SIMSCALE_TEST_KILL_SEED");
  const uint64_t seed = given != nullptr ? std::stoull(given) : std::random_device{}();
  std::printf("kill points drawn from seed %llu (repeat with SIMSCALE_TEST_KILL_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

class RecoveryTest : public testing::TrainDatasetTest {
 protected:
  // train_ddp's arguments (without a launcher): a small BC with dropout and an EMA, a metrics line
  // every step (the progress signal), a checkpoint every 10 steps, the newest 3 kept.
  static std::vector<std::string> Arguments(const fs::path& run, const std::string& tool,
                                            const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {ToolPath(tool),
                                     "--dataset",
                                     dataset_.string(),
                                     "--output",
                                     run.string(),
                                     "--steps",
                                     std::to_string(kSteps),
                                     "--set",
                                     "train.batch_size=32",
                                     "--set",
                                     "train.checkpoint_every=10",
                                     "--set",
                                     "train.keep_checkpoints=3",
                                     "--set",
                                     "train.log_every=1",
                                     "--set",
                                     "train.warmup_steps=5",
                                     "--set",
                                     "train.ema_decay=0.9",
                                     "--set",
                                     "model.bc.hidden_dim=64",
                                     "--set",
                                     "model.bc.dropout=0.2",
                                     "--log.level",
                                     "warn"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  static std::vector<std::string> Launch(int ranks, std::vector<std::string> args) {
    if (ranks == 1) return args;
    std::vector<std::string> full = testing_support::MpiRunArgs(ranks);
    full.insert(full.end(), args.begin(), args.end());
    return full;
  }
  static std::string Command(const std::vector<std::string>& argv) {
    std::string command;
    for (const auto& a : argv) command += a + " ";
    return command;
  }
  // Runs to the end; returns the output.
  static std::string RunToEnd(int ranks, const fs::path& run, const std::string& tool,
                              const std::vector<std::string>& extra = {}) {
    const auto result = RunProcess(Command(Launch(ranks, Arguments(run, tool, extra))), 300);
    EXPECT_EQ(result.exit_code, 0) << result.output;
    return result.output;
  }
};

// SIGKILLs (one rank of) a run once its metrics file has `lines` lines; returns the lines then.
int KillAfterLines(BackgroundProcess* train, int ranks, const fs::path& run, int lines,
                   std::mt19937_64* random) {
  const fs::path metrics = run / "metrics.jsonl";
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (train->running() && CompleteLines(metrics) < lines &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  EXPECT_TRUE(train->running()) << "the run ended before its kill point, line " << lines << "\n"
                                << train->output();
  pid_t victim = train->pid();
  if (ranks > 1) {
    const auto children = testing_support::ChildProcesses(train->pid());
    EXPECT_EQ(children.size(), static_cast<size_t>(ranks)) << "ranks started by mpirun";
    if (!children.empty()) victim = children[(*random)() % children.size()];
  }
  ::kill(victim, SIGKILL);
  const int at = CompleteLines(metrics);
  EXPECT_NE(train->Wait(120), 0) << train->output();
  return at;
}

class HardKillTest : public RecoveryTest, public ::testing::WithParamInterface<int> {};

TEST_P(HardKillTest, SigkillAtRandomStepsThenResumeEqualsTheUninterruptedRunBitForBit) {
  const int ranks = GetParam();
  const fs::path full = dir_ / ("kill_full" + std::to_string(ranks));
  const fs::path split = dir_ / ("kill_split" + std::to_string(ranks));
  RunToEnd(ranks, full, "train_ddp");
  std::mt19937_64 random(KillSeed());
  // Two kills at increasing random steps, each run resumed from the newest complete checkpoint.
  std::uniform_int_distribution<int> first(12, kSteps / 2), second(kSteps / 2 + 12, kSteps - 25);
  for (const int lines : {first(random), second(random)}) {
    BackgroundProcess train(Launch(ranks, Arguments(split, "train_ddp", {"--resume"})),
                            split.string() + ".log");
    const int at = KillAfterLines(&train, ranks, split, lines, &random);
    std::printf("%d rank(s): killed with SIGKILL at metrics line %d (kill point %d)\n", ranks, at,
                lines);
  }
  const std::string resumed = RunToEnd(ranks, split, "train_ddp", {"--resume"});
  EXPECT_GT(testing::ExpectCheckpointsEqual(full / kFinal, split / kFinal), 0) << resumed;
  // Keep-last-3: the newest three checkpoints and their EMA siblings, nothing else.
  EXPECT_EQ(
      CheckpointEntries(split),
      (std::vector<std::string>{"ema_step_000000100", "ema_step_000000110", "ema_step_000000120",
                                "step_000000100", "step_000000110", "step_000000120"}));
  EXPECT_EQ(CompleteLines(split / "metrics.jsonl"), kSteps) << "one line per step, as one run";
}

INSTANTIATE_TEST_SUITE_P(Ranks, HardKillTest, ::testing::Values(1, 2));

TEST_F(RecoveryTest, KillDuringACheckpointWriteLeavesAPartialOneThatResumeIgnoresAndReports) {
  const fs::path full = dir_ / "write_kill_full";
  const fs::path split = dir_ / "write_kill_split";
  RunToEnd(1, full, "train_ddp");
  // SIGKILL inside the write of step 20's checkpoint: files written, no completion marker.
  const auto killed = RunProcess(
      Command(Arguments(split, "train_ddp_faults", {"--fault.kill_in_checkpoint", "20"})), 300);
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.output;
  std::string partial;
  for (const auto& name : CheckpointEntries(split)) {
    if (name.rfind("step_000000020.tmp-", 0) == 0) partial = name;
  }
  ASSERT_FALSE(partial.empty()) << "no partial checkpoint of step 20";
  EXPECT_TRUE(fs::exists(split / "checkpoints" / partial / "model.pt"));
  EXPECT_FALSE(fs::exists(split / "checkpoints" / partial / models::kCheckpointMarker));
  // The production tool resumes from step 10, reporting (and removing) the partial write.
  const std::string resumed = RunToEnd(1, split, "train_ddp", {"--resume"});
  EXPECT_NE(resumed.find("ignoring " + (split / "checkpoints" / partial).string()),
            std::string::npos)
      << resumed;
  EXPECT_NE(resumed.find("ema_step_000000020"), std::string::npos)
      << "the EMA checkpoint of step 20 (complete, its main one is not) is reported too\n"
      << resumed;
  EXPECT_FALSE(fs::exists(split / "checkpoints" / partial));
  EXPECT_GT(testing::ExpectCheckpointsEqual(full / kFinal, split / kFinal), 0);
}

TEST_F(RecoveryTest, FullDiskStopsEveryRankWithThePathAndResumeCompletesOnceSpaceIsFree) {
  const fs::path mount = dir_ / "tmpfs";
  TmpfsMount tmpfs(mount, 16 << 10);
  if (!tmpfs.mounted()) GTEST_SKIP() << "cannot mount a tmpfs (needs root): " << tmpfs.error();
  const fs::path run = mount / "run";
  // Metrics rarely (the checkpoint write is what meets the full disk).
  const std::vector<std::string> extra = {"--set", "train.log_every=100000"};
  BackgroundProcess train(Launch(2, Arguments(run, "train_ddp", extra)), dir_ / "full_disk.log");
  // Once the first checkpoint is complete, the disk fills up under the running job.
  const fs::path first = run / "checkpoints/step_000000010" / models::kCheckpointMarker;
  for (int i = 0; i < 24000 && train.running() && !fs::exists(first); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  ASSERT_TRUE(train.running()) << train.output();
  FillDisk(mount / "filler");
  const auto start = std::chrono::steady_clock::now();
  const int code = train.Wait(120);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("the job stopped %.1f s after the disk filled up\n", seconds);
  EXPECT_NE(code, 0) << train.output();
  EXPECT_NE(code, -1) << "still running 120 s after the disk filled up\n" << train.output();
  const std::string output = train.output();
  EXPECT_NE(output.find("cannot write checkpoint '" + run.string() + "/checkpoints/"),
            std::string::npos)
      << output;
  EXPECT_NE(output.find("No space left on device"), std::string::npos) << output;
  // Every complete checkpoint loads; nothing of the failed write is left.
  int complete = 0;
  for (const auto& name : CheckpointEntries(run)) {
    EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    const fs::path path = run / "checkpoints" / name;
    if (!models::IsCompleteCheckpoint(path)) continue;
    EXPECT_NO_THROW(models::LoadCheckpoint(path)) << path;
    ++complete;
  }
  EXPECT_GE(complete, 2) << "step 10 and its EMA";
  fs::remove(mount / "filler");
  RunToEnd(2, run, "train_ddp", {"--set", "train.log_every=100000", "--resume"});
  EXPECT_TRUE(models::IsCompleteCheckpoint(run / kFinal));
}

}  // namespace
}  // namespace simscale::train
