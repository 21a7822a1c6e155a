#include "common/rl/gae.h"

#include "common/core/error.h"

namespace simscale::rl {

void ComputeGae(const GaeInput& in, float* advantages, float* returns) {
  SIMSCALE_CHECK(in.steps > 0 && in.envs > 0, "GAE over an empty rollout ({} x {})", in.steps,
                 in.envs);
  for (int64_t n = 0; n < in.envs; ++n) {
    double carried = 0.0;  // the advantage of step t + 1 of the same episode
    for (int64_t t = in.steps - 1; t >= 0; --t) {
      const int64_t i = t * in.envs + n;
      const bool ended = in.terminated[i] != 0 || in.truncated[i] != 0;
      double next_value = t + 1 < in.steps ? in.values[i + in.envs] : in.next_values[n];
      if (in.terminated[i] != 0) {
        next_value = 0.0;
      } else if (in.truncated[i] != 0) {
        next_value = in.final_values[i];
      }
      if (ended) carried = 0.0;
      const double delta = in.rewards[i] + in.gamma * next_value - in.values[i];
      carried = delta + in.gamma * in.lambda * carried;
      advantages[i] = static_cast<float>(carried);
      returns[i] = static_cast<float>(carried + in.values[i]);
    }
  }
}

}  // namespace simscale::rl
