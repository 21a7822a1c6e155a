#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/mpi/mpi.h"

namespace simscale::train {

// Gradient storage in a few contiguous buckets: every parameter's .grad is a view into one of
// them, so backward writes straight into the buffers that are all-reduced (no copies), and
// zeroing, norms and clipping are one operation per bucket.
class GradientBuckets {
 public:
  // Parameters are packed in reverse order (the order backward produces their gradients) into
  // buckets of about `bucket_bytes`.
  GradientBuckets(const std::vector<torch::Tensor>& parameters, int64_t bucket_bytes);

  void Zero();
  // Sum of squares of every gradient element (as a double; NaN/Inf propagate).
  double SquaredNorm() const;
  void Scale(double factor);
  const std::vector<torch::Tensor>& buckets() const { return buckets_; }
  int64_t num_elements() const { return num_elements_; }

  // Re-points every parameter's .grad at its view (after something replaced a .grad tensor).
  void Rebind();

 private:
  std::vector<torch::Tensor> parameters_;
  std::vector<torch::Tensor> buckets_;
  std::vector<torch::Tensor> views_;  // per parameter, into its bucket
  int64_t num_elements_ = 0;
};

// Sums tensors over ranks in place (MPI on CPU, NCCL on CUDA devices).
class GradientSync {
 public:
  virtual ~GradientSync() = default;
  virtual void AllReduceSum(const std::vector<torch::Tensor>& buckets) = 0;
  virtual void Broadcast(const std::vector<torch::Tensor>& tensors, int root) = 0;
  virtual std::string name() const = 0;
};

// MPI_Allreduce on CPU tensors (float32/float64), one call per bucket.
std::unique_ptr<GradientSync> MakeMpiSync(const mpi::Communicator& comm);
// NCCL on CUDA tensors; throws unless built with SIMSCALE_WITH_CUDA and a device is present.
std::unique_ptr<GradientSync> MakeNcclSync(const mpi::Communicator& comm);
bool NcclAvailable();

}  // namespace simscale::train
