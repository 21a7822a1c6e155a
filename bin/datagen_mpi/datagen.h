#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "bin/datagen_mpi/datagen_config.h"
#include "common/envs/policy.h"
#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"
#include "common/rollout/recorder.h"
#include "common/sim/robot_env.h"

namespace simscale::datagen {

// The store layout of a run: actions, rewards, dones, states; obs/<slice> for each observation
// slice (float32), obs/<camera>_image (uint8 HxWx3) and obs/<camera>_depth (float32 HxW).
io::StoreLayout MakeLayout(const sim::RobotEnv& env, const DatagenConfig& config,
                           const std::string& resolved_config_yaml);

// Builds the policy named by the config: "scripted", "random", or a checkpoint directory.
std::unique_ptr<envs::Policy> MakePolicy(const DatagenConfig& config);

// Plays whole episodes on this rank (rollout::RunEpisode) and records them as store records.
// The content of an episode depends only on (seed, episode index, config), never on the rank
// that simulates it.
class EpisodeGenerator {
 public:
  explicit EpisodeGenerator(const DatagenConfig& config);
  ~EpisodeGenerator();
  io::EpisodeRecord Generate(int64_t episode_index);
  const sim::RobotEnv& env() const { return *env_; }
  const rollout::EpisodeRecorder& recorder() const { return *recorder_; }
  double simulation_seconds() const { return simulation_seconds_; }
  int64_t steps() const { return steps_; }

 private:
  int64_t seed_;
  std::unique_ptr<sim::RobotEnv> env_;
  std::unique_ptr<envs::Policy> policy_;
  std::unique_ptr<rollout::EpisodeRecorder> recorder_;
  double simulation_seconds_ = 0.0;
  int64_t steps_ = 0;
};

// Faults injected by code, for crash/resume tests (tests/tools/datagen_mpi_faults.cc); the
// datagen_mpi tool passes none.
struct DatagenHooks {
  // Called by the store writer at each stage of a round (see io::StoreWriterOptions::fault_hook).
  std::function<void(std::string_view stage, int64_t round)> store_fault;
};

// Runs datagen_mpi with a parsed configuration; returns the process exit code.
int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm,
        const DatagenHooks& hooks = {});

}  // namespace simscale::datagen
