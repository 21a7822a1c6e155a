// Writes the synthetic episodes into a store under mpirun, optionally resuming an interrupted
// store or killing itself at a chosen point of a chosen round (to leave a crashed store behind).
//   store_probe PATH EPISODES [--resume] [--overwrite] [--no-views] [--no-images]
//               [--crash-round K --crash-stage STAGE]
#include <csignal>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"
#include "tests/io/synthetic_episodes.h"

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    using namespace simscale;
    if (argc < 3) throw InvalidArgumentError("usage: store_probe PATH EPISODES [options]");
    const std::string path = argv[1];
    const int64_t episodes = std::stoll(argv[2]);
    bool resume = false;
    bool images = true;
    int64_t crash_round = -1;
    std::string crash_stage;
    io::StoreWriterOptions options;
    for (int i = 3; i < argc; ++i) {
      const std::string_view arg = argv[i];
      if (arg == "--resume") {
        resume = true;
      } else if (arg == "--overwrite") {
        options.overwrite = true;
      } else if (arg == "--no-views") {
        options.build_views = false;
      } else if (arg == "--no-images") {
        images = false;
      } else if (arg == "--crash-round" && i + 1 < argc) {
        crash_round = std::stoll(argv[++i]);
      } else if (arg == "--crash-stage" && i + 1 < argc) {
        crash_stage = argv[++i];
      } else {
        throw InvalidArgumentError(fmt::format("store_probe: unknown argument '{}'", arg));
      }
    }
    if (crash_round >= 0) {
      options.fault_hook = [=](std::string_view stage, int64_t round) {
        // Every rank dies at the same point, so nothing after it reaches the file.
        if (round == crash_round && stage == crash_stage) std::raise(SIGKILL);
      };
    }
    const mpi::Communicator& comm = context.world();
    const io::StoreLayout layout = io::testing::SyntheticLayout(images);
    io::EpisodeStoreWriter writer =
        resume ? io::EpisodeStoreWriter::OpenForResume(path, comm, layout, options)
               : io::EpisodeStoreWriter::Create(path, comm, layout, options);
    if (comm.is_root()) fmt::print("committed before: {}\n", writer.committed_episodes());
    io::testing::WriteSyntheticRounds(writer, comm, episodes);
    writer.Finalize();
    if (comm.is_root()) fmt::print("done: {} episodes\n", writer.committed_episodes());
    return 0;
  });
}
