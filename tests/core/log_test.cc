#include "common/core/log.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/core/error.h"

namespace simscale {
namespace {

class LogTest : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ =
        log::SetSink([this](log::Level, std::string_view line) { lines_.emplace_back(line); });
  }
  void TearDown() override {
    log::SetSink(previous_);
    log::SetRank(0, 1);
    log::SetLevel(log::Level::kInfo);
    log::SetAllRanksVerbose(false);
  }
  log::Sink previous_;
  std::vector<std::string> lines_;
};

TEST_F(LogTest, RankZeroPrintsInfoTaggedWithItsRank) {
  log::SetRank(0, 4);
  log::Info("episodes done: {}", 12);
  ASSERT_EQ(lines_.size(), 1u);
  EXPECT_NE(lines_[0].find("rank 0/4 info] episodes done: 12"), std::string::npos) << lines_[0];
}

TEST_F(LogTest, OtherRanksPrintOnlyWarningsAndErrors) {
  log::SetRank(3, 4);
  log::Info("hidden");
  log::Debug("hidden too");
  log::Warn("slow rank");
  log::Error("failed");
  ASSERT_EQ(lines_.size(), 2u);
  EXPECT_NE(lines_[0].find("rank 3/4 warn] slow rank"), std::string::npos) << lines_[0];
  EXPECT_NE(lines_[1].find("rank 3/4 error] failed"), std::string::npos) << lines_[1];
}

TEST_F(LogTest, AllRanksVerboseLetsOtherRanksSpeak) {
  log::SetRank(2, 4);
  log::SetAllRanksVerbose(true);
  log::Info("now visible");
  EXPECT_EQ(lines_.size(), 1u);
}

TEST_F(LogTest, LevelFiltersBelowIt) {
  log::SetLevel(log::Level::kWarn);
  log::Info("hidden");
  log::Warn("shown");
  EXPECT_EQ(lines_.size(), 1u);
  log::SetLevel(log::Level::kDebug);
  log::Debug("debug shown");
  EXPECT_EQ(lines_.size(), 2u);
}

TEST_F(LogTest, ParseLevelRejectsUnknownNames) {
  EXPECT_EQ(log::ParseLevel("debug"), log::Level::kDebug);
  EXPECT_EQ(log::ParseLevel("off"), log::Level::kOff);
  try {
    log::ParseLevel("verbose");
    FAIL() << "expected a throw";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("'verbose'"), std::string::npos);
  }
}

}  // namespace
}  // namespace simscale
