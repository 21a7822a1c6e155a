#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>

#include <torch/torch.h>

#include "common/models/policy.h"
#include "common/mpi/mpi.h"
#include "common/train/weight_average.h"

namespace simscale::train {

// The run's checkpoints (common/models/checkpoint.h has the format): rank 0 writes the model, the
// optimizer and the trainer's state into <run_dir>/checkpoints/step_<N>, the averaged weights (when
// an EMA is kept) beside it as a model-only checkpoint ema_step_<N>, and keeps the newest `keep`.
class Checkpointer {
 public:
  // `before_marker` (tests only) runs on rank 0 inside each write, before the completion marker.
  Checkpointer(std::filesystem::path run_dir, const mpi::Communicator& comm,
               std::string config_yaml, int64_t keep,
               std::function<void(int64_t step)> before_marker = nullptr);

  // Writes the checkpoint of step `step` with `extra` (the trainer state's YAML) and returns its
  // directory. Collective: every rank waits until it is complete, so none runs ahead of a
  // checkpoint that is not there yet; a failed write (a full disk) throws on every rank, naming the
  // checkpoint, and leaves the earlier checkpoints as they were.
  std::filesystem::path Write(int64_t step, const std::string& extra, const models::Policy& model,
                              const torch::optim::Optimizer& optimizer, WeightAverage* average);

  // The newest complete checkpoint (rank 0 looks, every rank learns it); empty if there is none.
  // What interrupted writes left (models::PartialCheckpoints) is ignored and reported, and removed
  // unless it holds a completion marker. Collective.
  std::filesystem::path FindLatest() const;

  // Loads the checkpoint at `path` into the model (then moved to `device`), the optimizer and the
  // weight average (if it is kept and was saved); returns the checkpoint's `extra`. Every rank
  // reads the files: the run directory is on a shared file system.
  std::string Restore(const std::filesystem::path& path, models::Policy* model,
                      torch::optim::Optimizer* optimizer, WeightAverage* average,
                      const torch::Device& device);

  // The checkpoint last written or restored; empty if none.
  const std::filesystem::path& last() const { return last_; }

 private:
  std::filesystem::path run_dir_;
  mpi::Communicator comm_;
  std::string config_yaml_;
  int64_t keep_;
  std::function<void(int64_t step)> before_marker_;
  std::filesystem::path last_;
};

}  // namespace simscale::train
