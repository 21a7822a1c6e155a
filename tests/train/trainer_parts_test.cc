// The trainer's parts, one at a time: fp16 loss scaling and its state in a checkpoint, the
// non-finite guard, the metrics file of a resumed run, the trainer state's YAML.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/checkpoint.h"
#include "common/models/policy.h"
#include "common/train/augment.h"
#include "common/train/loss_scaler.h"
#include "common/train/metrics.h"
#include "common/train/nonfinite_guard.h"
#include "common/train/trainer_state.h"

namespace simscale::train {
namespace {
namespace fs = std::filesystem;

// A fresh directory per test (ctest runs the tests of this binary in parallel processes).
class TempDirectory {
 public:
  TempDirectory()
      : path_(fs::temp_directory_path() /
              ("simscale_train_parts_" + std::to_string(getpid()) + "_" +
               ::testing::UnitTest::GetInstance()->current_test_info()->name())) {
    fs::remove_all(path_);
    fs::create_directories(path_);
  }
  ~TempDirectory() { fs::remove_all(path_); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// Random shift: every image becomes a crop of itself padded with repeated edges, offsets vary
// over the batch, the trainer's per-step seed repeats them, and pad 0 changes nothing.
TEST(RandomShift, EachImageIsAnEdgePaddedCropAndTheSeedRepeatsIt) {
  constexpr int64_t kPad = 3, kSize = 12, kBatch = 16;
  torch::manual_seed(1);
  models::Batch original;
  original.images["agentview"] = torch::rand({kBatch, 3, kSize, kSize});
  original.images["wrist"] = torch::rand({kBatch, 3, kSize, kSize});

  models::Batch same = original;
  RandomShift(&same, 0);
  EXPECT_TRUE(torch::equal(same.images.at("agentview"), original.images.at("agentview")));

  auto shifted_with_seed = [&](uint64_t seed) {
    models::Batch b;
    for (const auto& [camera, images] : original.images) b.images[camera] = images.clone();
    torch::manual_seed(seed);
    RandomShift(&b, kPad);
    return b;
  };
  const models::Batch shifted = shifted_with_seed(7);
  EXPECT_TRUE(torch::equal(shifted.images.at("wrist"), shifted_with_seed(7).images.at("wrist")));
  EXPECT_FALSE(torch::equal(shifted.images.at("wrist"), shifted_with_seed(8).images.at("wrist")));

  namespace F = torch::nn::functional;
  for (const auto& [camera, images] : original.images) {
    const auto padded =
        F::pad(images, F::PadFuncOptions({kPad, kPad, kPad, kPad}).mode(torch::kReplicate));
    std::set<std::pair<int64_t, int64_t>> offsets;
    for (int64_t i = 0; i < kBatch; ++i) {
      const auto out = shifted.images.at(camera)[i];
      ASSERT_EQ(out.sizes(), images[i].sizes());
      bool found = false;
      for (int64_t dy = 0; dy <= 2 * kPad && !found; ++dy) {
        for (int64_t dx = 0; dx <= 2 * kPad && !found; ++dx) {
          if (torch::equal(out, padded[i].narrow(1, dy, kSize).narrow(2, dx, kSize))) {
            offsets.insert({dy, dx});
            found = true;
          }
        }
      }
      EXPECT_TRUE(found) << camera << " image " << i << " is not a crop of its padded self";
    }
    EXPECT_GT(offsets.size(), 4u) << camera << ": offsets barely vary";
  }
}

TEST(LossScaler, BacksOffOnNonFiniteStepsAndGrowsAfterAnIntervalOfFiniteOnes) {
  LossScaler scaler(/*enabled=*/true);
  EXPECT_EQ(scaler.scale(), LossScaler::kInitialScale);
  scaler.Update(false);
  scaler.Update(false);
  EXPECT_EQ(scaler.scale(), LossScaler::kInitialScale / 4);
  for (int64_t i = 0; i < LossScaler::kGrowthInterval - 1; ++i) scaler.Update(true);
  EXPECT_EQ(scaler.scale(), LossScaler::kInitialScale / 4);
  EXPECT_EQ(scaler.state().good_steps, LossScaler::kGrowthInterval - 1);
  scaler.Update(true);
  EXPECT_EQ(scaler.scale(), LossScaler::kInitialScale / 2);
  EXPECT_EQ(scaler.state().good_steps, 0);
  // Never below 1.
  for (int i = 0; i < 40; ++i) scaler.Update(false);
  EXPECT_EQ(scaler.scale(), 1.0);
}

TEST(LossScaler, DisabledKeepsScaleOneAndIgnoresSavedState) {
  LossScaler scaler(/*enabled=*/false);
  scaler.Update(false);
  scaler.Restore(LossScalerState{1024.0, 7});
  EXPECT_EQ(scaler.scale(), 1.0);
  EXPECT_EQ(scaler.state().good_steps, 0);
}

// The state a resumed fp16 run continues from is the one it had, not the initial scale: it goes
// into the checkpoint's metadata and comes back out of it.
TEST(LossScaler, StateRoundTripsThroughACheckpoint) {
  TempDirectory dir;
  LossScaler scaler(/*enabled=*/true);
  for (int i = 0; i < 5; ++i) scaler.Update(false);
  for (int i = 0; i < 123; ++i) scaler.Update(true);
  TrainerState state;
  state.step = 128;
  state.loss_scaler = scaler.state();

  models::ModelOptions options;
  options.spec.state_dim = 3;
  options.spec.action_dim = 2;
  options.bc.hidden_dim = 8;
  options.bc.num_layers = 1;
  const auto model = models::MakeModel("bc", options);
  models::CheckpointMetadata meta;
  meta.step = state.step;
  meta.extra = TrainerStateToYaml(state);
  const fs::path checkpoint = dir.path() / "step_000000128";
  models::SaveCheckpoint(checkpoint, *model, nullptr, meta);

  const TrainerState loaded =
      TrainerStateFromYaml(models::ReadCheckpointMetadata(checkpoint).extra, checkpoint.string());
  ASSERT_TRUE(loaded.loss_scaler.has_value());
  LossScaler resumed(/*enabled=*/true);
  resumed.Restore(*loaded.loss_scaler);
  EXPECT_EQ(resumed.scale(), LossScaler::kInitialScale / 32);
  EXPECT_EQ(resumed.state().good_steps, 123);
  // And it goes on exactly as the uninterrupted scaler does.
  for (int64_t i = 0; i < LossScaler::kGrowthInterval; ++i) {
    const bool finite = i % 700 != 699;
    scaler.Update(finite);
    resumed.Update(finite);
    ASSERT_EQ(resumed.scale(), scaler.scale()) << "update " << i;
    ASSERT_EQ(resumed.state().good_steps, scaler.state().good_steps) << "update " << i;
  }
}

TEST(TrainerState, YamlRoundTripsAndCheckpointsWithoutALossScaleStillLoad) {
  TrainerState state;
  state.step = 41;
  state.data = LoaderPosition{2, 9};
  state.nonfinite = NonFiniteCounts{3, 1};
  state.samples_seen = 41 * 64;
  const std::string yaml = TrainerStateToYaml(state);
  const TrainerState back = TrainerStateFromYaml(yaml, "test");
  EXPECT_EQ(back.step, 41);
  EXPECT_EQ(back.data, state.data);
  EXPECT_EQ(back.nonfinite.skipped, 3);
  EXPECT_EQ(back.nonfinite.in_a_row, 1);
  EXPECT_EQ(back.samples_seen, state.samples_seen);
  // fp32/bf16 runs (and checkpoints written before the scale was saved) have none.
  EXPECT_FALSE(back.loss_scaler.has_value());
  EXPECT_EQ(yaml.find("loss_scale"), std::string::npos) << yaml;
  try {
    TrainerStateFromYaml("step: 3\n", "checkpoints/step_000000003");
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoints/step_000000003: trainer state is not what "
                                         "this trainer wrote"),
              std::string::npos)
        << e.what();
  }
}

TEST(NonFiniteGuard, SkipsAndCountsNonFiniteStepsAndStopsAfterTooManyInARow) {
  NonFiniteGuard guard(/*max_in_a_row=*/3);
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(guard.Admit(1, 0.5, 1.0, ""));
  EXPECT_FALSE(guard.Admit(2, nan, 1.0, ""));
  EXPECT_FALSE(guard.Admit(3, 0.5, inf, ""));
  EXPECT_EQ(guard.counts().in_a_row, 2);
  EXPECT_TRUE(guard.Admit(4, 0.5, 1.0, ""));
  EXPECT_EQ(guard.counts().in_a_row, 0);
  EXPECT_EQ(guard.counts().skipped, 2);
  EXPECT_FALSE(guard.Admit(5, nan, nan, ""));
  EXPECT_FALSE(guard.Admit(6, nan, nan, ""));
  try {
    guard.Admit(7, nan, nan, "run/checkpoints/step_000000004");
    FAIL() << "expected Error";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "3 non-finite steps in a row (train.max_nonfinite); stopping. The last good "
              "checkpoint is run/checkpoints/step_000000004");
  }
  EXPECT_EQ(guard.counts().skipped, 5);
}

// The lines of a file, without their newlines.
std::vector<std::string> Lines(const fs::path& path) {
  std::vector<std::string> lines;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

TEST(MetricsWriter, AResumedRunKeepsTheLinesUpToItsStepInEitherFormat) {
  TempDirectory dir;
  for (const MetricsFormat format : {MetricsFormat::kJsonl, MetricsFormat::kCsv}) {
    const fs::path path = dir.path() / MetricsWriter::FileName(format);
    {
      MetricsWriter first(dir.path(), format, 0, true);
      for (int64_t step = 5; step <= 30; step += 5) {
        MetricsLine line;
        line.step = step;
        line.loss = 1.0 / static_cast<double>(step);
        first.Write(line);
      }
    }
    const std::vector<std::string> before = Lines(path);
    const size_t header = format == MetricsFormat::kCsv ? 1 : 0;
    ASSERT_EQ(before.size(), header + 6);
    // Resumed from the checkpoint at step 15: steps 20-30 are written again by the resumed run.
    { MetricsWriter resumed(dir.path(), format, 15, true); }
    EXPECT_EQ(Lines(path), std::vector<std::string>(before.begin(), before.begin() + header + 3));
    // A disabled writer (not rank 0) leaves the file alone.
    { MetricsWriter other_rank(dir.path(), format, 0, false); }
    EXPECT_EQ(Lines(path).size(), header + 3);
  }
  EXPECT_EQ(Lines(dir.path() / "metrics.csv").front(),
            "step,loss,lr,grad_norm,samples_per_s,data_wait_share,allreduce_share,skipped,"
            "valid_loss,valid_target_loss");
}

TEST(MetricsWriter, WritesTheValidationLossOnlyOnLinesThatHaveOne) {
  TempDirectory dir;
  for (const MetricsFormat format : {MetricsFormat::kJsonl, MetricsFormat::kCsv}) {
    {
      MetricsWriter writer(dir.path(), format, 0, true);
      MetricsLine line;
      line.step = 10;
      line.loss = 0.5;
      writer.Write(line);
      line.step = 20;
      line.valid_loss = 0.25;
      writer.Write(line);
      line.step = 30;
      line.valid_target_loss = 0.125;
      writer.Write(line);
    }
    const std::vector<std::string> lines = Lines(dir.path() / MetricsWriter::FileName(format));
    ASSERT_EQ(lines.size(), format == MetricsFormat::kCsv ? 4u : 3u);
    if (format == MetricsFormat::kCsv) {
      EXPECT_EQ(lines[1].substr(lines[1].size() - 2), ",,");
      EXPECT_EQ(lines[2].substr(lines[2].size() - 6), ",0.25,");
      EXPECT_EQ(lines[3].substr(lines[3].size() - 11), ",0.25,0.125");
    } else {
      EXPECT_EQ(lines[0].find("valid_loss"), std::string::npos);
      EXPECT_NE(lines[1].find("\"valid_loss\":0.25"), std::string::npos) << lines[1];
      EXPECT_EQ(lines[1].find("valid_target_loss"), std::string::npos) << lines[1];
      EXPECT_NE(lines[2].find("\"valid_target_loss\":0.125"), std::string::npos) << lines[2];
    }
  }
}

// What killed writes leave: a temporary, a checkpoint without its marker, an EMA checkpoint whose
// main one never completed. Complete checkpoints and their EMA siblings are not partial.
TEST(PartialCheckpoints, ListsWhatInterruptedWritesLeftAndNothingComplete) {
  TempDirectory dir;
  const fs::path root = dir.path() / "checkpoints";
  const auto make = [&](const std::string& name, bool complete) {
    fs::create_directories(root / name);
    WriteFileAtomic(root / name / "model.pt", "x");
    if (complete) WriteFileAtomic(root / name / models::kCheckpointMarker, "");
  };
  make("step_000000010", true);
  make("ema_step_000000010", true);
  make("step_000000020.tmp-host-42", false);
  make("ema_step_000000020", true);
  make("step_000000030", false);
  make("update_000000010", false);  // another prefix (ppo_vec's)
  const std::vector<fs::path> expected = {
      root / "ema_step_000000020", root / "step_000000020.tmp-host-42", root / "step_000000030"};
  EXPECT_EQ(models::PartialCheckpoints(dir.path()), expected);
  EXPECT_EQ(models::FindLatestCompleteCheckpoint(dir.path()), root / "step_000000010");
}

}  // namespace
}  // namespace simscale::train
