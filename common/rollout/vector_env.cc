#include "common/rollout/vector_env.h"

#include <algorithm>

#include "common/core/error.h"
#include "common/envs/registry.h"

namespace simscale::rollout {

VectorEnv::VectorEnv(VectorEnvOptions options)
    : options_(std::move(options)), pool_(options_.threads) {
  CheckArgument(options_.num_envs >= 1, "number of envs", options_.num_envs, "an integer >= 1");
  for (int64_t k = 0; k < options_.num_envs; ++k) {
    sim::EnvOptions env_options = options_.env_options;
    if (!options_.conditions.empty()) {
      const auto global = static_cast<size_t>(options_.first_env_index + k);
      env_options.randomization =
          sim::RandomizationCondition(options_.conditions[global % options_.conditions.size()]);
    }
    envs_.push_back(envs::MakeEnv(options_.env, env_options));
  }
  observation_size_ = envs_[0]->observation_spec().size();
  action_size_ = envs_[0]->action_spec().size();
  const auto n = static_cast<size_t>(options_.num_envs);
  counters_.assign(n, 0);
  returns_.assign(n, 0.0);
  observations_.assign(n * static_cast<size_t>(observation_size_), 0.0);
  final_observations_ = observations_;
  rewards_.assign(n, 0.0);
  terminated_.assign(n, 0);
  truncated_.assign(n, 0);
  per_env_ended_.assign(n, EndedEpisode{});
  per_env_done_.assign(n, 0);
}

VectorEnv::~VectorEnv() = default;

void VectorEnv::ResetEnv(size_t k) {
  const EpisodeKey key = VectorEnvEpisode(
      options_.seed, options_.first_env_index + static_cast<int64_t>(k), counters_[k]++);
  sim::RobotEnv& env = *envs_[k];
  env.Reset(key.seed, key.index);
  returns_[k] = 0.0;
  std::copy_n(env.observation(), observation_size_,
              observations_.begin() + static_cast<std::ptrdiff_t>(k * observation_size_));
}

void VectorEnv::Reset() {
  pool_.ParallelFor(size(), [&](int64_t k) { ResetEnv(static_cast<size_t>(k)); });
}

void VectorEnv::StepEnv(size_t k, const double* action) {
  sim::RobotEnv& env = *envs_[k];
  const sim::StepResult& result = env.Step(action);
  rewards_[k] = result.reward;
  terminated_[k] = result.terminated ? 1 : 0;
  truncated_[k] = result.truncated && !result.terminated ? 1 : 0;
  returns_[k] += result.reward;
  const auto row = static_cast<std::ptrdiff_t>(k * observation_size_);
  per_env_done_[k] = result.done() ? 1 : 0;
  if (!result.done()) {
    std::copy_n(env.observation(), observation_size_, observations_.begin() + row);
    return;
  }
  std::copy_n(env.observation(), observation_size_, final_observations_.begin() + row);
  EndedEpisode& ended = per_env_ended_[k];
  ended.env = static_cast<int64_t>(k);
  ended.length = result.step;
  ended.episode_return = returns_[k];
  ended.success = result.success;
  ended.terminated = result.terminated;
  ended.diverged = result.diverged;
  ResetEnv(k);
}

void VectorEnv::Step(const double* actions) {
  pool_.ParallelFor(
      size(), [&](int64_t k) { StepEnv(static_cast<size_t>(k), actions + k * action_size_); });
  ended_.clear();
  for (size_t k = 0; k < envs_.size(); ++k) {
    if (per_env_done_[k]) ended_.push_back(per_env_ended_[k]);
  }
}

}  // namespace simscale::rollout
