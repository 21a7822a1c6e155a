#pragma once

#include <cstdint>
#include <vector>

#include "common/core/random.h"
#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/normalizer.h"
#include "common/rl/rollout_buffer.h"
#include "common/rollout/vector_env.h"

namespace simscale::rl {

// Plays the policy in this rank's vector env for one rollout. Exploration noise of env k at
// update u is the stream (seed, u * total_envs + global index of k, policy noise): the same
// data for env k at any rank count, and a resumed run needs no generator state.
class RolloutCollector {
 public:
  RolloutCollector(rollout::VectorEnv* env, ActorCritic model, ObservationNormalizer* normalizer,
                   RewardScaler* scaler, uint64_t seed, int64_t first_env_index,
                   int64_t total_envs);

  // Fills `buffer` (its advantages and returns excepted), adds ended episodes to `episodes`.
  // Collective at the end: the normaliser statistics are merged over ranks.
  void Collect(const mpi::Communicator& comm, int64_t update, RolloutBuffer* buffer,
               EpisodeStats* episodes);

 private:
  // V of `raw` observations (N rows), normalised as the policy sees them.
  void Values(const std::vector<double>& raw, float* out);
  void Act(int64_t t, RolloutBuffer* buffer);

  rollout::VectorEnv* env_;
  ActorCritic model_;
  ObservationNormalizer* normalizer_;
  RewardScaler* scaler_;
  uint64_t seed_;
  int64_t first_env_index_, total_envs_;
  std::vector<double> raw_seen_;     // raw observations of the rollout, for the statistics
  std::vector<double> env_actions_;  // clipped to [-1, 1]
  std::vector<float> scratch_;
  std::vector<RandomStream> noise_;
};

}  // namespace simscale::rl
