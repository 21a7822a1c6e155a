// An exception escaping main on one rank must end the whole mpirun job with a non-zero exit code
// within seconds, never leave the other ranks hanging in a collective.
#include <gtest/gtest.h>

#include <string>

#include "tests/support/process.h"

namespace simscale {
namespace {
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

TEST(MpiAbort, ExceptionOnRank1Of4EndsTheJobWithNonZeroExit) {
  const auto result = RunProcess(MpiRun(4) + ToolPath("mpi_abort_probe") + " throw 1", 60);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.exit_code, 124) << "the job hung until the timeout killed it\n" << result.output;
  EXPECT_NE(result.output.find("rank 1: deliberate failure"), std::string::npos) << result.output;
  // Not a performance claim: a hang would take the full 60 s timeout.
  EXPECT_LT(result.seconds, 30.0) << result.output;
}

TEST(MpiAbort, AgreedConfigErrorExitsEveryRankCleanlyWithCode2) {
  const auto result = RunProcess(MpiRun(4) + ToolPath("mpi_abort_probe") + " agreed 2", 60);
  EXPECT_NE(result.exit_code, 0) << result.output;
  EXPECT_NE(result.exit_code, 124) << result.output;
  EXPECT_NE(result.output.find("config key 'x': expected an integer, got 'y'"), std::string::npos)
      << result.output;
  EXPECT_EQ(result.output.find("MPI_ABORT"), std::string::npos)
      << "an agreed error must not abort\n"
      << result.output;
}

TEST(MpiAbort, WithoutMpirunTheToolRunsAsOneRankAndReportsTheError) {
  const auto ok = RunProcess(ToolPath("mpi_abort_probe") + " ok", 60);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
  const auto failed = RunProcess(ToolPath("mpi_abort_probe") + " throw 0", 60);
  EXPECT_EQ(failed.exit_code, 1) << failed.output;
  EXPECT_NE(failed.output.find("rank 0: deliberate failure"), std::string::npos) << failed.output;
}

}  // namespace
}  // namespace simscale
