#include "common/train/checkpointer.h"

#include "common/models/checkpoint.h"

namespace simscale::train {
namespace fs = std::filesystem;

Checkpointer::Checkpointer(fs::path run_dir, const mpi::Communicator& comm, std::string config_yaml,
                           int64_t keep)
    : run_dir_(std::move(run_dir)),
      comm_(comm),
      config_yaml_(std::move(config_yaml)),
      keep_(keep) {}

fs::path Checkpointer::Write(int64_t step, const std::string& extra, const models::Policy& model,
                             const torch::optim::Optimizer& optimizer, WeightAverage* average) {
  const fs::path dir = models::CheckpointDirectory(run_dir_, step);
  if (comm_.is_root()) {
    models::CheckpointMetadata meta;
    meta.step = step;
    meta.world_size = comm_.size();
    meta.resolved_config = config_yaml_;
    meta.extra = extra;
    if (average != nullptr && average->enabled()) {
      average->WithAveragedWeights([&] {
        models::SaveCheckpoint(models::EmaCheckpointDirectory(dir), model, nullptr, meta);
      });
    }
    models::SaveCheckpoint(dir, model, &optimizer, meta);
    models::PruneCheckpoints(run_dir_, keep_);  // with their EMA siblings
  }
  comm_.Barrier();
  last_ = dir;
  return dir;
}

fs::path Checkpointer::FindLatest() const {
  std::string path;
  if (comm_.is_root()) {
    if (auto latest = models::FindLatestCompleteCheckpoint(run_dir_)) path = latest->string();
  }
  comm_.Broadcast(&path, 0);
  return path;
}

std::string Checkpointer::Restore(const fs::path& path, models::Policy* model,
                                  torch::optim::Optimizer* optimizer, WeightAverage* average,
                                  const torch::Device& device) {
  const models::CheckpointMetadata meta = models::ReadCheckpointMetadata(path);
  models::LoadModelState(path, model);
  model->to(device);
  models::LoadOptimizerState(path, optimizer);
  if (average != nullptr && average->enabled() &&
      fs::exists(models::EmaCheckpointDirectory(path))) {
    average->Load(*models::LoadCheckpoint(models::EmaCheckpointDirectory(path), nullptr, device));
  }
  last_ = path;
  return meta.extra;
}

}  // namespace simscale::train
