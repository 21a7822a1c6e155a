// PPO throughput: one rl::PpoLearner::Update against the same update written the obvious way
// with plain LibTorch (a baseline in the same run), the matrix products of one update alone (its
// FLOP floor), and env collection with and without the policy in the loop. Results are in
// benchmarks/RESULTS.md ("PPO").
//
//   build/bin/ppo_bench --benchmark_repetitions=5 --benchmark_report_aggregates_only=true
//
// Update arguments: hidden = width of the two tanh layers of actor and critic (256: the Python
// original's network; 64: CleanRL's default). Every update is 2048 transitions (128 steps x 16
// envs), 10 epochs x 32 minibatches of 64, observation 20, action 4, one LibTorch thread, one
// rank. Collection arguments: threads = env-stepping threads (16 envs).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>
#include <torch/torch.h>

#include "common/core/random.h"
#include "common/models/compat.h"
#include "common/models/layers.h"
#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/collector.h"
#include "common/rl/gae.h"
#include "common/rl/normalizer.h"
#include "common/rl/ppo.h"
#include "common/rl/rollout_buffer.h"
#include "common/rollout/vector_env.h"

namespace simscale::rl {
namespace {

constexpr int64_t kSteps = 128, kEnvs = 16, kObservation = 20, kAction = 4;
constexpr int64_t kEpochs = 10, kMinibatches = 32;
constexpr int64_t kSamples = kSteps * kEnvs, kMinibatchSize = kSamples / kMinibatches;

// A rollout of random data with some episode ends (the update's cost does not depend on values).
RolloutBuffer RandomRollout() {
  RolloutBuffer b(kSteps, kEnvs, kObservation, kAction);
  RandomStream stream(0, 0, StreamPurpose::kTest);
  const auto normal = [&](std::vector<float>* v, double scale) {
    for (float& x : *v) x = static_cast<float>(scale * stream.Normal());
  };
  normal(&b.observations, 1.0);
  normal(&b.actions, 1.0);
  normal(&b.values, 1.0);
  normal(&b.rewards, 1.0);
  normal(&b.final_values, 1.0);
  normal(&b.next_values, 1.0);
  // Old log-probabilities near those of the initial policy (std 1): ratios near 1, some clipped.
  for (float& x : b.log_probs) x = static_cast<float>(-5.7 + 0.3 * stream.Normal());
  for (size_t i = 0; i < b.terminated.size(); ++i) {
    b.terminated[i] = stream.Bernoulli(0.01) ? 1 : 0;
    b.truncated[i] = !b.terminated[i] && stream.Bernoulli(0.01) ? 1 : 0;
  }
  return b;
}

PpoOptions BenchPpoOptions() {
  PpoOptions o;  // CleanRL's ppo_continuous: clip 0.2, value clipping, vf 0.5, grad norm 0.5
  o.epochs = kEpochs;
  o.minibatches = kMinibatches;
  return o;
}

ActorCriticOptions BenchModelOptions(int64_t hidden) {
  ActorCriticOptions o;
  o.observation_size = kObservation;
  o.action_size = kAction;
  o.hidden = {hidden, hidden};
  return o;
}

// Copies of parameters, to start every iteration from the same weights.
std::vector<torch::Tensor> Snapshot(const std::vector<torch::Tensor>& parameters) {
  std::vector<torch::Tensor> copies;
  for (const auto& p : parameters) copies.push_back(p.detach().clone());
  return copies;
}

void Restore(const std::vector<torch::Tensor>& parameters, const std::vector<torch::Tensor>& from) {
  torch::NoGradGuard no_grad;
  for (size_t i = 0; i < parameters.size(); ++i) parameters[i].copy_(from[i]);
}

void SetUpdateCounters(benchmark::State& state) {
  state.SetItemsProcessed(state.iterations() * kSamples * kEpochs);  // samples through the loss
  state.counters["updates_per_s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

void PpoUpdate(benchmark::State& state, const mpi::Communicator& comm) {
  torch::manual_seed(0);
  ActorCritic model(BenchModelOptions(state.range(0)));
  PpoLearner learner(model, BenchPpoOptions(), comm, 0, kEnvs, kEnvs);
  RolloutBuffer rollout = RandomRollout();
  const std::vector<torch::Tensor> parameters = model->parameters();
  const std::vector<torch::Tensor> initial = Snapshot(parameters);
  double allreduce = 0;
  int64_t update = 0;
  for (auto _ : state) {
    state.PauseTiming();
    Restore(parameters, initial);
    state.ResumeTiming();
    const UpdateMetrics m = learner.Update(&rollout, ++update, BenchPpoOptions().lr);
    allreduce += m.allreduce_seconds;
    benchmark::DoNotOptimize(m.policy_loss);
  }
  SetUpdateCounters(state);
  state.counters["allreduce_ms"] = 1e3 * allreduce / static_cast<double>(state.iterations());
}

// --- The baseline: the same update written the obvious way with plain LibTorch ----------------

torch::nn::Sequential PlainMlp(int64_t in, int64_t hidden, int64_t out) {
  return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::Tanh(),
                               torch::nn::Linear(hidden, hidden), torch::nn::Tanh(),
                               torch::nn::Linear(hidden, out));
}

struct PlainData {
  torch::Tensor observations, actions, log_probs, values, advantages, returns;
};

PlainData PlainRollout() {
  RolloutBuffer b = RandomRollout();
  const PpoOptions o = BenchPpoOptions();
  ComputeGae(
      {kSteps, kEnvs, b.rewards.data(), b.values.data(), b.terminated.data(), b.truncated.data(),
       b.final_values.data(), b.next_values.data(), o.gamma, o.gae_lambda},
      b.advantages.data(), b.returns.data());
  const auto rows = [](std::vector<float>& v, int64_t cols) {
    return torch::from_blob(v.data(), {kSamples, cols}).clone().squeeze(-1);
  };
  return {rows(b.observations, kObservation),
          rows(b.actions, kAction),
          rows(b.log_probs, 1),
          rows(b.values, 1),
          rows(b.advantages, 1),
          rows(b.returns, 1)};
}

struct PlainModel {
  torch::nn::Sequential actor, critic;
  torch::Tensor log_std;
  std::vector<torch::Tensor> parameters() const {
    std::vector<torch::Tensor> all = actor->parameters();
    for (const auto& p : critic->parameters()) all.push_back(p);
    all.push_back(log_std);
    return all;
  }
};

// CleanRL's minibatch step (ppo_continuous_action.py), metrics included.
void PlainMinibatch(PlainModel& m, torch::optim::Adam& optimizer, const PlainData& d,
                    const torch::Tensor& index, const PpoOptions& o, double* kl, double* clipped) {
  const double eps = o.clip_epsilon;
  const torch::Tensor obs = d.observations.index_select(0, index);
  const torch::Tensor mean = m.actor->forward(obs);
  const torch::Tensor std = m.log_std.exp();
  const torch::Tensor z = (d.actions.index_select(0, index) - mean) / std;
  const torch::Tensor log_prob = (-0.5 * z.square() - m.log_std - 0.5 * std::log(2 * M_PI)).sum(-1);
  const torch::Tensor log_ratio = log_prob - d.log_probs.index_select(0, index);
  const torch::Tensor ratio = log_ratio.exp();
  {
    torch::NoGradGuard no_grad;
    *kl += ((ratio - 1) - log_ratio).mean().item<double>();
    *clipped += ((ratio - 1).abs() > eps).to(torch::kFloat32).mean().item<double>();
  }
  torch::Tensor adv = d.advantages.index_select(0, index);
  adv = (adv - adv.mean()) / (adv.std() + 1e-8);
  const torch::Tensor pg_loss = torch::max(-adv * ratio, -adv * ratio.clamp(1 - eps, 1 + eps));
  const torch::Tensor value = m.critic->forward(obs).view({-1});
  const torch::Tensor returns = d.returns.index_select(0, index);
  const torch::Tensor old = d.values.index_select(0, index);
  const torch::Tensor clipped_value = old + (value - old).clamp(-eps, eps);
  const torch::Tensor v_loss =
      0.5 * torch::max((value - returns).square(), (clipped_value - returns).square()).mean();
  const torch::Tensor entropy = (0.5 + 0.5 * std::log(2 * M_PI) + m.log_std).sum();
  const torch::Tensor loss = pg_loss.mean() - o.ent_coef * entropy + o.vf_coef * v_loss;
  optimizer.zero_grad();
  loss.backward();
  torch::nn::utils::clip_grad_norm_(m.parameters(), o.max_grad_norm);
  optimizer.step();
}

void PlainLibtorchUpdate(benchmark::State& state) {
  torch::manual_seed(0);
  const int64_t hidden = state.range(0);
  PlainModel m{PlainMlp(kObservation, hidden, kAction), PlainMlp(kObservation, hidden, 1),
               torch::zeros({kAction}, torch::requires_grad())};
  const PpoOptions options = BenchPpoOptions();
  torch::optim::Adam optimizer(m.parameters(), torch::optim::AdamOptions(options.lr).eps(1e-5));
  const PlainData data = PlainRollout();
  const std::vector<torch::Tensor> parameters = m.parameters();
  const std::vector<torch::Tensor> initial = Snapshot(parameters);
  for (auto _ : state) {
    state.PauseTiming();
    Restore(parameters, initial);
    state.ResumeTiming();
    double kl = 0, clipped = 0;
    for (int64_t epoch = 0; epoch < kEpochs; ++epoch) {
      const torch::Tensor order = torch::randperm(kSamples, torch::kInt64);
      for (int64_t start = 0; start < kSamples; start += kMinibatchSize) {
        PlainMinibatch(m, optimizer, data, order.slice(0, start, start + kMinibatchSize), options,
                       &kl, &clipped);
      }
    }
    benchmark::DoNotOptimize(kl);
  }
  SetUpdateCounters(state);
}

// --- The FLOP floor: the matrix products of one update, nothing else ---------------------------

// The products of one minibatch for one MLP of widths {in, hidden, hidden, out} at 64 rows:
// forward (3), weight gradients (3) and input gradients of the two upper layers (2).
struct MlpProducts {
  explicit MlpProducts(int64_t hidden, int64_t out) : widths{kObservation, hidden, hidden, out} {
    for (size_t l = 0; l < widths.size(); ++l) {
      activations.emplace_back(static_cast<size_t>(kMinibatchSize * widths[l]), 0.1f);
    }
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      weights.emplace_back(static_cast<size_t>(widths[l] * widths[l + 1]), 0.01f);
      weight_grads.emplace_back(weights.back().size(), 0.0f);
    }
  }
  double Flops() const {
    double macs = 0;
    for (size_t l = 0; l + 1 < widths.size(); ++l) {
      const double layer = static_cast<double>(kMinibatchSize * widths[l] * widths[l + 1]);
      macs += (l == 0 ? 2 : 3) * layer;
    }
    return 2 * macs;
  }
  std::vector<int64_t> widths;
  std::vector<std::vector<float>> activations, weights, weight_grads;
};

using Gemm =
    std::function<void(bool, bool, int64_t, int64_t, int64_t, const float*, const float*, float*)>;

// Row-major C (m x n) = op(A) op(B), dense operands, with at::mm on views of the same memory.
void TorchGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
               float* c) {
  const auto view = [](const float* p, int64_t rows, int64_t cols, bool t) {
    torch::Tensor x = torch::from_blob(const_cast<float*>(p), {rows, cols});
    return t ? x.t() : x;
  };
  torch::Tensor out = torch::from_blob(c, {m, n});
  at::mm_out(out, view(a, ta ? k : m, ta ? m : k, ta), view(b, tb ? n : k, tb ? k : n, tb));
}

void FusedGemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* a, const float* b,
               float* c) {
  models::CpuSgemm(ta, tb, m, n, k, 1.0f, a, ta ? m : k, b, tb ? k : n, 0.0f, c, n);
}

