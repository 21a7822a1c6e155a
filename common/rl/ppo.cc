#include "common/rl/ppo.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <utility>

#include "common/core/error.h"
#include "common/core/random.h"
#include "common/rl/gae.h"

namespace simscale::rl {
namespace {

constexpr int64_t kBucketBytes = 4 << 20;

torch::Tensor Rows(const std::vector<float>& data, int64_t rows, int64_t cols) {
  return torch::from_blob(const_cast<float*>(data.data()), {rows, cols}, torch::kFloat32).clone();
}

// Fisher-Yates over [0, size) from the (seed, update, epoch) stream: identical on every rank.
std::vector<int64_t> GlobalPermutation(int64_t size, uint64_t seed, int64_t update, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(size));
  std::iota(order.begin(), order.end(), 0);
  RandomStream stream(seed, Mix64(static_cast<uint64_t>(update)) ^ static_cast<uint64_t>(epoch),
                      StreamPurpose::kDataShuffle);
  for (int64_t i = size - 1; i > 0; --i) {
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(stream.UniformInt(0, i))]);
  }
  return order;
}

}  // namespace

// Sums over minibatches of the global minibatch means (each rank adds its share).
struct PpoLearner::MinibatchSums {
  double policy_loss = 0, value_loss = 0, approx_kl = 0, clip_fraction = 0, grad_norm = 0;
  int64_t applied = 0, skipped = 0;
};

PpoLearner::PpoLearner(ActorCritic model, const PpoOptions& options, const mpi::Communicator& comm,
                       int64_t first_env_index, int64_t local_envs, int64_t total_envs,
                       LearnerHooks hooks)
    : model_(std::move(model)),
      options_(options),
      comm_(comm),
      first_env_index_(first_env_index),
      local_envs_(local_envs),
      total_envs_(total_envs),
      hooks_(std::move(hooks)),
      nonfinite_(options.max_nonfinite, "ppo.max_nonfinite", "PPO minibatch step") {
  SIMSCALE_CHECK(options.epochs > 0 && options.minibatches > 0,
                 "PPO needs epochs {} > 0 and "
                 "minibatches {} > 0",
                 options.epochs, options.minibatches);
  sync_ = train::MakeMpiSync(comm);
  // Every rank starts from rank 0's weights.
  std::vector<torch::Tensor> parameters = model_->parameters();
  {
    torch::NoGradGuard no_grad;
    sync_->Broadcast(parameters, 0);
  }
  // Adam's eps as CleanRL (1e-5); no weight decay.
  optimizer_ = std::make_unique<models::FusedAdamW>(
      parameters, torch::optim::AdamWOptions(options.lr).eps(1e-5).weight_decay(0.0));
  grads_ = std::make_unique<train::GradientBuckets>(parameters, kBucketBytes);
}

PpoLearner::Batch PpoLearner::ToTensors(const RolloutBuffer& b) const {
  const int64_t n = b.steps * b.envs;
  return {Rows(b.observations, n, b.observation_size),
          model_->policy_actor().policy ? Rows(b.raw_observations, n, b.observation_size)
                                        : torch::Tensor(),
          Rows(b.actions, n, b.action_size),
          Rows(b.log_probs, n, 1).view({n}),
          Rows(b.values, n, 1).view({n}),
          Rows(b.advantages, n, 1).view({n}),
          Rows(b.returns, n, 1).view({n})};
}

std::vector<std::vector<int64_t>> PpoLearner::LocalMinibatches(int64_t steps, int64_t update,
                                                               int64_t epoch) const {
  const int64_t total = steps * total_envs_;
  const std::vector<int64_t> order = GlobalPermutation(total, options_.seed, update, epoch);
  std::vector<std::vector<int64_t>> minibatches(static_cast<size_t>(options_.minibatches));
  const int64_t size = total / options_.minibatches;
  for (int64_t j = 0; j < size * options_.minibatches; ++j) {
    const int64_t global = order[static_cast<size_t>(j)];
    const int64_t t = global / total_envs_, env = global % total_envs_ - first_env_index_;
    if (env < 0 || env >= local_envs_) continue;
    minibatches[static_cast<size_t>(j / size)].push_back(t * local_envs_ + env);
  }
  return minibatches;
}

