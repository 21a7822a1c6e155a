#include "common/train/checkpointer.h"

#include "common/core/log.h"
#include "common/models/checkpoint.h"

namespace simscale::train {
namespace fs = std::filesystem;

Checkpointer::Checkpointer(fs::path run_dir, const mpi::Communicator& comm, std::string config_yaml,
                           int64_t keep, std::function<void(int64_t step)> before_marker)
    : run_dir_(std::move(run_dir)),
      comm_(comm),
      config_yaml_(std::move(config_yaml)),
      keep_(keep),
      before_marker_(std::move(before_marker)) {}

fs::path Checkpointer::Write(int64_t step, const std::string& extra, const models::Policy& model,
                             const torch::optim::Optimizer& optimizer, WeightAverage* average) {
  const fs::path dir = models::CheckpointDirectory(run_dir_, step);
  // Rank 0 writes; its error (ENOSPC...) reaches every rank, which all stop with it.
  mpi::RunAgreed(comm_, [&] {
    if (!comm_.is_root()) return;
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
    std::function<void()> hook;
    if (before_marker_) hook = [&] { before_marker_(step); };
    try {
      models::SaveCheckpoint(dir, model, &optimizer, meta, hook);
    } catch (const std::exception&) {
      // No EMA checkpoint without its main one.
      std::error_code ec;
      fs::remove_all(models::EmaCheckpointDirectory(dir), ec);
      throw;
    }
    models::PruneCheckpoints(run_dir_, keep_);  // with their EMA siblings
  });
  last_ = dir;
  return dir;
}

fs::path Checkpointer::FindLatest() const {
  std::string path;
  if (comm_.is_root()) {
    for (const fs::path& partial : models::PartialCheckpoints(run_dir_)) {
      const bool marked = models::IsCompleteCheckpoint(partial);
      log::Warn("ignoring {} (left by a checkpoint write that did not finish){}", partial.string(),
                marked ? "" : "; removed");
      std::error_code ec;
      if (!marked) fs::remove_all(partial, ec);
    }
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
