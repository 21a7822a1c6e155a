#include "common/rl/rollout_buffer.h"

namespace simscale::rl {

RolloutBuffer::RolloutBuffer(int64_t steps_, int64_t envs_, int64_t observation_size_,
                             int64_t action_size_)
    : steps(steps_), envs(envs_), observation_size(observation_size_), action_size(action_size_) {
  const auto n = static_cast<size_t>(steps * envs);
  observations.resize(n * static_cast<size_t>(observation_size));
  raw_observations.resize(observations.size());
  actions.resize(n * static_cast<size_t>(action_size));
  for (auto* v : {&log_probs, &values, &rewards, &final_values, &advantages, &returns}) {
    v->resize(n);
  }
  terminated.resize(n);
  truncated.resize(n);
  next_values.resize(static_cast<size_t>(envs));
}

}  // namespace simscale::rl
