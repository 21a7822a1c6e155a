// Helper for abort_test: fails in a chosen way on a chosen rank while the other ranks wait in a
// collective that would block forever if the failure did not end the job.
#include <string>

#include "common/config/config.h"
#include "common/core/log.h"
#include "common/mpi/mpi.h"

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "throw";
  const int failing_rank = argc > 2 ? std::stoi(argv[2]) : 1;
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    const auto& world = context.world();
    if (mode == "throw") {
      if (world.rank() == failing_rank) throw simscale::Error("deliberate failure");
      world.Barrier();  // the other ranks block here
      world.Barrier();
      return 0;
    }
    if (mode == "agreed") {
      simscale::mpi::RunAgreed(world, [&] {
        if (world.rank() == failing_rank) {
          throw simscale::config::ConfigError("config key 'x': expected an integer, got 'y'");
        }
      });
      return 0;
    }
    simscale::log::Info("probe ok");
    return 0;
  });
}
