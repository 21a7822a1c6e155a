// Run by ctest under mpirun at 1, 2 and 4 ranks.
#include "common/mpi/mpi.h"

#include <gtest/gtest.h>

#include <numeric>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/config/config.h"
#include "common/core/random.h"

namespace simscale::mpi {
namespace {

Communicator World() { return Communicator(MPI_COMM_WORLD); }

TEST(Communicator, AllReduceSumsAndFindsExtremes) {
  const Communicator comm = World();
  const int n = comm.size();
  EXPECT_EQ(comm.AllReduce<int64_t>(comm.rank(), ReduceOp::kSum), int64_t{n} * (n - 1) / 2);
  EXPECT_EQ(comm.AllReduce<double>(comm.rank() * 1.5, ReduceOp::kMax), (n - 1) * 1.5);
  EXPECT_EQ(comm.AllReduce<int>(comm.rank() + 3, ReduceOp::kMin), 3);
  std::vector<float> v = {1.0f, static_cast<float>(comm.rank())};
  comm.AllReduceInPlace(v.data(), v.size(), ReduceOp::kSum);
  EXPECT_EQ(v[0], static_cast<float>(n));
  EXPECT_EQ(v[1], static_cast<float>(n * (n - 1) / 2));
}

TEST(Communicator, AllGatherVConcatenatesInRankOrder) {
  const Communicator comm = World();
  // Rank r contributes r+1 copies of r: uneven sizes, including the 1-element rank 0.
  std::vector<int> mine(static_cast<size_t>(comm.rank() + 1), comm.rank());
  const std::vector<int> all = comm.AllGatherV(mine);
  std::vector<int> expected;
  for (int r = 0; r < comm.size(); ++r)
    expected.insert(expected.end(), static_cast<size_t>(r + 1), r);
  EXPECT_EQ(all, expected);
}

TEST(Communicator, ExclusivePrefixSumAndBroadcast) {
  const Communicator comm = World();
  EXPECT_EQ(comm.ExclusivePrefixSum(10), 10 * comm.rank());
  std::string text = comm.rank() == comm.size() - 1 ? "from the last rank" : "";
  comm.Broadcast(&text, comm.size() - 1);
  EXPECT_EQ(text, "from the last rank");
}

TEST(SplitEvenly, BlocksAreContiguousDisjointAndBalanced) {
  for (int parts : {1, 2, 3, 4, 7}) {
    for (int64_t total : {0, 1, 5, 64, 1001}) {
      int64_t next = 0;
      for (int p = 0; p < parts; ++p) {
        const Range r = SplitEvenly(total, parts, p);
        EXPECT_EQ(r.begin, next);
        EXPECT_LE(r.size(), total / parts + 1);
        EXPECT_GE(r.size(), total / parts);
        next = r.end;
      }
      EXPECT_EQ(next, total);
    }
  }
  EXPECT_EQ(SplitEvenly(Range{10, 15}, 2, 1), (Range{13, 15}));
  EXPECT_THROW(SplitEvenly(10, 0, 0), InvalidArgumentError);
}

TEST(RandomStreams, DrawsForAnIndexAreTheSameAtEveryRankCount) {
  // Each rank draws for its share of 64 episode indices; the gathered draws must equal what one
  // process computes for all of them.
  const Communicator comm = World();
  constexpr int64_t kEpisodes = 64;
  const Range mine = SplitEvenly(kEpisodes, comm.size(), comm.rank());
  std::vector<double> draws;
  for (int64_t episode = mine.begin; episode < mine.end; ++episode) {
    RandomStream layout(1234, static_cast<uint64_t>(episode), StreamPurpose::kTaskLayout);
    for (int k = 0; k < 5; ++k) draws.push_back(layout.Uniform(-1, 1));
    draws.push_back(layout.Normal());
  }
  const std::vector<double> all = comm.AllGatherV(draws);
  std::vector<double> serial;
  for (int64_t episode = 0; episode < kEpisodes; ++episode) {
    RandomStream layout(1234, static_cast<uint64_t>(episode), StreamPurpose::kTaskLayout);
    for (int k = 0; k < 5; ++k) serial.push_back(layout.Uniform(-1, 1));
    serial.push_back(layout.Normal());
  }
  EXPECT_EQ(all, serial);
}

TEST(AgreeOnError, NoErrorMeansNoThrow) {
  const Communicator comm = World();
  EXPECT_NO_THROW(AgreeOnError(comm, nullptr));
}

TEST(AgreeOnError, EveryRankLearnsTheLowestFailingRanksError) {
  const Communicator comm = World();
  const int failing = comm.size() - 1;  // only the last rank fails
  try {
    RunAgreed(comm, [&] {
      if (comm.rank() == failing) throw InvalidArgumentError("bad value on the last rank");
    });
    FAIL() << "expected AgreedError on every rank";
  } catch (const AgreedError& e) {
    EXPECT_EQ(std::string(e.what()), "bad value on the last rank");
    EXPECT_EQ(e.origin_rank(), failing);
    EXPECT_EQ(e.exit_code(), 2);  // InvalidArgumentError's code travels with the message
  }
}

TEST(ParseConfig, ABadValueOnOneRankFailsEveryRankBeforeAnyOtherCollective) {
  const Communicator comm = World();
  app::RunOptions run;
  run.output = "out";
  int64_t steps = 1;
  config::Schema schema("t", "test");
  app::AddRunOptions(&schema, &run);
  schema.Add("train.steps", &steps, "steps").Min(1).Flag("steps");
  // Rank 0 gets an out-of-range value, the others a valid one.
  const std::string value = comm.rank() == 0 ? "0" : "5";
  const char* argv[] = {"t", "--steps", value.c_str()};
  try {
    app::ParseConfig(&schema, run, comm, 3, argv);
    FAIL() << "expected AgreedError";
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.origin_rank(), 0);
    EXPECT_NE(std::string(e.what()).find("config key 'train.steps'"), std::string::npos);
    EXPECT_EQ(e.exit_code(), 2);
  }
  // Communication still works afterwards: nobody was left inside a collective.
  EXPECT_EQ(comm.AllReduce<int>(1, ReduceOp::kSum), comm.size());
}

}  // namespace
}  // namespace simscale::mpi
