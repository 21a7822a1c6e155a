#pragma once

#include "bin/ppo_vec/ppo_config.h"
#include "common/mpi/mpi.h"

namespace simscale::ppo {

int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::ppo
