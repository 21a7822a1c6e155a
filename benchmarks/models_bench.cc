// Policy network throughput: BC and VLA forward passes, training steps (forward, loss, backward,
// AdamW) and inference, in fp32 and under bf16 autocast. Results and the Python baseline are in
// benchmarks/RESULTS.md ("Models").
//
//   OMP_NUM_THREADS=1 build/bin/models_bench --benchmark_repetitions=5
//       --benchmark_report_aggregates_only=true
//
// Arguments: batch size; kernels 1 = the default CPU path (oneDNN sgemm and fused kernels where
// available), 0 = plain LibTorch operations (OpenBLAS here), a baseline in the same run; fused 1 =
// FusedAdamW, 0 = torch::optim::AdamW.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "common/models/compat.h"
#include "common/models/layers.h"
#include "common/models/optimizer.h"
#include "common/models/policy.h"
#include "common/models/tokenizer.h"

namespace simscale::models {
namespace {

// The eight instruction templates of the original train_vla pipeline.
const std::vector<std::string> kInstructions = {
    "pick up the red block and place it at the green target",
    "grasp the red cube and move it to the target location",
    "pick the block and put it on the target",
    "move the red object to the green marker",
    "grab the cube and place it at the goal",
    "lift the red block then set it on the target",
    "pick up the object and transport it to the target zone",
    "grasp and relocate the red block to the green spot"};

ModelOptions BcBenchOptions() {
  ModelOptions options;  // the original's defaults: state 20, action 4, hidden 256, 3 layers
  options.spec.state_dim = 20;
  options.spec.action_dim = 4;
  return options;
}

ModelOptions VlaBenchOptions() {
  ModelOptions options;  // the original's 1.4M train_vla model
  options.spec.state_dim = 28;
  options.spec.action_dim = 4;
  options.spec.policy.cameras = {"front"};
  options.spec.policy.image_size = 64;
  options.spec.policy.uses_language = true;
  return options;
}

Batch MakeBatch(const ModelSpec& spec, int64_t batch, bool with_actions) {
  torch::manual_seed(0);
  Batch b;
  if (spec.state_dim > 0) b.state = torch::randn({batch, spec.state_dim});
  for (const auto& camera : spec.policy.cameras) {
    b.images[camera] = torch::rand({batch, 3, spec.policy.image_size, spec.policy.image_size});
  }
  if (spec.policy.uses_language) {
    std::vector<std::string> texts;
    for (int64_t i = 0; i < batch; ++i) texts.push_back(kInstructions[i % kInstructions.size()]);
    const auto tokenized = CharTokenizer(64).Encode(texts);
    b.language_tokens = tokenized.tokens;
    b.language_mask = tokenized.mask;
  }
  if (with_actions) {
    b.actions = torch::rand({batch, spec.policy.action_horizon, spec.action_dim}) * 2 - 1;
    if (spec.policy.action_horizon == 1) b.actions = b.actions.squeeze(1);
  }
  return b;
}

// Selects the CPU kernels for the benchmark's duration.
class KernelChoice {
 public:
  explicit KernelChoice(int64_t use_default) {
    SetCpuKernels(use_default != 0 ? CpuKernels::kAuto : CpuKernels::kTorch);
  }
  ~KernelChoice() { SetCpuKernels(CpuKernels::kAuto); }
};

std::unique_ptr<torch::optim::Optimizer> MakeOptimizer(Policy& model, bool fused) {
  const auto options = torch::optim::AdamWOptions(1e-4).weight_decay(0.01);
  if (fused) return std::make_unique<FusedAdamW>(model.parameters(), options);
  return std::make_unique<torch::optim::AdamW>(model.parameters(), options);
}

void Forward(benchmark::State& state, const ModelOptions& options, bool bf16) {
  const int64_t batch = state.range(0);
  KernelChoice kernels(state.range(1));
  auto model = MakeModel("bc", options);
  model->train();
  const Batch b = MakeBatch(model->spec(), batch, /*with_actions=*/true);
  for (auto _ : state) {
    AutocastGuard autocast(c10::DeviceType::CPU, bf16);
    auto out = model->Forward(b);
    benchmark::DoNotOptimize(out.loss.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void TrainStep(benchmark::State& state, const std::string& name, const ModelOptions& options,
               bool bf16) {
  const int64_t batch = state.range(0);
  KernelChoice kernels(state.range(1));
  auto model = MakeModel(name, options);
  model->train();
  auto optimizer = MakeOptimizer(*model, state.range(2) != 0);
  const Batch b = MakeBatch(model->spec(), batch, /*with_actions=*/true);
  for (auto _ : state) {
    model->zero_grad(/*set_to_none=*/true);  // new gradients are taken over, not added to zeros
    torch::Tensor loss;
    {
      AutocastGuard autocast(c10::DeviceType::CPU, bf16);
      loss = model->Forward(b).loss;
    }
    loss.backward();
    optimizer->step();
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void Predict(benchmark::State& state, const std::string& name, const ModelOptions& options,
             bool bf16) {
  const int64_t batch = state.range(0);
  KernelChoice kernels(state.range(1));
  auto model = MakeModel(name, options);
  const Batch b = MakeBatch(model->spec(), batch, /*with_actions=*/false);
  for (auto _ : state) {
    AutocastGuard autocast(c10::DeviceType::CPU, bf16);
    auto actions = model->Predict(b);
    benchmark::DoNotOptimize(actions.data_ptr());
  }
  state.SetItemsProcessed(state.iterations() * batch);
}

void BM_BcForward(benchmark::State& state) { Forward(state, BcBenchOptions(), false); }
void BM_BcForwardBf16(benchmark::State& state) { Forward(state, BcBenchOptions(), true); }
void BM_BcTrainStep(benchmark::State& state) { TrainStep(state, "bc", BcBenchOptions(), false); }
void BM_BcTrainStepBf16(benchmark::State& state) { TrainStep(state, "bc", BcBenchOptions(), true); }
void BM_VlaTrainStep(benchmark::State& state) { TrainStep(state, "vla", VlaBenchOptions(), false); }
void BM_VlaTrainStepBf16(benchmark::State& state) {
  TrainStep(state, "vla", VlaBenchOptions(), true);
}
void BM_BcPredict(benchmark::State& state) { Predict(state, "bc", BcBenchOptions(), false); }
void BM_VlaPredict(benchmark::State& state) { Predict(state, "vla", VlaBenchOptions(), false); }
void BM_VlaPredictBf16(benchmark::State& state) { Predict(state, "vla", VlaBenchOptions(), true); }

// BC with the diffusion head (4 residual blocks of width 256, T = 100): 10 DDIM steps.
ModelOptions BcDiffusionOptions() {
  ModelOptions options = BcBenchOptions();
  options.head.type = "diffusion";
  options.head.inference_steps = 10;
  return options;
}
void BM_DiffusionPredict(benchmark::State& state) {
  Predict(state, "bc", BcDiffusionOptions(), false);
}
void BM_DiffusionPredictBf16(benchmark::State& state) {
  Predict(state, "bc", BcDiffusionOptions(), true);
}

// {batch, kernels}
BENCHMARK(BM_BcForward)->ArgNames({"batch", "kernels"})->Args({32, 1})->Args({32, 0});
BENCHMARK(BM_BcForwardBf16)->ArgNames({"batch", "kernels"})->Args({32, 1});
// {batch, kernels, fused}
BENCHMARK(BM_BcTrainStep)
    ->ArgNames({"batch", "kernels", "fused"})
    ->Args({32, 1, 1})
    ->Args({32, 1, 0})
    ->Args({32, 0, 0})
    ->Args({256, 1, 1})
    ->Args({256, 1, 0})
    ->Args({256, 0, 0});
BENCHMARK(BM_BcTrainStepBf16)
    ->ArgNames({"batch", "kernels", "fused"})
    ->Args({32, 1, 1})
    ->Args({256, 1, 1});
BENCHMARK(BM_VlaTrainStep)
    ->ArgNames({"batch", "kernels", "fused"})
    ->Args({32, 1, 1})
    ->Args({32, 0, 0})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_VlaTrainStepBf16)
    ->ArgNames({"batch", "kernels", "fused"})
    ->Args({32, 1, 1})
    ->Unit(benchmark::kMillisecond);
BENCHMARK(BM_BcPredict)->ArgNames({"batch", "kernels"})->Args({1, 1})->Args({1, 0});
BENCHMARK(BM_VlaPredict)->ArgNames({"batch", "kernels"})->Args({1, 1})->Args({1, 0});
BENCHMARK(BM_VlaPredictBf16)->ArgNames({"batch", "kernels"})->Args({1, 1});
BENCHMARK(BM_DiffusionPredict)->ArgNames({"batch", "kernels"})->Args({1, 1})->Args({32, 1});
BENCHMARK(BM_DiffusionPredictBf16)->ArgNames({"batch", "kernels"})->Args({1, 1})->Args({32, 1});

}  // namespace
}  // namespace simscale::models

int main(int argc, char** argv) {
  // One thread unless OMP_NUM_THREADS says otherwise (LibTorch's default here is the core count
  // that cpuinfo reports).
  const char* threads = std::getenv("OMP_NUM_THREADS");
  at::set_num_threads(threads != nullptr ? std::max(1, std::atoi(threads)) : 1);
  const char* coretype = std::getenv("OPENBLAS_CORETYPE");
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::AddCustomContext("torch_version", simscale::models::TorchVersion());
  benchmark::AddCustomContext("cpu_kernels", simscale::models::CpuKernelsName());
  benchmark::AddCustomContext("OPENBLAS_CORETYPE", coretype != nullptr ? coretype : "(unset)");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
