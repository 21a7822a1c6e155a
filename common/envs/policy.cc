#include "common/envs/policy.h"

#include <algorithm>

#include <fmt/format.h>

namespace simscale::envs {

void RandomPolicy::Reset(const sim::RobotEnv&, uint64_t seed, uint64_t episode_index) {
  stream_ = std::make_unique<RandomStream>(seed, episode_index, StreamPurpose::kRandomPolicy);
}

void RandomPolicy::Act(const sim::RobotEnv& env, double* action) {
  SIMSCALE_CHECK(stream_ != nullptr, "RandomPolicy::Act before Reset");
  for (int i = 0; i < env.action_spec().size(); ++i) action[i] = stream_->Uniform(-1.0, 1.0);
}

NoisyPolicy::NoisyPolicy(std::unique_ptr<Policy> inner, double stddev)
    : inner_(std::move(inner)), stddev_(stddev) {
  CheckArgument(stddev >= 0, "action noise", stddev, "a non-negative standard deviation");
}

void NoisyPolicy::Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) {
  inner_->Reset(env, seed, episode_index);
  stream_ = std::make_unique<RandomStream>(seed, episode_index, StreamPurpose::kPolicyNoise);
  offset_ = env.action_spec().Offset("ee_delta");
  size_ = env.action_spec().SizeOf("ee_delta");
  clean_.assign(static_cast<size_t>(env.action_spec().size()), 0.0);
}

void NoisyPolicy::Act(const sim::RobotEnv& env, double* action) {
  inner_->Act(env, action);
  std::copy(action, action + clean_.size(), clean_.begin());
  for (int i = offset_; i < offset_ + size_; ++i) {
    action[i] = std::clamp(action[i] + stddev_ * stream_->Normal(), -1.0, 1.0);
  }
}

std::string NoisyPolicy::name() const {
  return fmt::format("{}+noise({})", inner_->name(), stddev_);
}

}  // namespace simscale::envs
