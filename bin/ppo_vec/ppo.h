#pragma once

#include "bin/ppo_vec/ppo_config.h"
#include "common/mpi/mpi.h"

namespace simscale::ppo {

// A preemption signal (SIGTERM, SIGUSR1) ends the run after a checkpoint with this code.
inline constexpr int kPreemptedExitCode = 75;

// Collective. 0 after the last update and its checkpoint; kPreemptedExitCode when preempted.
int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::ppo
