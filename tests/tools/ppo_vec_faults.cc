// ppo_vec with faults injected through its hooks, for tests only (built with the tests, never
// installed). Every option of ppo_vec, plus:
//   --fault.stop_at N        stop before update N as a preemption signal would (checkpoint, exit
//                            75), if this process started before N: a resumed run goes on
//   --fault.kill_at N        SIGKILL this process once update N's rollout is collected (a hard
//                            kill in the middle of an update), if it started before N
//   --fault.nan_update N     make the loss NaN on the last rank at update N, minibatch step
//   --fault.nan_step M       M of the update (0-based)
#include <csignal>
#include <cstdint>

#include "bin/ppo_vec/ppo.h"
#include "common/core/preemption.h"

namespace simscale::ppo {
namespace {

struct FaultOptions {
  int64_t stop_at = -1, kill_at = -1, nan_update = -1, nan_step = 0;
};

void DeclareFaultOptions(config::Schema* schema, FaultOptions* faults) {
  schema->Add("fault.stop_at", &faults->stop_at, "stop before this update as a preemption would")
      .Min(-1);
  schema->Add("fault.kill_at", &faults->kill_at, "SIGKILL once this update's rollout is collected")
      .Min(-1);
  schema->Add("fault.nan_update", &faults->nan_update, "update whose loss is made NaN (last rank)")
      .Min(-1);
  schema->Add("fault.nan_step", &faults->nan_step, "minibatch step of that update (0-based)")
      .Min(0);
}

// True at `update` == target, unless this process started at or after it (a resumed run must not
// fail again).
std::function<bool(int64_t)> Once(int64_t target) {
  return [target, first = int64_t{-1}](int64_t update) mutable {
    if (first < 0) first = update;
    return update == target && first < target;
  };
}

PpoHooks MakeHooks(const FaultOptions& faults, int world_size) {
  PpoHooks hooks;
  if (faults.stop_at >= 0) hooks.stop_before_update = Once(faults.stop_at);
  if (faults.kill_at >= 0) {
    hooks.after_collect = [once = Once(faults.kill_at)](int64_t update) mutable {
      if (once(update)) std::raise(SIGKILL);
    };
  }
  if (faults.nan_update >= 0) {
    hooks.learner.corrupt_loss = [faults, last = world_size - 1](int64_t update, int64_t step,
                                                                 int rank) {
      return rank == last && update == faults.nan_update && step == faults.nan_step;
    };
  }
  return hooks;
}

}  // namespace
}  // namespace simscale::ppo

int main(int argc, char** argv) {
  simscale::preemption::InstallHandlers();
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::ppo::PpoConfig config;
    simscale::ppo::FaultOptions faults;
    simscale::config::Schema schema("ppo_vec_faults", "ppo_vec with injected faults (tests only)");
    simscale::ppo::DeclareOptions(&schema, &config);
    simscale::ppo::DeclareFaultOptions(&schema, &faults);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    return simscale::ppo::Run(config, schema, context.world(),
                              simscale::ppo::MakeHooks(faults, context.world().size()));
  });
}
