// The gradient the trainer applies at N ranks is the gradient of the global batch: each rank's
// share goes through the trainer's real path (its loss weight, the gradient buckets, the MPI
// all-reduce), and the sum must equal plain autograd of the global batch's mean loss on one
// process, to floating-point regrouping tolerance. BC and VLA (a camera and language), with
// accumulation and bf16. Run by ctest at 1, 2 and 3 ranks (3: uneven shares). Also: a run with an
// EMA, stopped and resumed, ends with the tensors of an uninterrupted one.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <ostream>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "bin/train_ddp/train.h"
#include "common/models/checkpoint.h"
#include "common/models/compat.h"
#include "common/mpi/mpi.h"
#include "common/train/loader.h"
#include "common/train/trainer.h"
#include "tests/train/checkpoint_compare.h"

namespace simscale::train {
namespace {
namespace fs = std::filesystem;

// Written by the ctest fixture train.grad_dataset: 6 reach episodes with an agentview camera
// (16x16) and an instruction each.
const fs::path kDataset = fs::path(SIMSCALE_BINARY_DIR) / "train_grad_reach.h5";
constexpr uint64_t kSeed = 11;

mpi::Communicator World() { return mpi::Communicator(MPI_COMM_WORLD); }

struct GradientCase {
  std::string model;  // bc | vla
  Precision precision;
  int64_t accumulation;
  // Allowed norm of the difference per parameter, relative to the norm of its gradient. fp32: only
  // the grouping of sums differs. bf16: autocast rounds each matmul's output to 8 mantissa bits,
  // and a different batch split rounds different partial sums.
  double tolerance;
};

void PrintTo(const GradientCase& c, std::ostream* out) {
  *out << c.model << " " << ToString(c.precision) << ", " << c.accumulation
       << " micro-batch(es), tolerance " << c.tolerance;
}

std::string CaseName(const ::testing::TestParamInfo<GradientCase>& info) {
  return info.param.model + (info.param.precision == Precision::kBf16 ? "_bf16" : "_fp32") +
         "_accumulation" + std::to_string(info.param.accumulation);
}

// A small model with the same weights on every rank and at every call. Dropout is off where
// gradients are compared across rank counts: its masks are drawn per rank by design.
std::shared_ptr<models::Policy> MakeSmallModel(const std::string& name,
                                               const TrajectoryDataset& dataset,
                                               double dropout = 0.0) {
  models::ModelOptions options;
  options.spec.state_dim = dataset.state_dim();
  options.spec.action_dim = dataset.action_dim();
  options.spec.policy.env = dataset.env_name();
  options.spec.policy.state_keys = dataset.state_keys();
  options.spec.policy.history = 1;
  options.bc.hidden_dim = 32;
  options.bc.dropout = dropout;
  options.vla.dropout = dropout;
  options.vla.embed_dim = 32;
  options.vla.num_heads = 2;
  options.vla.num_layers = 1;
  options.vla.language_layers = 1;
  options.vla.max_text_len = 32;
  options.head.hidden_dim = 32;
  const bool vla = name.rfind("vla", 0) == 0;
  if (vla) {
    options.spec.policy.cameras = {"agentview"};
    options.spec.policy.image_size = 16;
    options.spec.policy.uses_language = true;
  }
  // "vla_keypoints": the workstation pixel VLA's parts (keypoint stem with FiLM from the word bag,
  // chunks of 4).
  if (name == "vla_keypoints") {
    options.vla.stem = "keypoints";
    options.vla.keypoints = 8;
    options.vla.film = true;
    options.spec.policy.action_horizon = 4;
  }
  torch::manual_seed(kSeed);
  auto model = models::MakeModel(vla ? "vla" : name, options);
  model->SetNormalization(ComputeNormalization(dataset, World(), "std"));
  return model;
}

std::shared_ptr<TrajectoryDataset> OpenDataset(const std::string& model) {
  DatasetOptions options;
  options.split = "all";
  if (model.rfind("vla", 0) == 0) {
    options.cameras = {"agentview"};
    options.language = true;
  }
  if (model == "vla_keypoints") options.action_horizon = 4;
  return std::make_shared<TrajectoryDataset>(kDataset, options);
}

TrainerOptions SmallOptions(const GradientCase& c) {
  TrainerOptions o;
  o.batch_size = 20;  // 3 ranks: 7/7/6; with 2 micro-batches of 10: 4/3/3
  o.grad_accumulation = c.accumulation;
  o.precision = c.precision;
  o.grad_clip = 0.0;  // the buckets keep the summed gradient as it was
  o.warmup_steps = 0;
  o.device = Device::kCpu;
  o.allreduce = AllReduceBackend::kMpi;
  o.prefetch = 1;
  o.seed = kSeed;
  o.max_text_len = 32;
  o.progress_interval = 1e6;
  return o;
}

// The gradient of the mean loss over the first global batch, by plain autograd on this process.
std::vector<torch::Tensor> ReferenceGradients(models::Policy& model,
                                              const TrajectoryDataset& dataset,
                                              const TrainerOptions& o) {
  const int64_t micro_batch = o.batch_size / o.grad_accumulation;
  ShardedSampler sampler(dataset.num_samples(), micro_batch, o.seed, /*rank=*/0, /*world=*/1);
  BatchConverter converter(dataset, o.max_text_len, model.spec().policy.image_size);
  model.train();
  model.zero_grad();
  LoaderPosition position;
  for (int64_t micro = 0; micro < o.grad_accumulation; ++micro) {
    const std::vector<int64_t> samples = sampler.Local(position);
    HostBatch host;
    dataset.Gather(samples.data(), static_cast<int64_t>(samples.size()), &host);
    const models::Batch batch = converter.Convert(host);
    const models::AutocastGuard autocast(c10::DeviceType::CPU, o.precision == Precision::kBf16);
    const torch::Tensor loss = model.Forward(batch).loss;
    (loss / static_cast<double>(o.grad_accumulation)).backward();
    position = sampler.Next(position);
  }
  std::vector<torch::Tensor> gradients;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) gradients.push_back(p.grad().clone());
  }
  return gradients;
}

