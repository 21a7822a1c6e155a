#include "common/rl/normalizer.h"

#include <algorithm>
#include <cmath>
#include <utility>

#include "common/core/error.h"

namespace simscale::rl {
namespace {

constexpr double kEpsilon = 1e-8;

}  // namespace

RunningMoments::RunningMoments(int64_t dim)
    : mean_(static_cast<size_t>(dim), 0.0), var_(static_cast<size_t>(dim), 1.0) {}

void RunningMoments::Update(const mpi::Communicator& comm, const double* data, int64_t rows) {
  const size_t d = mean_.size();
  // Two passes (sum, then squared deviations from the batch mean) keep the variance accurate;
  // each is one all-reduce, summed in rank order by MPI.
  std::vector<double> sums(d + 1, 0.0);
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < d; ++k) sums[k] += data[static_cast<size_t>(r) * d + k];
  }
  sums[d] = static_cast<double>(rows);
  comm.AllReduceInPlace(sums.data(), sums.size(), mpi::ReduceOp::kSum);
  const double batch_count = sums[d];
  if (batch_count == 0) return;
  std::vector<double> batch_mean(d), squares(d, 0.0);
  for (size_t k = 0; k < d; ++k) batch_mean[k] = sums[k] / batch_count;
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < d; ++k) {
      const double dev = data[static_cast<size_t>(r) * d + k] - batch_mean[k];
      squares[k] += dev * dev;
    }
  }
  comm.AllReduceInPlace(squares.data(), squares.size(), mpi::ReduceOp::kSum);
  const double total = count_ + batch_count;
  for (size_t k = 0; k < d; ++k) {
    const double delta = batch_mean[k] - mean_[k];
    const double m2 = var_[k] * count_ + squares[k] + delta * delta * count_ * batch_count / total;
    mean_[k] += delta * batch_count / total;
    var_[k] = m2 / total;
  }
  count_ = total;
}

void RunningMoments::Restore(double count, std::vector<double> mean, std::vector<double> var) {
  SIMSCALE_CHECK(mean.size() == mean_.size() && var.size() == var_.size(),
                 "normaliser statistics of size {} restored into size {}", mean.size(),
                 mean_.size());
  count_ = count;
  mean_ = std::move(mean);
  var_ = std::move(var);
}

ObservationNormalizer::ObservationNormalizer(int64_t dim, bool enabled, double clip)
    : moments_(dim), enabled_(enabled), clip_(clip) {}

void ObservationNormalizer::Normalize(const double* raw, int64_t rows, float* out) const {
  const auto d = static_cast<size_t>(moments_.dim());
  for (size_t i = 0; i < static_cast<size_t>(rows) * d; ++i) {
    if (!enabled_) {
      out[i] = static_cast<float>(raw[i]);
      continue;
    }
    const size_t k = i % d;
    const double z = (raw[i] - moments_.mean()[k]) / std::sqrt(moments_.var()[k] + kEpsilon);
    out[i] = static_cast<float>(std::clamp(z, -clip_, clip_));
  }
}

void ObservationNormalizer::Update(const mpi::Communicator& comm, const std::vector<double>& raw) {
  if (!enabled_) return;
  moments_.Update(comm, raw.data(), static_cast<int64_t>(raw.size()) / moments_.dim());
}

RewardScaler::RewardScaler(int64_t envs, double gamma, bool enabled, double clip)
    : moments_(1),
      returns_(static_cast<size_t>(envs), 0.0),
      gamma_(gamma),
      enabled_(enabled),
      clip_(clip) {}

void RewardScaler::Scale(const std::vector<double>& rewards, const std::vector<uint8_t>& terminated,
                         const std::vector<uint8_t>& truncated, float* out) {
  const double std = std::sqrt(moments_.var()[0] + kEpsilon);
  for (size_t k = 0; k < returns_.size(); ++k) {
    if (!enabled_) {
      out[k] = static_cast<float>(rewards[k]);
      continue;
    }
    returns_[k] = gamma_ * returns_[k] + rewards[k];
    seen_.push_back(returns_[k]);
    if (terminated[k] != 0 || truncated[k] != 0) returns_[k] = 0.0;
    out[k] = static_cast<float>(std::clamp(rewards[k] / std, -clip_, clip_));
  }
}

void RewardScaler::Update(const mpi::Communicator& comm) {
  if (!enabled_) return;
  moments_.Update(comm, seen_.data(), static_cast<int64_t>(seen_.size()));
  seen_.clear();
}

}  // namespace simscale::rl
