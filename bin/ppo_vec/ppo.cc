#include "bin/ppo_vec/ppo.h"

#include <filesystem>

#include "common/core/log.h"

namespace simscale::ppo {

int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const std::filesystem::path run_dir = config.run.output;
  app::WriteResolvedConfig(schema, comm, run_dir / "config.yaml");
  log::Info("ppo_vec: {} ranks x {} envs, env '{}', {} total steps -> {}", comm.size(),
            config.num_envs, config.env, config.total_steps, run_dir.string());
  log::Warn("ppo_vec: PPO is not implemented yet; only the configuration was resolved and written");
  return 0;
}

}  // namespace simscale::ppo
