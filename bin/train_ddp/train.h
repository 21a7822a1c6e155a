#pragma once

#include "bin/train_ddp/train_config.h"
#include "common/mpi/mpi.h"

namespace simscale::train {

int Run(const TrainConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::train
