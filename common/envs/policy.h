#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/core/random.h"
#include "common/sim/robot_env.h"

namespace simscale::envs {

// Anything that chooses actions in an env: scripted experts, the seeded random policy, and (in
// common/eval) trained checkpoints. A policy reads what the env exposes (observation, instruction,
// and for vision policies its own renders of the env's state).
class Policy {
 public:
  virtual ~Policy() = default;
  // Called after env.Reset(seed, episode_index), before the first Act().
  virtual void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) = 0;
  // Writes env.action_spec().size() values.
  virtual void Act(const sim::RobotEnv& env, double* action) = 0;
  virtual std::string name() const = 0;
};

// Uniform actions in [-1, 1], from the (seed, episode, random_policy) stream: reproducible.
class RandomPolicy : public Policy {
 public:
  void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) override;
  void Act(const sim::RobotEnv& env, double* action) override;
  std::string name() const override { return "random"; }

 private:
  std::unique_ptr<RandomStream> stream_;
};

// Adds Gaussian noise (std in action units) to the end-effector part of another policy's actions,
// from the (seed, episode, policy_noise) stream: diverse but reproducible demonstrations. The
// inner policy's own action stays available as the label (DART-style data collection: the states
// are perturbed, the recorded actions are the expert's corrections).
class NoisyPolicy : public Policy {
 public:
  NoisyPolicy(std::unique_ptr<Policy> inner, double stddev);
  void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) override;
  void Act(const sim::RobotEnv& env, double* action) override;
  std::string name() const override;
  // The inner policy's action of the last Act() (before the noise).
  const std::vector<double>& clean_action() const { return clean_; }

 private:
  std::unique_ptr<Policy> inner_;
  double stddev_;
  std::unique_ptr<RandomStream> stream_;
  int offset_ = 0;  // the ee_delta slice of the action, resolved at Reset
  int size_ = 0;
  std::vector<double> clean_;
};

}  // namespace simscale::envs
