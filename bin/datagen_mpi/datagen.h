#pragma once

#include "bin/datagen_mpi/datagen_config.h"
#include "common/mpi/mpi.h"

namespace simscale::datagen {

// Runs datagen_mpi with a parsed configuration; returns the process exit code.
int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::datagen
