#include "common/rollout/vector_env.h"

#include <algorithm>

#include <fmt/format.h>

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
  episode_actions_.assign(n, {});
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
  episode_actions_[k].clear();
  std::copy_n(env.observation(), observation_size_,
              observations_.begin() + static_cast<std::ptrdiff_t>(k * observation_size_));
}

void VectorEnv::Reset() {
  pool_.ParallelFor(size(), [&](int64_t k) { ResetEnv(static_cast<size_t>(k)); });
}

void VectorEnv::StepEnv(size_t k, const double* action) {
  sim::RobotEnv& env = *envs_[k];
  episode_actions_[k].insert(episode_actions_[k].end(), action, action + action_size_);
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

std::vector<EnvProgress> VectorEnv::Progress() const {
  std::vector<EnvProgress> progress(envs_.size());
  for (size_t k = 0; k < envs_.size(); ++k) {
    EnvProgress& p = progress[k];
    p.env = options_.first_env_index + static_cast<int64_t>(k);
    p.episodes_started = counters_[k];
    p.actions = episode_actions_[k];
    const auto row = observations_.begin() + static_cast<std::ptrdiff_t>(k * observation_size_);
    p.observation.assign(row, row + observation_size_);
  }
  return progress;
}

void VectorEnv::Replay(size_t k, const EnvProgress& p) {
  const int64_t steps = static_cast<int64_t>(p.actions.size()) / action_size_;
  counters_[k] = p.episodes_started - 1;
  ResetEnv(k);
  for (int64_t t = 0; t < steps; ++t) {
    StepEnv(k, p.actions.data() + t * action_size_);
    if (per_env_done_[k]) {
      throw Error(fmt::format("env {}: the replay of episode {} ended at step {} of {}", p.env,
                              p.episodes_started - 1, t + 1, steps));
    }
  }
  const auto row = observations_.begin() + static_cast<std::ptrdiff_t>(k * observation_size_);
  if (!std::equal(p.observation.begin(), p.observation.end(), row)) {
    throw Error(fmt::format(
        "env {}: the replay of episode {} ({} steps) does not reproduce the saved observation; the "
        "checkpoint was written by another build of the simulator",
        p.env, p.episodes_started - 1, steps));
  }
}

void VectorEnv::Restore(const std::vector<EnvProgress>& progress) {
  CheckArgument(progress.size() == envs_.size(), "envs in the saved progress", progress.size(),
                fmt::format("{} (this vector env's)", envs_.size()));
  for (size_t k = 0; k < envs_.size(); ++k) {
    const EnvProgress& p = progress[k];
    const int64_t global = options_.first_env_index + static_cast<int64_t>(k);
    CheckArgument(p.env == global, "global index of saved env", p.env, fmt::format("{}", global));
    CheckArgument(p.episodes_started >= 1, fmt::format("episodes started by env {}", p.env),
                  p.episodes_started, "an integer >= 1");
    CheckArgument(p.actions.size() % static_cast<size_t>(action_size_) == 0 &&
                      p.observation.size() == static_cast<size_t>(observation_size_),
                  fmt::format("saved action/observation sizes of env {}", p.env),
                  fmt::format("{}/{}", p.actions.size(), p.observation.size()),
                  fmt::format("a multiple of {} / {}", action_size_, observation_size_));
  }
  pool_.ParallelFor(
      size(), [&](int64_t k) { Replay(static_cast<size_t>(k), progress[static_cast<size_t>(k)]); });
  ended_.clear();
}

}  // namespace simscale::rollout
