#include "bin/datagen_mpi/datagen.h"

#include <filesystem>

#include "common/core/log.h"

namespace simscale::datagen {

int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  std::filesystem::path resolved = config.run.output;
  resolved.replace_extension(".config.yaml");
  app::WriteResolvedConfig(schema, comm, resolved);
  log::Info("datagen_mpi: {} ranks, env '{}', policy '{}', {} episodes -> {} (resolved config: {})",
            comm.size(), config.env, config.policy, config.episodes, config.run.output,
            resolved.string());
  log::Warn(
      "datagen_mpi: episode generation is not implemented yet; only the configuration was "
      "resolved and written");
  return 0;
}

}  // namespace simscale::datagen
