#pragma once

#include <cstdint>
#include <vector>

#include "common/mpi/mpi.h"

// Running statistics that PPO normalises with, merged over ranks so every rank (and every rank
// count) normalises with the same numbers. Torch-free.
namespace simscale::rl {

// Per-dimension mean and variance of every row seen so far (count, mean, population variance).
class RunningMoments {
 public:
  explicit RunningMoments(int64_t dim);

  // Collective: merges `rows` x dim() values of every rank into the statistics (exact parallel
  // merge of the batch's moments, Chan et al.); rows may differ per rank, even be 0.
  void Update(const mpi::Communicator& comm, const double* data, int64_t rows);

  int64_t dim() const { return static_cast<int64_t>(mean_.size()); }
  double count() const { return count_; }
  const std::vector<double>& mean() const { return mean_; }
  const std::vector<double>& var() const { return var_; }
  // For checkpoints.
  void Restore(double count, std::vector<double> mean, std::vector<double> var);

 private:
  double count_ = 0.0;
  std::vector<double> mean_, var_;
};

// Observation normalisation (CleanRL's NormalizeObservation + clip): (x - mean) / sqrt(var + eps)
// clipped to +-clip. The statistics change only in Update, once per rollout, so all the
// observations of one rollout are normalised alike on every rank.
class ObservationNormalizer {
 public:
  ObservationNormalizer(int64_t dim, bool enabled, double clip = 10.0);

  void Normalize(const double* raw, int64_t rows, float* out) const;
  // Collective: adds the raw observations of this rollout (every rank's) to the statistics.
  void Update(const mpi::Communicator& comm, const std::vector<double>& raw);

  bool enabled() const { return enabled_; }
  RunningMoments& moments() { return moments_; }
  const RunningMoments& moments() const { return moments_; }

 private:
  RunningMoments moments_;
  bool enabled_;
  double clip_;
};

// Reward scaling by the running std of each env's discounted return (CleanRL's NormalizeReward):
// r / sqrt(var(G) + eps), G_t = gamma G_{t-1} + r_t, reset when the episode ends; clipped to
// +-clip. The std used is the one of the previous rollouts (merged over ranks in Update).
class RewardScaler {
 public:
  RewardScaler(int64_t envs, double gamma, bool enabled, double clip = 10.0);

  // Scales one step's rewards of every local env, remembering the discounted returns.
  void Scale(const std::vector<double>& rewards, const std::vector<uint8_t>& terminated,
             const std::vector<uint8_t>& truncated, float* out);
  // Collective: merges the returns seen since the last Update into the statistics.
  void Update(const mpi::Communicator& comm);

  bool enabled() const { return enabled_; }
  RunningMoments& moments() { return moments_; }
  const RunningMoments& moments() const { return moments_; }
  // Per local env: the discounted return so far (a checkpoint saves it).
  std::vector<double>& returns() { return returns_; }
  const std::vector<double>& returns() const { return returns_; }

 private:
  RunningMoments moments_;
  std::vector<double> returns_;  // per local env
  std::vector<double> seen_;     // returns since the last Update
  double gamma_;
  bool enabled_;
  double clip_;
};

}  // namespace simscale::rl
