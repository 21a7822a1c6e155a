#pragma once

#include <memory>
#include <string>
#include <vector>

#include "bin/datagen_mpi/datagen_config.h"
#include "common/envs/policy.h"
#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"
#include "common/sim/renderer.h"
#include "common/sim/robot_env.h"

namespace simscale::datagen {

// The store layout of a run: actions, rewards, dones, states; obs/<slice> for each observation
// slice (float32), obs/<camera>_image (uint8 HxWx3) and obs/<camera>_depth (float32 HxW).
io::StoreLayout MakeLayout(const sim::RobotEnv& env, const DatagenConfig& config,
                           const std::string& resolved_config_yaml);

// Builds the policy named by the config: "scripted", "random", or a checkpoint directory.
std::unique_ptr<envs::Policy> MakePolicy(const DatagenConfig& config);

// Simulates whole episodes on this rank and turns them into store records. The content of an
// episode depends only on (seed, episode index, config), never on the rank that simulates it.
class EpisodeGenerator {
 public:
  explicit EpisodeGenerator(const DatagenConfig& config);
  io::EpisodeRecord Generate(int64_t episode_index);
  const sim::RobotEnv& env() const { return *env_; }
  double simulation_seconds() const { return simulation_seconds_; }
  double render_seconds() const { return render_seconds_; }
  int64_t steps() const { return steps_; }
  std::string renderer_description() const;

 private:
  void RecordObservation();

  DatagenConfig config_;
  std::unique_ptr<sim::RobotEnv> env_;
  std::unique_ptr<envs::Policy> policy_;
  std::unique_ptr<sim::Renderer> renderer_;
  std::vector<int> camera_ids_;
  // Per-episode buffers, reused across episodes.
  std::vector<float> actions_, rewards_, observations_;
  std::vector<uint8_t> dones_;
  std::vector<double> states_;
  std::vector<std::vector<uint8_t>> images_;
  std::vector<std::vector<float>> depths_;
  sim::CameraImage frame_;
  double simulation_seconds_ = 0.0;
  double render_seconds_ = 0.0;
  int64_t steps_ = 0;
};

// Runs datagen_mpi with a parsed configuration; returns the process exit code.
int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::datagen
