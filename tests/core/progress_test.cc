#include "common/core/progress.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace simscale {
namespace {

struct FakeClock {
  Progress::Clock::time_point now{};
  void Advance(double seconds) {
    now += std::chrono::duration_cast<Progress::Clock::duration>(
        std::chrono::duration<double>(seconds));
  }
};

TEST(Progress, BatchModePrintsPeriodicLinesWithRateAndEta) {
  FakeClock clock;
  std::vector<std::string> lines;
  Progress::Options options;
  options.label = "datagen";
  options.unit = "episodes";
  options.mode = Progress::Options::Mode::kLines;
  options.line_interval = std::chrono::seconds(10);
  Progress progress(
      100, options,
      [&](std::string_view text, bool terminal) {
        EXPECT_FALSE(terminal);
        lines.emplace_back(text);
      },
      [&] { return clock.now; });

  clock.Advance(5);
  progress.Update(10);  // before the first interval: silent
  EXPECT_TRUE(lines.empty());
  clock.Advance(5);
  progress.Update(20);  // 20 episodes in 10 s: 2/s, 80 left -> ETA 40 s
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "datagen: 20/100 episodes (20%), 2 episodes/s, elapsed 10s, ETA 40s");
  clock.Advance(1);
  progress.Update(25);  // throttled
  EXPECT_EQ(lines.size(), 1u);
  clock.Advance(39);
  progress.Finish("all ranks");
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1],
            "datagen: 25/100 episodes (25%), 0.5 episodes/s, elapsed 50s, ETA 2m30s, all ranks "
            "(done)");
}

TEST(Progress, TerminalModeRedrawsOneBar) {
  FakeClock clock;
  std::vector<std::string> frames;
  Progress::Options options;
  options.label = "train";
  options.unit = "steps";
  options.mode = Progress::Options::Mode::kTerminal;
  Progress progress(
      10, options,
      [&](std::string_view text, bool terminal) {
        EXPECT_TRUE(terminal);
        frames.emplace_back(text);
      },
      [&] { return clock.now; });
  clock.Advance(1);
  progress.Update(5);
  ASSERT_EQ(frames.size(), 1u);
  EXPECT_EQ(frames[0].rfind("\r", 0), 0u) << "a redraw starts with a carriage return";
  EXPECT_NE(frames[0].find("[###############...............]"), std::string::npos) << frames[0];
  EXPECT_EQ(frames[0].find('\n'), std::string::npos);
  clock.Advance(1);
  progress.Finish();
  ASSERT_EQ(frames.size(), 2u);
  EXPECT_EQ(frames[1].back(), '\n');
}

TEST(Progress, DisabledPrintsNothing) {
  int calls = 0;
  Progress::Options options;
  options.enabled = false;
  options.mode = Progress::Options::Mode::kLines;
  options.line_interval = std::chrono::seconds(0);
  {
    Progress progress(3, options, [&](std::string_view, bool) { ++calls; });
    progress.Update(1);
    progress.Update(3);
  }
  EXPECT_EQ(calls, 0);
}

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(Progress::FormatDuration(4.4), "4s");
  EXPECT_EQ(Progress::FormatDuration(245), "4m05s");
  EXPECT_EQ(Progress::FormatDuration(3720), "1h02m");
  EXPECT_EQ(Progress::FormatDuration(-1), "?");
}

}  // namespace
}  // namespace simscale
