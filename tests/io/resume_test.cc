// Crash and resume: a writer job killed (SIGKILL, every rank) in the middle of a round leaves a
// `.partial` store whose committed rounds are intact; resuming it, at any rank count, gives the
// same store as an uninterrupted run, with every episode exactly once.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <string>

#include <fmt/format.h>

#include "common/io/episode_store.h"
#include "common/io/validate.h"
#include "tests/io/synthetic_episodes.h"
#include "tests/support/process.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::ProcessResult;
using testing_support::RunProcess;
using testing_support::ToolPath;

constexpr int64_t kEpisodes = 45;

class StoreResumeTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = info->name();
    std::replace(name.begin(), name.end(), '/', '_');
    path_ = fs::current_path() / fmt::format("io_resume_{}.h5", name);
    fs::remove(path_);
    fs::remove(PartialPath(path_));
  }
  void TearDown() override {
    if (!HasFailure()) {
      fs::remove(path_);
      fs::remove(PartialPath(path_));
    }
  }

  ProcessResult Probe(int ranks, const std::string& arguments) const {
    return RunProcess(
        MpiRun(ranks) + ToolPath("io_store_probe") + " " + path_.string() + " " + arguments, 60);
  }

  // Checks the finished store holds exactly episodes 0..kEpisodes-1 with their synthetic content.
  void ExpectCompleteAndCorrect() const {
    ASSERT_TRUE(fs::exists(path_));
    EXPECT_FALSE(fs::exists(PartialPath(path_)));
    const EpisodeStoreReader reader(path_);
    ASSERT_EQ(reader.num_episodes(), kEpisodes);
    for (int64_t e = 0; e < kEpisodes; ++e) {
      EXPECT_EQ(reader.index().episode_index[static_cast<size_t>(e)], e);
    }
    EXPECT_EQ(testing::StoreDigest(reader),
              testing::ExpectedDigest(testing::SyntheticLayout(true), kEpisodes));
    EXPECT_EQ(FormatProblems(ValidateDataset(path_)), "");
  }

  fs::path path_;
};

// Where the job dies, at how many ranks, and at how many it resumes.
struct CrashCase {
  const char* stage;
  int64_t round;
  int crash_ranks;
  int resume_ranks;
  int64_t committed;  // episodes of the rounds before `round` (testing::RoundSize: 5, 1, 7, 0, 3)
};

class StoreCrashTest : public StoreResumeTest, public ::testing::WithParamInterface<CrashCase> {};

TEST_P(StoreCrashTest, ResumeGivesTheUninterruptedStoreWithEveryEpisodeOnce) {
  const CrashCase& c = GetParam();
  const ProcessResult crashed =
      Probe(c.crash_ranks,
            fmt::format("{} --crash-round {} --crash-stage {}", kEpisodes, c.round, c.stage));
  ASSERT_NE(crashed.exit_code, 0) << crashed.output;
  ASSERT_NE(crashed.exit_code, 124) << "the crashed job hung\n" << crashed.output;
  EXPECT_FALSE(fs::exists(path_));
  ASSERT_TRUE(fs::exists(PartialPath(path_)));
  {
    // Only the rounds before the crash are visible, intact; the round in flight is not.
    StoreReaderOptions options;
    options.allow_incomplete = true;
    const EpisodeStoreReader reader(PartialPath(path_), options);
    EXPECT_FALSE(reader.complete());
    EXPECT_EQ(reader.num_episodes(), c.committed);
    for (int64_t e = 0; e < reader.num_episodes(); ++e) {
      const EpisodeRecord expected = testing::SyntheticEpisode(reader.layout(), e);
      const EpisodeRecord actual = reader.ReadEpisode(e);
      EXPECT_EQ(actual.step_data, expected.step_data) << "episode " << e;
      EXPECT_EQ(actual.obs_data, expected.obs_data) << "episode " << e;
    }
  }
  const ProcessResult resumed = Probe(c.resume_ranks, fmt::format("{} --resume", kEpisodes));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_NE(resumed.output.find(fmt::format("committed before: {}", c.committed)),
            std::string::npos)
      << resumed.output;
  ExpectCompleteAndCorrect();
}

INSTANTIATE_TEST_SUITE_P(EveryStageOfARound, StoreCrashTest,
                         ::testing::Values(CrashCase{"after_extend", 1, 4, 2, 5},
                                           CrashCase{"after_data_write", 2, 3, 1, 6},
                                           CrashCase{"after_data_flush", 4, 2, 3, 13},
                                           CrashCase{"after_commit", 0, 1, 4, 5}),
                         [](const ::testing::TestParamInfo<CrashCase>& info) {
                           return std::string(info.param.stage);
                         });

TEST_F(StoreResumeTest, APartialFileBlocksAFreshStartAndAFinishedFileBlocksResume) {
  ASSERT_NE(
      Probe(2, fmt::format("{} --crash-round 1 --crash-stage after_commit", kEpisodes)).exit_code,
      0);
  const auto partial_size = fs::file_size(PartialPath(path_));
  // Starting again without --resume or --overwrite would lose the committed rounds: refused.
  const ProcessResult fresh = Probe(2, fmt::format("{}", kEpisodes));
  EXPECT_EQ(fresh.exit_code, 2) << fresh.output;
  EXPECT_NE(fresh.output.find(fmt::format("'{}' exists: an interrupted run left it; resume that "
                                          "run",
                                          PartialPath(path_).string())),
            std::string::npos)
      << fresh.output;
  EXPECT_EQ(fs::file_size(PartialPath(path_)), partial_size);

  ASSERT_EQ(Probe(2, fmt::format("{} --resume", kEpisodes)).exit_code, 0);
  ExpectCompleteAndCorrect();
  const ProcessResult again = Probe(2, fmt::format("{} --resume", kEpisodes));
  EXPECT_EQ(again.exit_code, 2) << again.output;
  EXPECT_NE(again.output.find("nothing to resume: '" + path_.string() + "' is already complete"),
            std::string::npos)
      << again.output;
  ExpectCompleteAndCorrect();
}

}  // namespace
}  // namespace simscale::io
