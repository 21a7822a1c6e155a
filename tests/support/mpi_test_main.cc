// gtest main for tests run under mpirun: one MPI context for the whole binary; ranks other than 0
// print only failures (tagged with their rank) so the log stays readable.
#include <gtest/gtest.h>

#include <cstdio>

#include "common/mpi/mpi.h"

namespace {

class FailurePrinter : public testing::EmptyTestEventListener {
 public:
  explicit FailurePrinter(int rank) : rank_(rank) {}
  void OnTestPartResult(const testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "rank %d: %s:%d: failure\n%s\n", rank_,
                 result.file_name() ? result.file_name() : "?", result.line_number(),
                 result.summary());
  }

 private:
  int rank_;
};

}  // namespace

int main(int argc, char** argv) {
  testing::InitGoogleTest(&argc, argv);
  simscale::mpi::Context context(&argc, &argv);
  const int rank = context.world().rank();
  if (rank != 0) {
    auto& listeners = testing::UnitTest::GetInstance()->listeners();
    delete listeners.Release(listeners.default_result_printer());
    listeners.Append(new FailurePrinter(rank));
  }
  const int local = RUN_ALL_TESTS();
  // Every rank must agree: a test that failed on one rank fails the job.
  const int worst = context.world().AllReduce(local, simscale::mpi::ReduceOp::kMax);
  return worst;
}
