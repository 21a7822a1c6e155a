#pragma once

#include <cstdint>

// Generalized advantage estimation over a rollout of T steps of N envs, on plain arrays so it can
// be checked against hand-computed values without LibTorch.
namespace simscale::rl {

// Row-major [T, N] arrays: entry (t, n) is env n's t-th step of the rollout.
struct GaeInput {
  int64_t steps = 0;  // T
  int64_t envs = 0;   // N
  const float* rewards = nullptr;
  const float* values = nullptr;        // V(s_t)
  const uint8_t* terminated = nullptr;  // the step reached a terminal state: no bootstrap
  const uint8_t* truncated = nullptr;   // the episode was cut (time limit): bootstrap final_values
  const float* final_values = nullptr;  // V(last observation of the ended episode), where ended
  const float* next_values = nullptr;   // [N]: V(observation after the rollout's last step)
  double gamma = 0.99;
  double lambda = 0.95;
};

// Writes advantages and returns (= advantages + values), both [T, N]. The TD target of step t is
// r_t + gamma * V', where V' is 0 on termination, V(final observation) on truncation (the episode
// did not end, it was cut: DESIGN.md §4), V(s_{t+1}) otherwise (next_values at t = T - 1). The
// lambda-weighted sum of TD errors stops at an episode's end, so no advantage crosses an
// auto-reset.
void ComputeGae(const GaeInput& input, float* advantages, float* returns);

}  // namespace simscale::rl
