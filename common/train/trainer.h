#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "common/models/policy.h"
#include "common/mpi/mpi.h"
#include "common/train/dataset.h"
#include "common/train/trainer_options.h"
#include "common/train/trainer_state.h"

namespace simscale::train {

struct TrainSummary {
  int64_t steps = 0;
  double final_loss = 0.0;
  double final_valid_loss = -1.0;
  int64_t nonfinite_skipped = 0;
  double samples_per_second = 0.0;
  double data_wait_share = 0.0;
  double allreduce_share = 0.0;
  bool preempted = false;  // stopped by SIGTERM/SIGUSR1 after writing a checkpoint
  std::filesystem::path last_checkpoint;
};

// Data-parallel trainer: parameters broadcast from rank 0; per-rank shards of every global batch;
// gradients written into contiguous buckets and summed over ranks (MPI or NCCL); AdamW with
// warmup + cosine; clipping; accumulation; autocast; EMA; validation; metrics; checkpoints every K
// steps (rank 0 writes, keeps the last K); exact resume; SIGTERM/SIGUSR1 -> checkpoint and stop;
// a non-finite loss or gradient on any rank skips the step everywhere. The loop composes the parts
// declared beside it: MetricsWriter and MetricsWindow, Checkpointer, WeightAverage, LossScaler,
// NonFiniteGuard and LearningRate.
class Trainer {
 public:
  Trainer(std::shared_ptr<models::Policy> model, std::shared_ptr<const TrajectoryDataset> train,
          std::shared_ptr<const TrajectoryDataset> valid, TrainerOptions options,
          const mpi::Communicator& comm, std::filesystem::path run_dir, std::string config_yaml);
  ~Trainer();

  // Continues from the newest complete checkpoint in the run directory, if any; returns whether
  // it did. Collective.
  bool Resume();
  // Trains to options.steps (or until preempted). Collective.
  TrainSummary Train();

  // Mean validation loss over (up to) eval_batches batches; collective.
  double ValidationLoss();
  // What the next checkpoint would store.
  TrainerState state() const;
  models::Policy& model();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// LR at `step` (0-based): linear warmup from 1% to lr over warmup_steps, then cosine to
// lr * min_lr_ratio at `steps`.
double LearningRate(const TrainerOptions& options, int64_t step);

}  // namespace simscale::train
