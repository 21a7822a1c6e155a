#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/rl/actor_critic.h"
#include "common/rl/normalizer.h"

namespace simscale::rl {

// A PPO checkpoint directory, <run_dir>/checkpoints/update_<9 digits>/:
//   model.pt      the actor-critic's parameters (torch::save of the module)
//   optimizer.pt  Adam's state
//   state.json    update, env steps, env and observation keys, network sizes, observation and
//                 reward statistics, config
//   COMPLETE      written last; the directory is written under a temporary name and renamed
struct CheckpointState {
  int64_t update = 0;
  int64_t global_step = 0;
  std::string env;                            // the env trained in
  std::vector<std::string> observation_keys;  // its observation slices, in order (the whole
                                              // observation is the policy's input)
};

// What a PPO checkpoint holds for acting: the actor (and critic), the observation statistics.
struct PolicyCheckpoint {
  ActorCritic model{nullptr};
  ObservationNormalizer observations{0, false};
  CheckpointState state;
};

// Reads a complete PPO checkpoint directory; malformed or missing files are InvalidArgumentErrors
// naming the directory.
PolicyCheckpoint LoadPolicyCheckpoint(const std::filesystem::path& dir);

std::filesystem::path SaveCheckpoint(const std::filesystem::path& run_dir, ActorCritic model,
                                     torch::optim::Optimizer& optimizer,
                                     const ObservationNormalizer& observations,
                                     const RewardScaler& rewards, const CheckpointState& state,
                                     const std::string& config_yaml);

}  // namespace simscale::rl