torch::Tensor PpoLearner::NormalizedAdvantages(const torch::Tensor& advantages) const {
  // Mean and (unbiased) std over the global minibatch, as torch's .std() over CleanRL's.
  double moments[3] = {static_cast<double>(advantages.size(0)), advantages.sum().item<double>(),
                       advantages.square().sum().item<double>()};
  comm_.AllReduceInPlace(moments, 3, mpi::ReduceOp::kSum);
  const double count = moments[0], mean = moments[1] / count;
  const double var = std::max(0.0, (moments[2] - count * mean * mean) / std::max(1.0, count - 1));
  return (advantages - mean) / (std::sqrt(var) + 1e-8);
}

void PpoLearner::MinibatchStep(const Batch& batch, const std::vector<int64_t>& rows,
                               int64_t global_size, int64_t update, int64_t step_in_update,
                               MinibatchSums* sums) {
  const torch::Tensor index = torch::tensor(rows, torch::kInt64);
  torch::Tensor advantages = batch.advantages.index_select(0, index);
  if (options_.normalize_advantages) advantages = NormalizedAdvantages(advantages);
  const torch::Tensor observations = batch.observations.index_select(0, index);
  const torch::Tensor raw = batch.raw_observations.defined()
                                ? batch.raw_observations.index_select(0, index)
                                : torch::Tensor();
  const torch::Tensor mean = model_->ActionMean(observations, raw);
  const torch::Tensor log_ratio = model_->LogProb(mean, batch.actions.index_select(0, index)) -
                                  batch.log_probs.index_select(0, index);
  const torch::Tensor ratio = log_ratio.exp();
  const double eps = options_.clip_epsilon;
  const torch::Tensor policy_loss =
      torch::max(-advantages * ratio, -advantages * ratio.clamp(1 - eps, 1 + eps)).sum();
  const torch::Tensor value = model_->Value(observations);
  const torch::Tensor returns = batch.returns.index_select(0, index);
  torch::Tensor value_loss = (value - returns).square();
  if (options_.clip_value_loss) {
    const torch::Tensor old = batch.values.index_select(0, index);
    const torch::Tensor clipped = old + (value - old).clamp(-eps, eps);
    value_loss = torch::max(value_loss, (clipped - returns).square());
  }
  value_loss = 0.5 * value_loss.sum();
  // Each rank's sums over its samples divided by the GLOBAL minibatch size: the all-reduced sum
  // of the gradients is the gradient of the global minibatch mean. The entropy does not depend
  // on the state, so its mean is itself, weighted here by this rank's share.
  const double weight = 1.0 / static_cast<double>(global_size);
  const double share = static_cast<double>(rows.size()) * weight;
  torch::Tensor loss = options_.vf_coef * value_loss * weight;
  if (update > options_.actor_frozen_updates) {
    loss = loss + policy_loss * weight - options_.ent_coef * share * model_->Entropy();
  }
  if (hooks_.corrupt_loss && hooks_.corrupt_loss(update, step_in_update, comm_.rank())) {
    loss = loss * std::nan("");
  }
  grads_->Zero();
  loss.backward();
  sync_->AllReduceSum(grads_->buckets());
  const double norm = std::sqrt(grads_->SquaredNorm());
  // Both all-reduced, so every rank takes the same decision.
  const double global_loss = comm_.AllReduce(loss.item<double>(), mpi::ReduceOp::kSum);
  const int64_t step = ((update - 1) * options_.epochs * options_.minibatches) + step_in_update;
  if (!nonfinite_.Admit(step, global_loss, norm, last_checkpoint_)) {
    ++sums->skipped;
    return;
  }
  if (options_.max_grad_norm > 0 && norm > options_.max_grad_norm) {
    grads_->Scale(options_.max_grad_norm / (norm + 1e-6));  // as clip_grad_norm_
  }
  optimizer_->step();
  ++sums->applied;
  torch::NoGradGuard no_grad;
  sums->policy_loss += policy_loss.item<double>() * weight;
  sums->value_loss += value_loss.item<double>() * weight;
  sums->approx_kl += ((ratio - 1) - log_ratio).sum().item<double>() * weight;
  sums->clip_fraction += ((ratio - 1).abs() > eps).sum().item<double>() * weight;
  sums->grad_norm += norm;
}