void RunProducts(MlpProducts& p, const Gemm& gemm) {
  const size_t layers = p.weights.size();
  for (size_t l = 0; l < layers; ++l) {  // forward: H_{l+1} = H_l W_l^T
    gemm(false, true, kMinibatchSize, p.widths[l + 1], p.widths[l], p.activations[l].data(),
         p.weights[l].data(), p.activations[l + 1].data());
  }
  for (size_t l = layers; l-- > 0;) {  // backward, with H_{l+1} standing in for dZ
    gemm(true, false, p.widths[l + 1], p.widths[l], kMinibatchSize, p.activations[l + 1].data(),
         p.activations[l].data(), p.weight_grads[l].data());
    if (l > 0) {
      gemm(false, false, kMinibatchSize, p.widths[l], p.widths[l + 1], p.activations[l + 1].data(),
           p.weights[l].data(), p.activations[l].data());
    }
  }
}

// Arguments: hidden, backend (1: models::CpuSgemm, the fused CPU path's sgemm; 0: at::mm).
void UpdateProducts(benchmark::State& state) {
  MlpProducts actor(state.range(0), kAction), critic(state.range(0), 1);
  const Gemm gemm = state.range(1) != 0 ? Gemm(FusedGemm) : Gemm(TorchGemm);
  for (auto _ : state) {
    for (int64_t step = 0; step < kEpochs * kMinibatches; ++step) {
      RunProducts(actor, gemm);
      RunProducts(critic, gemm);
    }
    benchmark::ClobberMemory();
  }
  const double flops = (actor.Flops() + critic.Flops()) * kEpochs * kMinibatches;
  state.counters["GFLOP_per_update"] = flops / 1e9;
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      flops * static_cast<double>(state.iterations()) / 1e9, benchmark::Counter::kIsRate);
}

