#pragma once

#include <cstddef>
#include <string>

#include "common/core/error.h"
#include "common/mpi/mpi.h"

// CUDA devices and NCCL collectives (built with SIMSCALE_WITH_CUDA only). The CUDA and NCCL
// headers stay inside nccl.cc so that including this header costs nothing.
namespace simscale::gpu {

class GpuError : public Error {
 public:
  using Error::Error;
};

// Number of CUDA devices visible to this process (0 when there is no driver or device).
int DeviceCount();
std::string DeviceName(int device);
// Selects the device of this rank among the node's ranks (local rank modulo device count).
int SelectDeviceForRank(const mpi::Communicator& node_comm);

enum class ElementType { kFloat32, kFloat16, kBFloat16, kFloat64 };

// One NCCL communicator over the ranks of an MPI communicator, each rank on its current device.
// The unique id is created on rank 0 and broadcast over MPI.
class NcclCommunicator {
 public:
  explicit NcclCommunicator(const mpi::Communicator& comm);
  ~NcclCommunicator();
  NcclCommunicator(const NcclCommunicator&) = delete;
  NcclCommunicator& operator=(const NcclCommunicator&) = delete;

  // In-place sum over ranks of `count` elements at device pointer `data`, on `stream`
  // (a cudaStream_t; nullptr = default stream). Asynchronous with respect to the host.
  void AllReduceSum(void* data, size_t count, ElementType type, void* stream = nullptr);
  // In-place broadcast from `root`.
  void Broadcast(void* data, size_t count, ElementType type, int root, void* stream = nullptr);
  // Waits for the work queued on `stream`.
  static void Synchronize(void* stream = nullptr);

  int rank() const { return rank_; }
  int size() const { return size_; }

 private:
  void* comm_ = nullptr;  // ncclComm_t
  int rank_ = 0;
  int size_ = 1;
};

// NCCL's version as "major.minor.patch".
std::string NcclVersion();

}  // namespace simscale::gpu
