// The checkpoint format: round trips of model, normalisation, metadata and optimizer
// (hyper-parameters included), validation before assignment, completion markers, retention.
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/checkpoint.h"
#include "common/models/optimizer.h"
#include "tests/models/test_batches.h"

namespace simscale::models {
namespace {

namespace fs = std::filesystem;

class CheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           fmt::format("simscale_ckpt_{}_{}",
                       ::testing::UnitTest::GetInstance()->current_test_info()->name(), getpid());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  static ModelOptions BcOptions(int64_t hidden = 32) {
    ModelOptions o;
    o.spec.state_dim = 5;
    o.spec.action_dim = 2;
    o.bc.hidden_dim = hidden;
    o.bc.num_layers = 2;
    return o;
  }

  static void TrainOneStep(Policy& model, torch::optim::Optimizer& optimizer) {
    torch::manual_seed(11);
    const Batch batch = testing::RandomBatch(model.spec(), 8, true);
    optimizer.zero_grad();
    model.Forward(batch).loss.backward();
    optimizer.step();
  }

  fs::path dir_;
};

TEST_F(CheckpointTest, RoundTripRestoresModelNormalisationAndMetadata) {
  torch::manual_seed(1);
  auto model = MakeModel("bc", BcOptions());
  NormalizationStats stats;
  stats.state_mean = {1, 2, 3, 4, 5};
  stats.state_std = {2, 2, 2, 2, 0.5};
  stats.action_min = {-3, 0};
  stats.action_max = {3, 1};
  model->SetNormalization(stats);
  FusedAdamW optimizer(model->parameters(), torch::optim::AdamWOptions(1e-3));
  TrainOneStep(*model, optimizer);

  CheckpointMetadata meta;
  meta.step = 1234;
  meta.world_size = 4;
  meta.resolved_config = "train:\n  lr: 0.001\n  steps: 5000\n";
  meta.extra = "schedule: {step: 1234}\nrng: \"0xdeadbeef\"";  // no trailing newline
  const fs::path path = CheckpointDirectory(dir_, 1234);
  SaveCheckpoint(path, *model, &optimizer, meta);
  ASSERT_TRUE(IsCompleteCheckpoint(path));
  EXPECT_EQ(path.filename(), "step_000001234");

  CheckpointMetadata loaded_meta;
  auto loaded = LoadCheckpoint(path, &loaded_meta);
  EXPECT_EQ(loaded->name(), "bc");
  EXPECT_EQ(loaded_meta.step, 1234);
  EXPECT_EQ(loaded_meta.world_size, 4);
  EXPECT_EQ(loaded_meta.resolved_config, meta.resolved_config);
  EXPECT_EQ(loaded_meta.extra, meta.extra);
  EXPECT_EQ(loaded_meta.model_name, "bc");
  EXPECT_EQ(loaded_meta.model_options.bc.hidden_dim, 32);
  EXPECT_EQ(loaded_meta.normalization.state_mean, stats.state_mean);
  EXPECT_EQ(loaded_meta.torch_version.empty(), false);

  const auto original = model->named_parameters();
  for (const auto& item : loaded->named_parameters()) {
    EXPECT_TRUE(torch::equal(item.value(), original[item.key()])) << item.key();
  }
  EXPECT_EQ(loaded->normalization().state_std, model->normalization().state_std);
  Batch b;
  b.state = torch::randn({3, 5});
  EXPECT_TRUE(torch::equal(loaded->Predict(b), model->Predict(b)));
}

TEST_F(CheckpointTest, OptimizerStateAndHyperParametersRoundTrip) {
  torch::manual_seed(2);
  auto model = MakeModel("bc", BcOptions());
  const auto options =
      torch::optim::AdamWOptions(3e-4).betas({0.8, 0.95}).eps(1e-7).weight_decay(0.05);
  torch::optim::AdamW optimizer(model->parameters(), options);
  TrainOneStep(*model, optimizer);
  const fs::path path = CheckpointDirectory(dir_, 7);
  SaveCheckpoint(path, *model, &optimizer, {});

  auto restored_model = LoadCheckpoint(path);
  torch::optim::AdamW restored(restored_model->parameters(), torch::optim::AdamWOptions(1.0));
  LoadOptimizerState(path, &restored);
  const auto& o =
      static_cast<const torch::optim::AdamWOptions&>(restored.param_groups()[0].options());
  EXPECT_DOUBLE_EQ(o.lr(), 3e-4);  // LibTorch 1.13's own loader would leave 1.0
  EXPECT_DOUBLE_EQ(std::get<0>(o.betas()), 0.8);
  EXPECT_DOUBLE_EQ(std::get<1>(o.betas()), 0.95);
  EXPECT_DOUBLE_EQ(o.eps(), 1e-7);
  EXPECT_DOUBLE_EQ(o.weight_decay(), 0.05);

  // Continuing from the checkpoint gives the same parameters as continuing the original.
  TrainOneStep(*model, optimizer);
  TrainOneStep(*restored_model, restored);
  const auto expected = model->named_parameters();
  for (const auto& item : restored_model->named_parameters()) {
    EXPECT_LT((item.value() - expected[item.key()]).abs().max().item<double>(), 1e-7) << item.key();
  }
}

TEST_F(CheckpointTest, MismatchesAreReportedTogetherAndNothingIsAssigned) {
  torch::manual_seed(3);
  auto saved = MakeModel("bc", BcOptions(32));
  const fs::path path = CheckpointDirectory(dir_, 1);
  SaveCheckpoint(path, *saved, nullptr, {});

  auto other = MakeModel("bc", BcOptions(48));
  const auto before = other->named_parameters()["head.mlp.0.weight"].clone();
  try {
    LoadModelState(path, other.get());
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("option model.bc.hidden_dim: checkpoint 32, model 48"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("tensor state_encoder.0.weight: checkpoint [32, 5], model [48, 5]"),
              std::string::npos)
        << message;
    EXPECT_EQ(message.find("tensor head.mlp.2.bias"), std::string::npos);  // same shape
    EXPECT_NE(message.find("tensor head.mlp.0.weight"), std::string::npos) << message;
  }
  EXPECT_TRUE(torch::equal(other->named_parameters()["head.mlp.0.weight"], before));

  // An optimizer over different shapes is rejected before anything changes, too.
  torch::optim::AdamW wrong(other->parameters(), torch::optim::AdamWOptions(1e-3));
  torch::optim::AdamW right(saved->parameters(), torch::optim::AdamWOptions(1e-3));
  SaveCheckpoint(path, *saved, &right, {});
  try {
    LoadOptimizerState(path, &wrong);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(
        std::string(e.what()).find("group 0 parameter 0: checkpoint [32, 5], optimizer [48, 5]"),
        std::string::npos)
        << e.what();
  }
}

TEST_F(CheckpointTest, IncompleteAndUnknownVersionsAreRejected) {
  auto model = MakeModel("bc", BcOptions());
  const fs::path path = CheckpointDirectory(dir_, 5);
  SaveCheckpoint(path, *model, nullptr, {});
  fs::remove(path / kCheckpointMarker);
  EXPECT_FALSE(IsCompleteCheckpoint(path));
  EXPECT_FALSE(FindLatestCompleteCheckpoint(dir_).has_value());
  try {
    ReadCheckpointMetadata(path);
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("incomplete"), std::string::npos) << e.what();
  }

