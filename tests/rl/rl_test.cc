// common/rl's torch-free parts: GAE against hand-computed values, normaliser statistics merged
// over ranks. Runs under mpirun at 1 and 2 ranks.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/mpi/mpi.h"
#include "common/rl/gae.h"
#include "common/rl/normalizer.h"

namespace simscale::rl {
namespace {

// Two envs over T = 3 steps, gamma = lambda = 0.5; rows are steps. Env 0's episode terminates at
// t = 2, env 1's is truncated there (time limit) with V(final observation) = 4.
struct TwoEpisodes {
  std::vector<float> rewards = {1, 1, 2, 2, 3, 3};
  std::vector<float> values = {0.5, 0.5, 1, 1, 1.5, 1.5};
  std::vector<uint8_t> terminated = {0, 0, 0, 0, 1, 0};
  std::vector<uint8_t> truncated = {0, 0, 0, 0, 0, 1};
  std::vector<float> final_values = {0, 0, 0, 0, 99, 4};  // 99: must be ignored (terminated)
  std::vector<float> next_values = {10, 10};              // after an end: must be ignored
  GaeInput Input() const {
    return {3,
            2,
            rewards.data(),
            values.data(),
            terminated.data(),
            truncated.data(),
            final_values.data(),
            next_values.data(),
            0.5,
            0.5};
  }
};

TEST(Gae, TerminationDoesNotBootstrapTruncationDoes) {
  TwoEpisodes e;
  std::vector<float> advantages(6), returns(6);
  ComputeGae(e.Input(), advantages.data(), returns.data());
  // Terminated: delta_2 = 3 - 1.5 = 1.5; delta_1 = 2 + 0.5 * 1.5 - 1 = 1.75 -> 1.75 + 0.25 * 1.5;
  // delta_0 = 1 + 0.5 * 1 - 0.5 = 1 -> 1 + 0.25 * 2.125.
  EXPECT_FLOAT_EQ(advantages[4], 1.5f);
  EXPECT_FLOAT_EQ(advantages[2], 2.125f);
  EXPECT_FLOAT_EQ(advantages[0], 1.53125f);
  EXPECT_FLOAT_EQ(returns[0], 2.03125f);
  // Truncated: delta_2 = 3 + 0.5 * 4 - 1.5 = 3.5; 1.75 + 0.25 * 3.5 = 2.625; 1 + 0.25 * 2.625.
  EXPECT_FLOAT_EQ(advantages[5], 3.5f);
  EXPECT_FLOAT_EQ(advantages[3], 2.625f);
  EXPECT_FLOAT_EQ(advantages[1], 1.65625f);
  EXPECT_FLOAT_EQ(returns[5], 5.0f);
}

TEST(Gae, BootstrapsNextValueAtBufferEndAndStopsAtEpisodeEnd) {
  TwoEpisodes e;
  e.terminated = {1, 0, 0, 0, 0, 0};  // env 0 ends at t = 0, then runs past the buffer's end
  e.truncated = {0, 0, 0, 0, 0, 0};
  e.next_values = {2, 0};
  std::vector<float> advantages(6), returns(6);
  ComputeGae(e.Input(), advantages.data(), returns.data());
  // t = 2: 3 + 0.5 * 2 - 1.5 = 2.5; t = 1: 2 + 0.5 * 1.5 - 1 + 0.25 * 2.5 = 2.375; t = 0 ended:
  // 1 - 0.5, nothing carried over the reset.
  EXPECT_FLOAT_EQ(advantages[4], 2.5f);
  EXPECT_FLOAT_EQ(advantages[2], 2.375f);
  EXPECT_FLOAT_EQ(advantages[0], 0.5f);
}

TEST(RunningMoments, MergedOverRanksEqualsMomentsOfAllRows) {
  const mpi::Communicator world(MPI_COMM_WORLD);
  // Row i (global) = (i, i * i); rank r holds rows r, r + R, ... of 0..9, in two updates.
  RunningMoments moments(2);
  for (int round = 0; round < 2; ++round) {
    std::vector<double> rows;
    for (int i = world.rank(); i < 10; i += world.size()) {
      if ((i < 4) == (round == 0)) rows.insert(rows.end(), {double(i), double(i * i)});
    }
    moments.Update(world, rows.data(), static_cast<int64_t>(rows.size() / 2));
  }
  double mean[2] = {0, 0}, var[2] = {0, 0};
  for (int i = 0; i < 10; ++i) mean[0] += i / 10.0, mean[1] += i * i / 10.0;
  for (int i = 0; i < 10; ++i) {
    var[0] += std::pow(i - mean[0], 2) / 10.0;
    var[1] += std::pow(i * i - mean[1], 2) / 10.0;
  }
  EXPECT_DOUBLE_EQ(moments.count(), 10.0);
  for (int k = 0; k < 2; ++k) {
    EXPECT_NEAR(moments.mean()[k], mean[k], 1e-12);
    EXPECT_NEAR(moments.var()[k], var[k], 1e-9);
  }
}

TEST(RewardScaler, DividesByTheStdOfDiscountedReturnsAndResetsAtEpisodeEnd) {
  const mpi::Communicator world(MPI_COMM_WORLD);
  RewardScaler scaler(1, 0.5, true);
  float out = 0;
  // Returns seen: 2, 2 * 0.5 + 2 = 3, then the episode ends: next return 2 again.
  scaler.Scale({2.0}, {0}, {0}, &out);
  EXPECT_FLOAT_EQ(out, 2.0f / std::sqrt(1.0f + 1e-8f));  // before any Update: std 1
  scaler.Scale({2.0}, {1}, {0}, &out);
  scaler.Scale({2.0}, {0}, {0}, &out);
  EXPECT_EQ(scaler.returns()[0], 2.0);
  scaler.Update(world);
  // Every rank saw returns {2, 3, 2}: var = 2/9 whatever the rank count.
  EXPECT_NEAR(scaler.moments().var()[0], 2.0 / 9.0, 1e-12);
  scaler.Scale({1.0}, {0}, {0}, &out);
  EXPECT_NEAR(out, 1.0 / std::sqrt(2.0 / 9.0 + 1e-8), 1e-5);
}

}  // namespace
}  // namespace simscale::rl
