#include "common/rl/ppo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <utility>

#include "common/core/error.h"
#include "common/core/random.h"
#include "common/rl/gae.h"

namespace simscale::rl {
namespace {

constexpr int64_t kBucketBytes = 4 << 20;

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
  double allreduce_seconds = 0;
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
  if (!model_->policy_actor().policy) gradient_ = std::make_unique<PpoGradient>(model_, options_);
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

MinibatchRows PpoLearner::Minibatch::View(int64_t rows) const {
  return {rows,          observations.data(), actions.data(), log_probs.data(),
          values.data(), advantages.data(),   returns.data()};
}

void PpoLearner::Gather(const RolloutBuffer& b, const std::vector<int64_t>& rows) {
  const auto n = static_cast<int64_t>(rows.size());
  const int64_t d = b.observation_size, a = b.action_size;
  Minibatch& m = minibatch_;
  const bool raw = model_->policy_actor().policy != nullptr;
  m.observations.resize(static_cast<size_t>(n * d));
  m.raw_observations.resize(raw ? static_cast<size_t>(n * d) : 0);
  m.actions.resize(static_cast<size_t>(n * a));
  for (auto* column : {&m.log_probs, &m.values, &m.advantages, &m.returns}) {
    column->resize(static_cast<size_t>(n));
  }
  for (int64_t i = 0; i < n; ++i) {
    const int64_t r = rows[static_cast<size_t>(i)];
    std::copy_n(b.observations.data() + r * d, d, m.observations.data() + i * d);
    if (raw) std::copy_n(b.raw_observations.data() + r * d, d, m.raw_observations.data() + i * d);
    std::copy_n(b.actions.data() + r * a, a, m.actions.data() + i * a);
    const auto from = static_cast<size_t>(r), to = static_cast<size_t>(i);
    m.log_probs[to] = b.log_probs[from];
    m.values[to] = b.values[from];
    m.advantages[to] = b.advantages[from];
    m.returns[to] = b.returns[from];
  }
}

void PpoLearner::NormalizeAdvantages(int64_t rows) {
  // Mean and (unbiased) std over the global minibatch, as torch's .std() over CleanRL's.
  float* advantages = minibatch_.advantages.data();
  double moments[3] = {static_cast<double>(rows), 0, 0};
  for (int64_t i = 0; i < rows; ++i) {
    moments[1] += advantages[i];
    moments[2] += static_cast<double>(advantages[i]) * advantages[i];
  }
  comm_.AllReduceInPlace(moments, 3, mpi::ReduceOp::kSum);
  const double count = moments[0], mean = moments[1] / count;
  const double var = std::max(0.0, (moments[2] - count * mean * mean) / std::max(1.0, count - 1));
  const auto shift = static_cast<float>(mean), scale = static_cast<float>(std::sqrt(var) + 1e-8);
  for (int64_t i = 0; i < rows; ++i) advantages[i] = (advantages[i] - shift) / scale;
}

void PpoLearner::MinibatchStep(const RolloutBuffer& buffer, const std::vector<int64_t>& rows,
                               int64_t global_size, int64_t update, int64_t step_in_update,
                               MinibatchSums* sums) {
  const auto count = static_cast<int64_t>(rows.size());
  Gather(buffer, rows);
  if (options_.normalize_advantages) NormalizeAdvantages(count);
  // Each rank's sums over its samples divided by the GLOBAL minibatch size: the all-reduced sum
  // of the gradients is the gradient of the global minibatch mean. The entropy does not depend
  // on the state, so its mean is itself, weighted here by this rank's share.
  const double weight = 1.0 / static_cast<double>(global_size);
  const double share = static_cast<double>(count) * weight;
  PpoLossSums loss = gradient_ ? gradient_->Compute(minibatch_.View(count), weight, share)
                               : AutogradGradient(count, weight, share);
  if (update <= options_.actor_frozen_updates) {
    // The critic alone learns: only the policy loss reaches the actor and the log-std.
    torch::NoGradGuard no_grad;
    for (auto& p : model_->ActorParameters()) p.mutable_grad().zero_();
  }
  if (hooks_.corrupt_loss && hooks_.corrupt_loss(update, step_in_update, comm_.rank())) {
    loss.policy_loss = std::nan("");
    torch::NoGradGuard no_grad;
    model_->parameters().front().mutable_grad().fill_(std::nan(""));
  }
  const double norm = ReduceGradients(sums);
  // The all-reduced gradient norm and loss (the same on every rank) decide, before the
  // parameters are touched.
  const double local_loss = (loss.policy_loss + options_.vf_coef * loss.value_loss) * weight;
  const double global_loss = comm_.AllReduce(local_loss, mpi::ReduceOp::kSum);
  const int64_t step = ((update - 1) * options_.epochs * options_.minibatches) + step_in_update;
  if (!nonfinite_.Admit(step, global_loss, norm, last_checkpoint_)) {
    ++sums->skipped;
    return;
  }
  ClipAndStep(norm);
  ++sums->applied;
  sums->policy_loss += loss.policy_loss * weight;
  sums->value_loss += loss.value_loss * weight;
  sums->approx_kl += loss.approx_kl * weight;
  sums->clip_fraction += loss.clip_fraction * weight;
  sums->grad_norm += norm;
}

PpoLossSums PpoLearner::AutogradGradient(int64_t rows, double weight, double share) {
  const Minibatch& m = minibatch_;
  const int64_t d = model_->options().observation_size, a = model_->options().action_size;
  const auto view = [rows](const std::vector<float>& v, int64_t cols) {
    return torch::from_blob(const_cast<float*>(v.data()), {rows, cols}, torch::kFloat32);
  };
  const torch::Tensor advantages = view(m.advantages, 1).view({rows});
  const torch::Tensor mean =
      model_->ActionMean(view(m.observations, d), view(m.raw_observations, d));
  const torch::Tensor log_ratio =
      model_->LogProb(mean, view(m.actions, a)) - view(m.log_probs, 1).view({rows});
  const torch::Tensor ratio = log_ratio.exp();
  const double eps = options_.clip_epsilon;
  const torch::Tensor policy_loss =
      torch::max(-advantages * ratio, -advantages * ratio.clamp(1 - eps, 1 + eps)).sum();
  const torch::Tensor value = model_->Value(view(m.observations, d));
  const torch::Tensor returns = view(m.returns, 1).view({rows});
  torch::Tensor value_loss = (value - returns).square();
  if (options_.clip_value_loss) {
    const torch::Tensor old = view(m.values, 1).view({rows});
    const torch::Tensor clipped = old + (value - old).clamp(-eps, eps);
    value_loss = torch::max(value_loss, (clipped - returns).square());
  }
  value_loss = 0.5 * value_loss.sum();
  const torch::Tensor loss = policy_loss * weight + options_.vf_coef * value_loss * weight -
                             options_.ent_coef * share * model_->Entropy();
  grads_->Zero();
  loss.backward();
  torch::NoGradGuard no_grad;
  PpoLossSums sums;
  sums.policy_loss = policy_loss.item<double>();
  sums.value_loss = value_loss.item<double>();
  sums.approx_kl = ((ratio - 1) - log_ratio).sum().item<double>();
  sums.clip_fraction = ((ratio - 1).abs() > eps).sum().item<double>();
  return sums;
}

double PpoLearner::ReduceGradients(MinibatchSums* sums) {
  const auto start = std::chrono::steady_clock::now();
  sync_->AllReduceSum(grads_->buckets());
  sums->allreduce_seconds +=
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return std::sqrt(grads_->SquaredNorm());
}

void PpoLearner::ClipAndStep(double norm) {
  double scale = 1.0;
  if (options_.max_grad_norm > 0 && norm > options_.max_grad_norm) {
    scale = options_.max_grad_norm / (norm + 1e-6);  // as clip_grad_norm_
  }
  optimizer_->StepScaled(scale);  // the clipping scale applied in the update's pass
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
  const int64_t global_size = b->steps * total_envs_ / options_.minibatches;
  MinibatchSums sums;
  int64_t index = 0;
  int64_t epochs = 0;
  while (epochs < options_.epochs) {
    const double kl_before = sums.approx_kl;
    const int64_t applied_before = sums.applied;
    for (const auto& rows : LocalMinibatches(b->steps, update, epochs)) {
      MinibatchStep(*b, rows, global_size, update, index++, &sums);
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
  m.allreduce_seconds = sums.allreduce_seconds;
  m.entropy = model_->Entropy().item<double>();
  m.explained_variance = ExplainedVariance(*b);
  return m;
}

}  // namespace simscale::rl
