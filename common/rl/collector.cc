#include "common/rl/collector.h"

#include <algorithm>
#include <utility>

#include "common/core/random.h"

namespace simscale::rl {
namespace {

torch::Tensor FloatRows(float* data, int64_t rows, int64_t cols) {
  return torch::from_blob(data, {rows, cols}, torch::kFloat32);
}

}  // namespace

RolloutCollector::RolloutCollector(rollout::VectorEnv* env, ActorCritic model,
                                   ObservationNormalizer* normalizer, RewardScaler* scaler,
                                   uint64_t seed, int64_t first_env_index, int64_t total_envs)
    : env_(env),
      model_(std::move(model)),
      normalizer_(normalizer),
      scaler_(scaler),
      seed_(seed),
      first_env_index_(first_env_index),
      total_envs_(total_envs) {}

void RolloutCollector::Values(const std::vector<double>& raw, float* out) {
  const int64_t n = env_->size(), d = env_->observation_size();
  scratch_.resize(static_cast<size_t>(n * d));
  normalizer_->Normalize(raw.data(), n, scratch_.data());
  const torch::Tensor values = model_->Value(FloatRows(scratch_.data(), n, d)).contiguous();
  std::copy_n(values.data_ptr<float>(), n, out);
}

// Samples the actions of step t (the observations are already in the buffer) and steps the env.
void RolloutCollector::Act(int64_t t, RolloutBuffer* b) {
  const int64_t n = b->envs, d = b->observation_size, a = b->action_size;
  float* obs = b->observations.data() + t * n * d;
  float* actions = b->actions.data() + t * n * a;
  const torch::Tensor observations = FloatRows(obs, n, d);
  const torch::Tensor mean =
      model_->ActionMean(observations, FloatRows(b->raw_observations.data() + t * n * d, n, d));
  const torch::Tensor std = torch::exp(model_->log_std());
  std::vector<float> noise(static_cast<size_t>(n * a));
  for (size_t i = 0; i < noise.size(); ++i) {
    noise[i] = static_cast<float>(noise_[i / static_cast<size_t>(a)].Normal());
  }
  const torch::Tensor sample = (mean + std * FloatRows(noise.data(), n, a)).contiguous();
  std::copy_n(sample.data_ptr<float>(), n * a, actions);
  const torch::Tensor log_prob = model_->LogProb(mean, sample).contiguous();
  std::copy_n(log_prob.data_ptr<float>(), n, b->log_probs.data() + t * n);
  const torch::Tensor value = model_->Value(observations).contiguous();
  std::copy_n(value.data_ptr<float>(), n, b->values.data() + t * n);
  // The env gets the sample clipped to its bounds; the update scores the unclipped sample (as
  // CleanRL does), so the log-probabilities stay those of a Gaussian.
  env_actions_.resize(static_cast<size_t>(n * a));
  for (size_t i = 0; i < env_actions_.size(); ++i) {
    env_actions_[i] = std::clamp(static_cast<double>(actions[i]), -1.0, 1.0);
  }
}

void RolloutCollector::Collect(const mpi::Communicator& comm, int64_t update, RolloutBuffer* b,
                               EpisodeStats* episodes) {
  torch::NoGradGuard no_grad;
  const int64_t n = b->envs, d = b->observation_size;
  noise_.clear();
  for (int64_t k = 0; k < n; ++k) {
    const auto global = static_cast<uint64_t>(first_env_index_ + k);
    noise_.emplace_back(seed_, static_cast<uint64_t>(update * total_envs_) + global,
                        StreamPurpose::kPolicyNoise);
  }
  raw_seen_.clear();
  for (int64_t t = 0; t < b->steps; ++t) {
    const std::vector<double>& raw = env_->observations();
    raw_seen_.insert(raw_seen_.end(), raw.begin(), raw.end());
    if (model_->policy_actor().policy) {  // only a policy actor reads raw observations
      std::copy(raw.begin(), raw.end(), b->raw_observations.begin() + t * n * d);
    }
    normalizer_->Normalize(raw.data(), n, b->observations.data() + t * n * d);
    Act(t, b);
    env_->Step(env_actions_.data());
    const size_t row = static_cast<size_t>(t * n);
    scaler_->Scale(env_->rewards(), env_->terminated(), env_->truncated(), b->rewards.data() + row);
    std::copy(env_->terminated().begin(), env_->terminated().end(), b->terminated.begin() + row);
    std::copy(env_->truncated().begin(), env_->truncated().end(), b->truncated.begin() + row);
    if (!env_->ended().empty()) Values(env_->final_observations(), b->final_values.data() + row);
    for (const auto& e : env_->ended()) {
      episodes->episodes += 1;
      episodes->return_sum += e.episode_return;
      episodes->length_sum += static_cast<double>(e.length);
      episodes->successes += e.success ? 1 : 0;
    }
  }
  Values(env_->observations(), b->next_values.data());
  normalizer_->Update(comm, raw_seen_);
  scaler_->Update(comm);
}

}  // namespace simscale::rl
