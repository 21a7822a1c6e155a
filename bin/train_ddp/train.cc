#include "bin/train_ddp/train.h"

#include <filesystem>

#include "common/core/log.h"

namespace simscale::train {

int Run(const TrainConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const std::filesystem::path run_dir = config.run.output;
  app::WriteResolvedConfig(schema, comm, run_dir / "config.yaml");
  log::Info("train_ddp: {} ranks, model '{}', {} steps, dataset '{}' -> {}", comm.size(),
            config.model, config.steps, config.dataset, run_dir.string());
  log::Warn(
      "train_ddp: training is not implemented yet; only the configuration was resolved and "
      "written");
  return 0;
}

}  // namespace simscale::train
