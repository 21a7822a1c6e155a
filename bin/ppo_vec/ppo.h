#pragma once

#include <cstdint>
#include <functional>

#include "bin/ppo_vec/ppo_config.h"
#include "common/mpi/mpi.h"
#include "common/rl/ppo.h"

namespace simscale::ppo {

// A preemption signal (SIGTERM, SIGUSR1) ends the run after a checkpoint with this code.
inline constexpr int kPreemptedExitCode = 75;

// Fault injection, for the test tool only (tests/tools/ppo_vec_faults.cc).
struct PpoHooks {
  // Asked before update u starts: true stops the run as a preemption signal would.
  std::function<bool(int64_t)> stop_before_update;
  // Called once update u's rollout is collected, before it is learned from.
  std::function<void(int64_t)> after_collect;
  rl::LearnerHooks learner;
};

// Collective. 0 after the last update and its checkpoint; kPreemptedExitCode when preempted.
// With config.run.resume, continues from the newest complete checkpoint of the run directory
// exactly as if it had not stopped (or starts at update 1 if there is none).
int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm,
        const PpoHooks& hooks = {});

}  // namespace simscale::ppo
