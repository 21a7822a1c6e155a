#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/normalizer.h"
#include "common/rollout/vector_env.h"
#include "common/train/nonfinite_guard.h"

namespace simscale::rl {

// A PPO checkpoint directory, <run_dir>/checkpoints/update_<9 digits>/ (the layout and the
// COMPLETE rule of common/models/checkpoint_layout.h):
//   model.pt      the actor-critic's parameters (torch::save of the module)
//   optimizer.pt  Adam's state (moments and step counts)
//   state.json    counters, env and observation keys, network sizes, observation and reward
//                 statistics, every env's progress (envs), the non-finite counts, the config
//   actor/        if the actor is a toolkit policy (ppo.init_actor): its own checkpoint (the
//                 format of common/models/checkpoint.h), which rebuilds it
//   COMPLETE      written last; the directory is written under a temporary name and renamed
// Nothing else is needed to continue exactly: exploration noise and minibatch order are drawn
// from streams keyed by (seed, update, ...), so no generator state is kept.
struct CheckpointState {
  int64_t update = 0;
  int64_t global_step = 0;
  std::string env;                            // the env trained in
  std::vector<std::string> observation_keys;  // its observation slices, in order (the whole
                                              // observation is the policy's input)
  double wall_seconds = 0;                    // training time up to the checkpoint
  train::NonFiniteCounts nonfinite;
};

// Where one env (by global index) stands for a resume: its episode's progress and the discounted
// return the reward scaler holds for it.
struct EnvState {
  rollout::EnvProgress progress;
  double discounted_return = 0;
};

// Collective: every rank's env states, by global index (on every rank).
std::vector<EnvState> GatherEnvStates(const mpi::Communicator& comm, const rollout::VectorEnv& env,
                                      const RewardScaler& rewards);
// Puts this rank's envs and their reward-scaler returns back from `all` (every env's, by global
// index; possibly saved at another rank count with the same total). InvalidArgumentError if the
// total does not match.
void RestoreEnvStates(const std::vector<EnvState>& all, rollout::VectorEnv* env,
                      RewardScaler* rewards);

// What a PPO checkpoint holds for acting: the actor (and critic), the observation statistics.
struct PolicyCheckpoint {
  ActorCritic model{nullptr};
  ObservationNormalizer observations{0, false};
  CheckpointState state;
};

// Reads a complete PPO checkpoint directory; malformed or missing files are InvalidArgumentErrors
// naming the directory.
PolicyCheckpoint LoadPolicyCheckpoint(const std::filesystem::path& dir);

// The directory of the policy actor's own checkpoint inside PPO checkpoint `dir`, if it has one.
std::optional<std::filesystem::path> PolicyActorCheckpoint(const std::filesystem::path& dir);

// What SaveCheckpoint writes besides the model and the optimizer.
struct TrainingState {
  CheckpointState state;
  const ObservationNormalizer* observations = nullptr;
  const RewardScaler* rewards = nullptr;
  std::vector<EnvState> envs;  // every rank's
  std::string config_yaml;
};

// Writes the checkpoint of update state.update (the caller is one rank) and returns its directory.
std::filesystem::path SaveCheckpoint(const std::filesystem::path& run_dir, ActorCritic model,
                                     const torch::optim::Optimizer& optimizer,
                                     const TrainingState& training);

// What a resume reads back; the model and the optimizer are loaded in place.
struct ResumedTraining {
  CheckpointState state;
  std::vector<EnvState> envs;
  std::string config_yaml;
};

// Loads checkpoint `dir` into `model`, `optimizer` and the statistics of `observations` and
// `rewards` (whose enabled flags must match the checkpoint's). InvalidArgumentError naming the
// directory and the file on any mismatch.
ResumedTraining LoadTrainingCheckpoint(const std::filesystem::path& dir, ActorCritic model,
                                       torch::optim::Optimizer* optimizer,
                                       ObservationNormalizer* observations, RewardScaler* rewards);

}  // namespace simscale::rl