// A run directory every rank agrees on, per rank count (ctest may run the counts in parallel).
fs::path RunDirectory(const std::string& name) {
  return fs::temp_directory_path() /
         ("simscale_grad_" + name + "_np" + std::to_string(World().size()));
}

class GradientTest : public ::testing::TestWithParam<GradientCase> {};

TEST_P(GradientTest, AllReducedGradientEqualsTheOneProcessGradientOfTheGlobalBatch) {
  const GradientCase& c = GetParam();
  const auto dataset = OpenDataset(c.model);
  const TrainerOptions options = SmallOptions(c);
  auto reference_model = MakeSmallModel(c.model, *dataset);
  const std::vector<torch::Tensor> reference =
      ReferenceGradients(*reference_model, *dataset, options);

  // One optimizer step of the trainer at this rank count; with clipping off its gradient buckets
  // (every .grad is a view into them) keep the all-reduced gradient after the update.
  const fs::path run = RunDirectory(CaseName(::testing::TestParamInfo<GradientCase>(c, 0)));
  TrainerOptions one_step = options;
  one_step.steps = 1;
  Trainer trainer(MakeSmallModel(c.model, *dataset), dataset, nullptr, one_step, World(), run,
                  "{}");
  trainer.Train();
  std::vector<torch::Tensor> summed;
  for (const auto& p : trainer.model().parameters()) {
    if (p.requires_grad()) summed.push_back(p.grad());
  }
  ASSERT_EQ(summed.size(), reference.size());
  double worst = 0.0;
  for (size_t i = 0; i < summed.size(); ++i) {
    const double scale = reference[i].norm().item<double>();
    const double difference = (summed[i] - reference[i]).norm().item<double>();
    if (scale > 0) worst = std::max(worst, difference / scale);
    // The floor is for gradients that are zero but for rounding: the keypoint stem's last bias
    // shifts a softmax's logits uniformly (gradient ~1e-10, any split rounds it differently).
    EXPECT_LE(difference, c.tolerance * scale + 1e-9)
        << "parameter " << i << " " << reference[i].sizes() << ": gradient norm " << scale
        << ", norm of the difference " << difference << " at " << World().size() << " rank(s)";
  }
  if (World().is_root()) {
    std::printf("%d rank(s): largest difference %.3g of a parameter's gradient norm\n",
                World().size(), worst);
  }
  World().Barrier();
  if (World().is_root()) fs::remove_all(run);
}

INSTANTIATE_TEST_SUITE_P(Models, GradientTest,
                         ::testing::Values(GradientCase{"bc", Precision::kFp32, 1, 1e-5},
                                           GradientCase{"bc", Precision::kFp32, 2, 1e-5},
                                           GradientCase{"vla", Precision::kFp32, 1, 1e-5},
                                           GradientCase{"vla", Precision::kFp32, 2, 1e-5},
                                           GradientCase{"bc", Precision::kBf16, 2, 3e-2},
                                           GradientCase{"vla", Precision::kBf16, 2, 1e-1},
                                           GradientCase{"vla_keypoints", Precision::kFp32, 1,
                                                        1e-5}),
                         CaseName);

// A VLA run with dropout and an EMA, stopped after step 3 (as a preemption does) and resumed by
// a new trainer, ends with the weights, optimizer state and EMA of an uninterrupted run.
TEST(EmaResume, StoppedAndResumedRunEndsWithTheUninterruptedTensors) {
  const auto dataset = OpenDataset("vla");
  TrainerOptions o = SmallOptions({"vla", Precision::kFp32, 2, 0});
  o.steps = 6;
  o.ema_decay = 0.8;
  o.checkpoint_every = 3;
  const fs::path full = RunDirectory("ema_full"), split = RunDirectory("ema_split");
  const auto with_dropout = [&] { return MakeSmallModel("vla", *dataset, /*dropout=*/0.2); };
  {
    Trainer trainer(with_dropout(), dataset, nullptr, o, World(), full, "{}");
    trainer.Train();
  }
  {
    TrainerOptions stopped = o;
    stopped.hooks.stop_before_step = [](int64_t step) { return step == 3; };
    Trainer trainer(with_dropout(), dataset, nullptr, stopped, World(), split, "{}");
    EXPECT_TRUE(trainer.Train().preempted);
  }
  Trainer resumed(with_dropout(), dataset, nullptr, o, World(), split, "{}");
  ASSERT_TRUE(resumed.Resume());
  EXPECT_EQ(resumed.state().step, 3);
  resumed.Train();
  const char* last = "checkpoints/step_000000006";
  ASSERT_TRUE(fs::exists(models::EmaCheckpointDirectory(full / last)));
  EXPECT_GT(testing::ExpectCheckpointsEqual(full / last, split / last), 0);
  World().Barrier();
  if (World().is_root()) {
    fs::remove_all(full);
    fs::remove_all(split);
  }
}

}  // namespace
}  // namespace simscale::train