double PpoLearner::EpochKl(double local_kl_sum, int64_t applied) const {
  // Each rank's share of every minibatch's mean, summed: all-reduced, the minibatch means' sum.
  const double sum = comm_.AllReduce(local_kl_sum, mpi::ReduceOp::kSum);
  return applied > 0 ? sum / static_cast<double>(applied) : 0.0;
}

double PpoLearner::ExplainedVariance(const RolloutBuffer& b) const {
  // 1 - Var[returns - values] / Var[returns] over every rank's samples.
  double s[5] = {static_cast<double>(b.returns.size()), 0, 0, 0, 0};
  for (size_t i = 0; i < b.returns.size(); ++i) {
    const double y = b.returns[i], d = y - b.values[i];
    s[1] += y;
    s[2] += y * y;
    s[3] += d;
    s[4] += d * d;
  }
  comm_.AllReduceInPlace(s, 5, mpi::ReduceOp::kSum);
  const double var_y = s[2] / s[0] - (s[1] / s[0]) * (s[1] / s[0]);
  const double var_d = s[4] / s[0] - (s[3] / s[0]) * (s[3] / s[0]);
  return var_y > 0 ? 1.0 - var_d / var_y : std::nan("");
}

UpdateMetrics PpoLearner::Update(RolloutBuffer* b, int64_t update, double lr) {
  SIMSCALE_CHECK(b->envs == local_envs_, "rollout of {} envs given to a learner of {}", b->envs,
                 local_envs_);
  GaeInput gae{b->steps,
               b->envs,
               b->rewards.data(),
               b->values.data(),
               b->terminated.data(),
               b->truncated.data(),
               b->final_values.data(),
               b->next_values.data(),
               options_.gamma,
               options_.gae_lambda};
  ComputeGae(gae, b->advantages.data(), b->returns.data());
  for (auto& group : optimizer_->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  const Batch batch = ToTensors(*b);
  const int64_t global_size = b->steps * total_envs_ / options_.minibatches;
  MinibatchSums sums;
  int64_t index = 0;
  int64_t epochs = 0;
  while (epochs < options_.epochs) {
    const double kl_before = sums.approx_kl;
    const int64_t applied_before = sums.applied;
    for (const auto& rows : LocalMinibatches(b->steps, update, epochs)) {
      MinibatchStep(batch, rows, global_size, update, index++, &sums);
    }
    ++epochs;
    if (options_.target_kl > 0 &&
        EpochKl(sums.approx_kl - kl_before, sums.applied - applied_before) > options_.target_kl) {
      break;  // CleanRL's early stop: the policy moved far enough from the one that collected
    }
  }
  double reduced[4] = {sums.policy_loss, sums.value_loss, sums.approx_kl, sums.clip_fraction};
  comm_.AllReduceInPlace(reduced, 4, mpi::ReduceOp::kSum);
  // Means over the applied steps (a skipped step's numbers are not finite).
  const double steps = static_cast<double>(std::max<int64_t>(1, sums.applied));
  UpdateMetrics m;
  m.nonfinite_skipped = sums.skipped;
  m.epochs = epochs;
  m.policy_loss = reduced[0] / steps;
  m.value_loss = reduced[1] / steps;
  m.approx_kl = reduced[2] / steps;
  m.clip_fraction = reduced[3] / steps;
  m.grad_norm = sums.grad_norm / steps;  // the same on every rank (reduced gradients)
  m.entropy = model_->Entropy().item<double>();
  m.explained_variance = ExplainedVariance(*b);
  return m;
}

}  // namespace simscale::rl
