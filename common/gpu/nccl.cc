#include "common/gpu/nccl.h"

#include <cuda_runtime.h>
#include <nccl.h>

#include <fmt/format.h>

namespace simscale::gpu {
namespace {

void CheckCuda(cudaError_t code, const char* call) {
  if (code != cudaSuccess) {
    throw GpuError(
        fmt::format("{} failed: {} ({})", call, cudaGetErrorString(code), cudaGetErrorName(code)));
  }
}

void CheckNccl(ncclResult_t code, const char* call) {
  if (code != ncclSuccess) {
    throw GpuError(fmt::format("{} failed: {}", call, ncclGetErrorString(code)));
  }
}

ncclDataType_t ToNccl(ElementType type) {
  switch (type) {
    case ElementType::kFloat32:
      return ncclFloat32;
    case ElementType::kFloat16:
      return ncclFloat16;
    case ElementType::kBFloat16:
      return ncclBfloat16;
    case ElementType::kFloat64:
      return ncclFloat64;
  }
  return ncclFloat32;
}

}  // namespace

int DeviceCount() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no driver" error
    return 0;
  }
  return count;
}

std::string DeviceName(int device) {
  cudaDeviceProp properties{};
  CheckCuda(cudaGetDeviceProperties(&properties, device), "cudaGetDeviceProperties");
  return properties.name;
}

int SelectDeviceForRank(const mpi::Communicator& node_comm) {
  const int count = DeviceCount();
  if (count == 0) throw GpuError("no CUDA device is visible to this process");
  const int device = node_comm.rank() % count;
  CheckCuda(cudaSetDevice(device), "cudaSetDevice");
  return device;
}

NcclCommunicator::NcclCommunicator(const mpi::Communicator& comm)
    : rank_(comm.rank()), size_(comm.size()) {
  ncclUniqueId id;
  if (comm.is_root()) CheckNccl(ncclGetUniqueId(&id), "ncclGetUniqueId");
  comm.Broadcast(reinterpret_cast<char*>(&id), sizeof(id), 0);
  ncclComm_t nccl_comm = nullptr;
  CheckNccl(ncclCommInitRank(&nccl_comm, size_, id, rank_), "ncclCommInitRank");
  comm_ = nccl_comm;
}

NcclCommunicator::~NcclCommunicator() {
  if (comm_ != nullptr) ncclCommDestroy(static_cast<ncclComm_t>(comm_));
}

void NcclCommunicator::AllReduceSum(void* data, size_t count, ElementType type, void* stream) {
  CheckNccl(ncclAllReduce(data, data, count, ToNccl(type), ncclSum, static_cast<ncclComm_t>(comm_),
                          static_cast<cudaStream_t>(stream)),
            "ncclAllReduce");
}

void NcclCommunicator::Broadcast(void* data, size_t count, ElementType type, int root,
                                 void* stream) {
  CheckNccl(ncclBroadcast(data, data, count, ToNccl(type), root, static_cast<ncclComm_t>(comm_),
                          static_cast<cudaStream_t>(stream)),
            "ncclBroadcast");
}

void NcclCommunicator::Synchronize(void* stream) {
  CheckCuda(cudaStreamSynchronize(static_cast<cudaStream_t>(stream)), "cudaStreamSynchronize");
}

std::string NcclVersion() {
  int version = 0;
  CheckNccl(ncclGetVersion(&version), "ncclGetVersion");
  // NCCL >= 2.9 encodes major*10000 + minor*100 + patch.
  return fmt::format("{}.{}.{}", version / 10000, (version % 10000) / 100, version % 100);
}

}  // namespace simscale::gpu
