#include "common/train/grad_sync.h"

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/models/cpu_kernels.h"

#if defined(SIMSCALE_WITH_CUDA)
#include "common/gpu/nccl.h"
#endif

namespace simscale::train {

GradientBuckets::GradientBuckets(const std::vector<torch::Tensor>& parameters,
                                 int64_t bucket_bytes) {
  for (const auto& p : parameters) {
    if (p.requires_grad()) parameters_.push_back(p);
  }
  SIMSCALE_CHECK(!parameters_.empty(), "no trainable parameters");
  const auto options = parameters_.front().options();
  // Bucket boundaries, walking parameters backwards.
  std::vector<std::vector<size_t>> groups(1);
  int64_t bytes = 0;
  for (size_t i = parameters_.size(); i-- > 0;) {
    const torch::Tensor& p = parameters_[i];
    SIMSCALE_CHECK(p.options().dtype() == options.dtype() && p.device() == options.device(),
                   "parameters of one model must share dtype and device");
    const int64_t size = p.numel() * static_cast<int64_t>(p.element_size());
    if (bytes > 0 && bytes + size > bucket_bytes) {
      groups.emplace_back();
      bytes = 0;
    }
    groups.back().push_back(i);
    bytes += size;
  }
  views_.resize(parameters_.size());
  for (const auto& group : groups) {
    int64_t elements = 0;
    for (size_t i : group) elements += parameters_[i].numel();
    torch::Tensor bucket = torch::zeros({elements}, options.requires_grad(false));
    int64_t offset = 0;
    for (size_t i : group) {
      const int64_t n = parameters_[i].numel();
      views_[i] = bucket.narrow(0, offset, n).view(parameters_[i].sizes());
      offset += n;
    }
    num_elements_ += elements;
    buckets_.push_back(bucket);
  }
  Rebind();
}

void GradientBuckets::Rebind() {
  for (size_t i = 0; i < parameters_.size(); ++i) parameters_[i].mutable_grad() = views_[i];
}

void GradientBuckets::Zero() {
  for (auto& bucket : buckets_) bucket.zero_();
  // Autograd accumulates into a defined .grad in place; make sure nothing swapped it out.
  for (size_t i = 0; i < parameters_.size(); ++i) {
    if (!parameters_[i].grad().defined() ||
        parameters_[i].grad().data_ptr() != views_[i].data_ptr()) {
      parameters_[i].mutable_grad() = views_[i];
    }
  }
}

double GradientBuckets::SquaredNorm() const {
  double total = 0.0;
  for (const auto& bucket : buckets_) {
    // One pass over float CPU buckets instead of a double copy, its square and a sum (three
    // passes and two allocations, which cost small models as much as their optimizer step).
    if (bucket.device().is_cpu() && bucket.scalar_type() == torch::kFloat32) {
      total += models::internal::SquaredSum(bucket.data_ptr<float>(), bucket.numel());
    } else {
      total += bucket.to(torch::kFloat64).pow(2).sum().item<double>();
    }
  }
  return total;
}

void GradientBuckets::Scale(double factor) {
  for (auto& bucket : buckets_) bucket.mul_(factor);
}

namespace {

class MpiSync : public GradientSync {
 public:
  explicit MpiSync(const mpi::Communicator& comm) : comm_(comm) {}
  void AllReduceSum(const std::vector<torch::Tensor>& buckets) override {
    if (comm_.size() == 1) return;
    for (const auto& bucket : buckets) {
      SIMSCALE_CHECK(bucket.is_contiguous() && bucket.device().is_cpu(),
                     "MPI all-reduce needs contiguous CPU tensors");
      if (bucket.scalar_type() == torch::kFloat32) {
        comm_.AllReduceInPlace(bucket.data_ptr<float>(), static_cast<size_t>(bucket.numel()),
                               mpi::ReduceOp::kSum);
      } else if (bucket.scalar_type() == torch::kFloat64) {
        comm_.AllReduceInPlace(bucket.data_ptr<double>(), static_cast<size_t>(bucket.numel()),
                               mpi::ReduceOp::kSum);
      } else {
        throw Error(fmt::format("MPI all-reduce of {} tensors is not supported",
                                c10::toString(bucket.scalar_type())));
      }
    }
  }
  void Broadcast(const std::vector<torch::Tensor>& tensors, int root) override {
    if (comm_.size() == 1) return;
    for (const auto& t : tensors) {
      torch::Tensor data = t.detach();
      SIMSCALE_CHECK(data.is_contiguous() && data.device().is_cpu(),
                     "MPI broadcast needs contiguous CPU tensors");
      comm_.Broadcast(static_cast<uint8_t*>(data.data_ptr()),
                      static_cast<size_t>(data.numel()) * data.element_size(), root);
    }
  }
  std::string name() const override { return "mpi"; }

 private:
  mpi::Communicator comm_;
};

#if defined(SIMSCALE_WITH_CUDA)
gpu::ElementType ElementTypeOf(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32:
      return gpu::ElementType::kFloat32;
    case torch::kFloat64:
      return gpu::ElementType::kFloat64;
    case torch::kFloat16:
      return gpu::ElementType::kFloat16;
    case torch::kBFloat16:
      return gpu::ElementType::kBFloat16;
    default:
      break;
  }
  throw Error(fmt::format("NCCL all-reduce of {} tensors is not supported",
                          c10::toString(t.scalar_type())));
}

class NcclSync : public GradientSync {
 public:
  explicit NcclSync(const mpi::Communicator& comm) : nccl_(comm) {}
  void AllReduceSum(const std::vector<torch::Tensor>& buckets) override {
    for (const auto& bucket : buckets) {
      nccl_.AllReduceSum(bucket.data_ptr(), static_cast<size_t>(bucket.numel()),
                         ElementTypeOf(bucket));
    }
    gpu::NcclCommunicator::Synchronize();
  }
  void Broadcast(const std::vector<torch::Tensor>& tensors, int root) override {
    for (const auto& t : tensors) {
      torch::Tensor data = t.detach();
      nccl_.Broadcast(data.data_ptr(), static_cast<size_t>(data.numel()), ElementTypeOf(data),
                      root);
    }
    gpu::NcclCommunicator::Synchronize();
  }
  std::string name() const override { return "nccl"; }

 private:
  gpu::NcclCommunicator nccl_;
};
#endif

}  // namespace

std::unique_ptr<GradientSync> MakeMpiSync(const mpi::Communicator& comm) {
  return std::make_unique<MpiSync>(comm);
}

bool NcclAvailable() {
#if defined(SIMSCALE_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

std::unique_ptr<GradientSync> MakeNcclSync(const mpi::Communicator& comm) {
#if defined(SIMSCALE_WITH_CUDA)
  return std::make_unique<NcclSync>(comm);
#else
  (void)comm;
  throw InvalidArgumentError(
      "train.allreduce: 'nccl' needs a build with -DSIMSCALE_WITH_CUDA=ON (and a CUDA LibTorch)");
#endif
}

}  // namespace simscale::train
