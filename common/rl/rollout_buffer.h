#pragma once

#include <cstdint>
#include <vector>

// One rollout of T steps of this rank's N envs, what the PPO update learns from. Torch-free:
// row-major [T, N] (and [T, N, size]) arrays.
namespace simscale::rl {

struct RolloutBuffer {
  RolloutBuffer(int64_t steps, int64_t envs, int64_t observation_size, int64_t action_size);

  int64_t steps, envs, observation_size, action_size;
  std::vector<float> observations;      // normalised, as the policy saw them
  std::vector<float> raw_observations;  // the same, raw: filled only for a policy actor
  std::vector<float> actions;  // the Gaussian samples, before clipping to the action bounds
  std::vector<float> log_probs, values, rewards;  // rewards scaled as learned from
  std::vector<uint8_t> terminated, truncated;
  std::vector<float> final_values;  // V(last observation of an episode that ended at (t, n))
  std::vector<float> next_values;   // [N]: V(observation after the last step)
  std::vector<float> advantages, returns;
};

// Summary of the episodes that ended during rollouts (this rank's, or every rank's once reduced).
struct EpisodeStats {
  double episodes = 0, return_sum = 0, length_sum = 0, successes = 0;
};

}  // namespace simscale::rl
