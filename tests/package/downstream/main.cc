// Uses a few pieces of the installed library: random streams, the config schema, MPI.
#include <cstdio>

#include "common/config/config.h"
#include "common/core/random.h"
#include "common/mpi/mpi.h"

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    int64_t episodes = 3;
    simscale::config::Schema schema("downstream_app", "package test");
    schema.Add("demo.episodes", &episodes, "episodes").Min(1);
    const char* args[] = {"downstream_app", "--set", "demo.episodes=5"};
    schema.Parse(3, args);
    simscale::RandomStream stream(7, 0, simscale::StreamPurpose::kTest);
    const double draw = stream.Uniform();
    if (episodes != 5 || !(draw >= 0.0 && draw < 1.0) || context.world().size() != 1) return 1;
    std::printf("downstream ok: episodes=%lld draw=%.6f\n", static_cast<long long>(episodes), draw);
    return 0;
  });
}
