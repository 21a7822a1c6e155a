#pragma once

#include "bin/evaluate/eval_config.h"
#include "common/mpi/mpi.h"

namespace simscale::eval {

int Run(const EvalConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::eval
