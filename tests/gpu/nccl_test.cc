// Built with SIMSCALE_WITH_CUDA. Without a CUDA device the device tests skip (CI compiles them);
// on a GPU machine they run.
#include "common/gpu/nccl.h"

#include <cuda_runtime.h>
#include <gtest/gtest.h>

#include <regex>
#include <vector>

namespace simscale::gpu {
namespace {

TEST(Nccl, ReportsItsVersion) {
  EXPECT_TRUE(std::regex_match(NcclVersion(), std::regex(R"(\d+\.\d+\.\d+)"))) << NcclVersion();
}

TEST(Nccl, AllReduceSumsOverRanksOnTheDevice) {
  const mpi::Communicator world(MPI_COMM_WORLD);
  if (DeviceCount() == 0) GTEST_SKIP() << "no CUDA device";
  SelectDeviceForRank(world);
  NcclCommunicator nccl(world);
  const size_t n = 1 << 20;
  std::vector<float> host(n);
  for (size_t i = 0; i < n; ++i) host[i] = static_cast<float>(i % 97) + world.rank();
  float* device = nullptr;
  ASSERT_EQ(cudaMalloc(&device, n * sizeof(float)), cudaSuccess);
  ASSERT_EQ(cudaMemcpy(device, host.data(), n * sizeof(float), cudaMemcpyHostToDevice),
            cudaSuccess);
  nccl.AllReduceSum(device, n, ElementType::kFloat32);
  NcclCommunicator::Synchronize();
  ASSERT_EQ(cudaMemcpy(host.data(), device, n * sizeof(float), cudaMemcpyDeviceToHost),
            cudaSuccess);
  cudaFree(device);
  const int size = world.size();
  const float rank_sum = static_cast<float>(size * (size - 1) / 2);
  for (size_t i = 0; i < n; i += 4099) {
    ASSERT_EQ(host[i], static_cast<float>(i % 97) * size + rank_sum) << "element " << i;
  }
}

}  // namespace
}  // namespace simscale::gpu