  SaveCheckpoint(path, *model, nullptr, {});
  std::string meta = ReadFile(path / "meta.yaml");
  meta.replace(meta.find("format_version: 2"), 17, "format_version: 99");
  WriteFileAtomic(path / "meta.yaml", meta);
  try {
    LoadCheckpoint(path);
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("format version 99 is not supported"), std::string::npos)
        << e.what();
  }
}

TEST_F(CheckpointTest, LatestCompleteCheckpointAndPruning) {
  auto model = MakeModel("bc", BcOptions());
  for (const int64_t step : {100, 300, 200}) {
    CheckpointMetadata meta;
    meta.step = step;
    SaveCheckpoint(CheckpointDirectory(dir_, step), *model, nullptr, meta);
  }
  // A temporary directory of an interrupted save and an incomplete newer one are ignored.
  fs::create_directories(dir_ / "checkpoints" / "step_000000400.tmp-host-1");
  fs::create_directories(dir_ / "checkpoints" / "step_000000500");
  ASSERT_TRUE(FindLatestCompleteCheckpoint(dir_).has_value());
  EXPECT_EQ(*FindLatestCompleteCheckpoint(dir_), CheckpointDirectory(dir_, 300));

  const auto removed = PruneCheckpoints(dir_, 2);
  ASSERT_EQ(removed.size(), 1u);
  EXPECT_EQ(removed[0], CheckpointDirectory(dir_, 100));
  EXPECT_FALSE(fs::exists(CheckpointDirectory(dir_, 100)));
  EXPECT_TRUE(IsCompleteCheckpoint(CheckpointDirectory(dir_, 200)));
  EXPECT_TRUE(fs::exists(dir_ / "checkpoints" / "step_000000500"));  // incomplete: left alone
  EXPECT_THROW(PruneCheckpoints(dir_, 0), InvalidArgumentError);
}

TEST_F(CheckpointTest, SavingAgainReplacesTheCheckpoint) {
  auto model = MakeModel("bc", BcOptions());
  const fs::path path = CheckpointDirectory(dir_, 9);
  CheckpointMetadata meta;
  meta.extra = "first";
  SaveCheckpoint(path, *model, nullptr, meta);
  meta.extra = "second";
  SaveCheckpoint(path, *model, nullptr, meta);
  EXPECT_EQ(ReadCheckpointMetadata(path).extra, "second");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(path.parent_path())) ++entries;
  EXPECT_EQ(entries, 1);  // no temporary or old copies left behind
}

TEST_F(CheckpointTest, VlaWithDiffusionHeadRoundTrips) {
  torch::manual_seed(4);
  ModelOptions o;
  o.spec.state_dim = 3;
  o.spec.action_dim = 2;
  o.spec.policy.action_horizon = 3;
  o.spec.policy.cameras = {"front", "wrist"};
  o.spec.policy.image_size = 32;
  o.spec.policy.uses_language = true;
  o.vla.embed_dim = 32;
  o.vla.num_heads = 2;
  o.vla.patch_size = 8;
  o.head.type = "diffusion";
  o.head.hidden_dim = 32;
  auto model = MakeModel("vla", o);
  const fs::path path = CheckpointDirectory(dir_, 3);
  SaveCheckpoint(path, *model, nullptr, {});
  auto loaded = LoadCheckpoint(path);
  const Batch b = testing::RandomBatch(o.spec, 2, false);
  torch::manual_seed(5);
  const auto expected = model->Predict(b);
  torch::manual_seed(5);
  EXPECT_TRUE(torch::equal(loaded->Predict(b), expected));
  EXPECT_EQ(loaded->ParameterCount(), model->ParameterCount());
}

}  // namespace
}  // namespace simscale::models
