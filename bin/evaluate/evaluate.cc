#include "bin/evaluate/evaluate.h"

#include <filesystem>

#include "common/core/log.h"

namespace simscale::eval {

int Run(const EvalConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const std::filesystem::path out_dir = config.run.output;
  app::WriteResolvedConfig(schema, comm, out_dir / "config.yaml");
  log::Info("evaluate: {} ranks, env '{}', policy '{}', {} episodes x {} conditions -> {}",
            comm.size(), config.env, config.policy, config.episodes, config.conditions.size(),
            out_dir.string());
  log::Warn(
      "evaluate: evaluation is not implemented yet; only the configuration was resolved and "
      "written");
  return 0;
}

}  // namespace simscale::eval
