// Writes the valid store fuzz_store damages: a few synthetic episodes with images, robomimic views
// and masks, as the io tests write them (tests/io/synthetic_episodes.h).
//   fuzz_store_seed PATH
#include <string>

#include "common/core/error.h"
#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"
#include "tests/io/synthetic_episodes.h"

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    using namespace simscale;
    if (argc != 2) throw InvalidArgumentError("usage: fuzz_store_seed PATH");
    io::StoreWriterOptions options;
    options.overwrite = true;
    const io::StoreLayout layout = io::testing::SyntheticLayout(/*images=*/true);
    io::EpisodeStoreWriter writer =
        io::EpisodeStoreWriter::Create(argv[1], context.world(), layout, options);
    io::testing::WriteSyntheticRounds(writer, context.world(), 3);
    writer.Finalize();
    return 0;
  });
}
