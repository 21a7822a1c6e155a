// train_ddp: data-parallel training of BC and VLA policies from an HDF5 dataset.
#include "bin/train_ddp/train.h"
#include "common/core/preemption.h"

int main(int argc, char** argv) {
  // First, before MPI and start-up: a SIGTERM/SIGUSR1 from here on ends in a checkpoint.
  simscale::preemption::InstallHandlers();
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::train::TrainConfig config;
    simscale::config::Schema schema(
        "train_ddp", "train BC / VLA policies data-parallel over MPI ranks from an HDF5 dataset");
    simscale::train::DeclareOptions(&schema, &config);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    return simscale::train::Run(config, schema, context.world());
  });
}
