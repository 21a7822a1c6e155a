#pragma once

#include <cstdint>
#include <vector>

#include "common/envs/policy.h"
#include "common/sim/robot_env.h"

// The one episode loop of the toolkit (datagen_mpi records with it, evaluate scores with it,
// ppo_vec's vector env steps the same envs) and the rule that keys an episode's randomness.
namespace simscale::rollout {

// Which episode to play: env.Reset(seed, index) draws the task layout, domain randomization,
// sensor noise and policy noise from (seed, index, purpose) streams, so an episode is the same on
// any rank, thread or DR condition. An episode list (datagen, evaluate) uses the run seed and the
// global episode index; a vector env uses VectorEnvEpisode.
struct EpisodeKey {
  uint64_t seed = 0;
  uint64_t index = 0;
};

// The n-th episode of env k (global index over all ranks) of a vector env seeded `run_seed`: its
// own seed per env, the episode counter as the index. Env k's episodes do not depend on how the
// envs are split over ranks or threads.
EpisodeKey VectorEnvEpisode(uint64_t run_seed, int64_t global_env_index, int64_t counter);

struct EpisodeSummary {
  int64_t length = 0;
  bool success = false;
  bool diverged = false;
  double episode_return = 0.0;
  double step_seconds = 0.0;  // in the policy and the env (reset included), not in observers
};

// Sees an episode as it is played. Every hook has a do-nothing default.
class EpisodeObserver {
 public:
  virtual ~EpisodeObserver() = default;
  // After env.Reset and policy.Reset: the first observation.
  virtual void OnReset(const sim::RobotEnv& /*env*/, EpisodeKey /*key*/) {}
  // The policy chose `action` in the current state; env.Step comes next.
  virtual void BeforeStep(const sim::RobotEnv& /*env*/, const envs::Policy& /*policy*/,
                          const double* /*action*/) {}
  // After env.Step: the result and the new observation.
  virtual void AfterStep(const sim::RobotEnv& /*env*/, const sim::StepResult& /*result*/) {}
  virtual void OnEnd(const sim::RobotEnv& /*env*/, const EpisodeSummary& /*summary*/) {}
};

// Plays one whole episode: reset env and policy, then act and step until the episode ends
// (terminated or truncated), calling the observers in order at each point.
EpisodeSummary RunEpisode(sim::RobotEnv& env, envs::Policy& policy, EpisodeKey key,
                          const std::vector<EpisodeObserver*>& observers = {});

}  // namespace simscale::rollout
