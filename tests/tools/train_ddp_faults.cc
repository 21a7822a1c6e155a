// train_ddp with faults injected through the trainer's hooks, for tests only (built with the tests,
// never installed). Every option of train_ddp, plus:
//   --fault.stop_at N        stop before step N as a preemption signal would (checkpoint, exit 75),
//                            if this process trained up to N: a run resumed at or after N goes on
//   --fault.nan_steps LIST   make the loss non-finite at these steps (0-based) on the last rank
//   --fault.kill_in_checkpoint N   SIGKILL the writing rank while the checkpoint of step N is
//                            written (after its files, before its completion marker)
#include <algorithm>
#include <csignal>
#include <cstdint>
#include <vector>

#include "bin/train_ddp/train.h"
#include "common/core/preemption.h"

namespace simscale::train {
namespace {

struct FaultOptions {
  int64_t stop_at = -1;
  std::vector<int64_t> nan_steps;
  int64_t kill_in_checkpoint = -1;
};

void DeclareFaultOptions(config::Schema* schema, FaultOptions* faults) {
  schema
      ->Add("fault.stop_at", &faults->stop_at,
            "stop before this step as a preemption would, unless resumed at or after it (-1: off)")
      .Min(-1);
  schema
      ->Add("fault.nan_steps", &faults->nan_steps,
            "steps whose loss is made non-finite on the last rank")
      .Min(0);
  schema
      ->Add("fault.kill_in_checkpoint", &faults->kill_in_checkpoint,
            "SIGKILL the writing rank inside the write of this step's checkpoint (-1: off)")
      .Min(-1);
}

TrainerHooks MakeHooks(const FaultOptions& faults, int world_size) {
  TrainerHooks hooks;
  if (faults.stop_at >= 0) {
    // Remembers the step this process started at: a resumed run that starts at or after stop_at
    // must not stop again (under a requeueing scheduler it would stop forever).
    hooks.stop_before_step = [stop_at = faults.stop_at, first = int64_t{-1}](int64_t step) mutable {
      if (first < 0) first = step;
      return step == stop_at && first < stop_at;
    };
  }
  if (!faults.nan_steps.empty()) {
    hooks.corrupt_loss = [steps = faults.nan_steps, last = world_size - 1](int64_t step, int rank) {
      return rank == last && std::find(steps.begin(), steps.end(), step) != steps.end();
    };
  }
  if (faults.kill_in_checkpoint >= 0) {
    hooks.checkpoint_before_marker = [step = faults.kill_in_checkpoint](int64_t written) {
      if (written == step) std::raise(SIGKILL);
    };
  }
  return hooks;
}

}  // namespace
}  // namespace simscale::train

int main(int argc, char** argv) {
  simscale::preemption::InstallHandlers();
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::train::TrainConfig config;
    simscale::train::FaultOptions faults;
    simscale::config::Schema schema("train_ddp_faults",
                                    "train_ddp with injected faults (tests only)");
    simscale::train::DeclareOptions(&schema, &config);
    simscale::train::DeclareFaultOptions(&schema, &faults);
    if (!simscale::app::ParseConfig(&schema, config.run, context.world(), argc, argv)) return 0;
    config.trainer.hooks = simscale::train::MakeHooks(faults, context.world().size());
    return simscale::train::Run(config, schema, context.world());
  });
}
