// datagen_mpi: roll out a policy in MuJoCo envs on many ranks into one HDF5 dataset.
#include "bin/datagen_mpi/datagen.h"

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::datagen::DatagenConfig config;
    simscale::config::Schema schema(
        "datagen_mpi", "roll out a policy in MuJoCo envs on many MPI ranks into one HDF5 dataset");
    simscale::datagen::DeclareOptions(&schema, &config);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    return simscale::datagen::Run(config, schema, context.world());
  });
}
