// ppo_vec: PPO over vectorized envs, gradients all-reduced across ranks.
#include "bin/ppo_vec/ppo.h"
#include "common/core/preemption.h"

int main(int argc, char** argv) {
  // First, before MPI and start-up: a SIGTERM/SIGUSR1 from here on ends in a checkpoint.
  simscale::preemption::InstallHandlers();
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::ppo::PpoConfig config;
    simscale::config::Schema schema("ppo_vec",
                                    "PPO over vectorized MuJoCo envs, scaled across MPI ranks");
    simscale::ppo::DeclareOptions(&schema, &config);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    return simscale::ppo::Run(config, schema, context.world());
  });
}
