#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include <torch/torch.h>

#include "common/rl/actor_critic.h"
#include "common/rl/normalizer.h"

namespace simscale::rl {

// A PPO checkpoint directory, <run_dir>/checkpoints/update_<9 digits>/:
//   model.pt      the actor-critic's parameters (torch::save of the module)
//   optimizer.pt  Adam's state
//   state.json    update, env steps, network sizes, observation and reward statistics, config
//   COMPLETE      written last; the directory is written under a temporary name and renamed
struct CheckpointState {
  int64_t update = 0;
  int64_t global_step = 0;
};

std::filesystem::path SaveCheckpoint(const std::filesystem::path& run_dir, ActorCritic model,
                                     torch::optim::Optimizer& optimizer,
                                     const ObservationNormalizer& observations,
                                     const RewardScaler& rewards, const CheckpointState& state,
                                     const std::string& config_yaml);

}  // namespace simscale::rl