// Peak single-core sgemm rate at a large square size: the "achievable" rate of this CPU.
void SgemmPeak(benchmark::State& state) {
  const int64_t n = state.range(0);
  std::vector<float> a(static_cast<size_t>(n * n), 0.5f), b(a), c(a.size());
  for (auto _ : state) {
    FusedGemm(false, false, n, n, n, a.data(), b.data(), c.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP_per_s"] = benchmark::Counter(
      2.0 * static_cast<double>(n * n * n) * static_cast<double>(state.iterations()) / 1e9,
      benchmark::Counter::kIsRate);
}

// --- Collection: raw vector-env stepping against the collector ---------------------------------

constexpr int64_t kCollectSteps = 16;  // vector-env steps per iteration

rollout::VectorEnvOptions BenchEnvOptions(const std::string& env, int64_t threads) {
  rollout::VectorEnvOptions o;
  o.env = env;
  o.env_options.max_episode_steps = 50;  // as configs/ppo_reach.yaml: episodes end and reset
  o.num_envs = kEnvs;
  o.seed = 1;
  o.threads = static_cast<int>(threads);
  return o;
}

void SetStepCounters(benchmark::State& state, int64_t vector_steps) {
  state.SetItemsProcessed(state.iterations() * vector_steps * kEnvs);
  state.counters["steps_per_s"] = benchmark::Counter(
      static_cast<double>(state.iterations() * vector_steps * kEnvs), benchmark::Counter::kIsRate);
}

// Random actions, uniform in the bounds; no policy.
void VectorEnvStep(benchmark::State& state, const std::string& env_name) {
  rollout::VectorEnv env(BenchEnvOptions(env_name, state.range(0)));
  env.Reset();
  RandomStream stream(1, 0, StreamPurpose::kRandomPolicy);
  std::vector<double> actions(static_cast<size_t>(env.size() * env.action_size()));
  for (auto _ : state) {
    for (int64_t t = 0; t < kCollectSteps; ++t) {
      for (double& a : actions) a = stream.Uniform(-1.0, 1.0);
      env.Step(actions.data());
    }
  }
  SetStepCounters(state, kCollectSteps);
}

// The policy in the loop (CleanRL's 2 x 64 actor-critic, ppo_vec's default): observation
// normalisation, reward scaling, sampling, values, buffer writes.
void Collect(benchmark::State& state, const std::string& env_name, const mpi::Communicator& comm) {
  rollout::VectorEnv env(BenchEnvOptions(env_name, state.range(0)));
  env.Reset();
  torch::manual_seed(0);
  ActorCriticOptions model_options;
  model_options.observation_size = env.observation_size();
  model_options.action_size = env.action_size();
  ActorCritic model(model_options);
  ObservationNormalizer normalizer(env.observation_size(), true);
  RewardScaler scaler(kEnvs, 0.99, true);
  RolloutCollector collector(&env, model, &normalizer, &scaler, 1, 0, kEnvs);
  RolloutBuffer buffer(kCollectSteps, kEnvs, env.observation_size(), env.action_size());
  EpisodeStats episodes;
  int64_t update = 0;
  for (auto _ : state) collector.Collect(comm, ++update, &buffer, &episodes);
  SetStepCounters(state, kCollectSteps);
}

void Register(const mpi::Communicator& comm) {
  benchmark::RegisterBenchmark("BM_PpoUpdate", [&comm](benchmark::State& s) { PpoUpdate(s, comm); })
      ->ArgName("hidden")
      ->Arg(256)
      ->Arg(64)
      ->MinTime(2.0)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_PlainLibtorchUpdate", PlainLibtorchUpdate)
      ->ArgName("hidden")
      ->Arg(256)
      ->Arg(64)
      ->MinTime(2.0)
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_UpdateMatmuls", UpdateProducts)
      ->ArgNames({"hidden", "sgemm"})
      ->Args({256, 1})
      ->Args({256, 0})
      ->Args({64, 1})
      ->Unit(benchmark::kMillisecond)
      ->UseRealTime();
  benchmark::RegisterBenchmark("BM_SgemmPeak", SgemmPeak)->ArgName("n")->Arg(1024)->UseRealTime();
  for (const std::string env : {"reach", "pick_place"}) {
    benchmark::RegisterBenchmark(("BM_VectorEnvStep/" + env).c_str(),
                                 [env](benchmark::State& s) { VectorEnvStep(s, env); })
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("BM_Collect/" + env).c_str(),
                                 [env, &comm](benchmark::State& s) { Collect(s, env, comm); })
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
  }
}

}  // namespace
}  // namespace simscale::rl

int main(int argc, char** argv) {
  simscale::mpi::Context context(&argc, &argv);  // one rank: the all-reduces are no-ops
  torch::set_num_threads(1);
  benchmark::AddCustomContext("torch_threads", std::to_string(at::get_num_threads()));
  benchmark::AddCustomContext("torch_version", simscale::models::TorchVersion());
  benchmark::AddCustomContext("cpu_kernels", simscale::models::CpuKernelsName());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  simscale::rl::Register(context.world());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
