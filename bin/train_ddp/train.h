#pragma once

#include "bin/train_ddp/train_config.h"
#include "common/models/policy.h"
#include "common/mpi/mpi.h"
#include "common/train/dataset.h"

namespace simscale::train {

// Normalisation statistics of a dataset, computed in parallel: each rank takes a block of
// episodes, and the moments are summed over ranks. States use mean/std (tiled over the history
// frames); actions mean/std or min/max.
models::NormalizationStats ComputeNormalization(const TrajectoryDataset& dataset,
                                                const mpi::Communicator& comm,
                                                const std::string& action_normalization);

// Exit code of a run stopped by SIGTERM/SIGUSR1 after writing its checkpoint (EX_TEMPFAIL):
// resubmit with --resume.
inline constexpr int kPreemptedExitCode = 75;

int Run(const TrainConfig& config, const config::Schema& schema, const mpi::Communicator& comm);

}  // namespace simscale::train
