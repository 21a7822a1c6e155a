// evaluate's interrupted runs and videos: an evaluation SIGKILLed mid-way resumes (at another rank
// count) to the results of an uninterrupted one, without playing a finished episode again; the
// episode record's torn and bad lines; eval.video writes an MP4 with one frame per step, or is a
// clear error without ffmpeg.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/eval/episode_record.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing_support::BackgroundProcess;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

class EvaluateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("simscale_evaluate_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // pick_place with its expert: about 100 steps an episode, long enough to be killed mid-way.
  static std::string Args(const fs::path& out) {
    return " --env pick_place --policy scripted --episodes 24 --seed 7 --plots false --output " +
           out.string() + " --log.level warn";
  }
  static int64_t RecordedLines(const fs::path& records) {
    int64_t lines = 0;
    if (!fs::exists(records)) return 0;
    for (const auto& entry : fs::directory_iterator(records)) {
      std::ifstream in(entry.path());
      for (std::string line; std::getline(in, line);) ++lines;
    }
    return lines;
  }

  fs::path dir_;
};

TEST_F(EvaluateTest, KilledEvaluationResumesToTheUninterruptedResultsWithoutReplaying) {
  const auto full = RunProcess(MpiRun(2) + ToolPath("evaluate") + Args(dir_ / "full"), 600);
  ASSERT_EQ(full.exit_code, 0) << full.output;

  const fs::path part = dir_ / "part";
  {
    BackgroundProcess eval(
        {ToolPath("evaluate"), "--env", "pick_place", "--policy", "scripted", "--episodes", "24",
         "--seed", "7", "--plots", "false", "--output", part.string()},
        (dir_ / "part.log").string());
    for (int i = 0; i < 1200 && eval.running() && RecordedLines(part / "episodes") < 5; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ASSERT_TRUE(eval.running()) << eval.output();
    eval.Signal(SIGKILL);
    EXPECT_EQ(eval.Wait(60), 128 + SIGKILL);
  }
  const int64_t recorded = RecordedLines(part / "episodes");
  ASSERT_GE(recorded, 5);
  ASSERT_LT(recorded, 24) << "the evaluation finished before it was killed";

  // Without --resume an interrupted evaluation is neither continued nor replaced.
  const auto refused = RunProcess(ToolPath("evaluate") + Args(part));
  EXPECT_EQ(refused.exit_code, 2) << refused.output;
  EXPECT_NE(refused.output.find("--resume"), std::string::npos) << refused.output;
  // Another episode count is another evaluation.
  const auto changed = RunProcess(ToolPath("evaluate") + Args(part) + " --resume --episodes 30");
  EXPECT_EQ(changed.exit_code, 2) << changed.output;
  EXPECT_NE(changed.output.find("eval.episodes"), std::string::npos) << changed.output;

  // A copy whose record says episode 10 returned 1000: the resumed results must show it, which
  // they can only if the recorded episodes were taken as recorded instead of played again.
  const fs::path tampered = dir_ / "tampered";
  fs::copy(part, tampered, fs::copy_options::recursive);
  int64_t tampered_episode = -1;
  for (const auto& entry : fs::directory_iterator(tampered / "episodes")) {
    std::string text;
    std::ifstream in(entry.path());
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      if (tampered_episode < 0) {
        tampered_episode = j["episode"].get<int64_t>();
        j["return"] = 1000.0;
      }
      text += j.dump() + "\n";
    }
    WriteFileAtomic(entry.path(), text);
  }

  // Resumed at two ranks (the killed run had one).
  const auto resumed = RunProcess(MpiRun(2) + ToolPath("evaluate") + Args(part) + " --resume", 600);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(ReadFile(part / "results.json"), ReadFile(dir_ / "full/results.json"));
  EXPECT_EQ(ReadFile(part / "results.csv"), ReadFile(dir_ / "full/results.csv"));
  EXPECT_FALSE(fs::exists(part / "episodes")) << "the record outlived the results";
  // Resuming a finished evaluation (a requeued job) changes nothing.
  const auto again = RunProcess(ToolPath("evaluate") + Args(part) + " --resume");
  EXPECT_EQ(again.exit_code, 0) << again.output;
  EXPECT_EQ(ReadFile(part / "results.json"), ReadFile(dir_ / "full/results.json"));

  ASSERT_EQ(RunProcess(ToolPath("evaluate") + Args(tampered) + " --resume", 600).exit_code, 0);
  const json results = json::parse(ReadFile(tampered / "results.json"));
  const json& episode = results.at("episodes_detail").at(static_cast<size_t>(tampered_episode));
  EXPECT_EQ(episode.at("episode").get<int64_t>(), tampered_episode);
  EXPECT_EQ(episode.at("return").get<double>(), 1000.0) << "a recorded episode was played again";
}

TEST(EpisodeRecord, TornLastLineIsIgnoredOtherBadLinesAndConflictsAreErrors) {
  const fs::path dir = fs::temp_directory_path() / ("simscale_record_" + std::to_string(getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  eval::EpisodeOutcome a;
  a.episode = 3;
  a.success = true;
  a.episode_return = 0.1 + 0.2;  // not exactly representable in few digits
  a.length = 17;
  {
    eval::EpisodeRecordWriter writer(dir / "0-0.jsonl");
    writer.Append("clean", a);
  }
  WriteFileAtomic(dir / "0-1.jsonl", ReadFile(dir / "0-0.jsonl") + "{\"condition\": \"cle");
  const auto finished = eval::ReadEpisodeRecords(dir);
  ASSERT_EQ(finished.at("clean").size(), 1u);
  EXPECT_EQ(finished.at("clean")[0].episode_return, a.episode_return);
  EXPECT_EQ(finished.at("clean")[0].length, 17);
  EXPECT_EQ(eval::NextRecordAttempt(dir), 1);

  WriteFileAtomic(dir / "1-0.jsonl", "not json\n" + ReadFile(dir / "0-0.jsonl"));
  try {
    eval::ReadEpisodeRecords(dir);
    ADD_FAILURE() << "a bad line in the middle of a record was accepted";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("1-0.jsonl' line 1"), std::string::npos) << e.what();
  }
  a.length = 18;
  {
    eval::EpisodeRecordWriter writer(dir / "1-0.jsonl.conflict");
    writer.Append("clean", a);
  }
  fs::rename(dir / "1-0.jsonl.conflict", dir / "1-0.jsonl");
  EXPECT_THROW(eval::ReadEpisodeRecords(dir), InvalidArgumentError);
  fs::remove_all(dir);
}

TEST_F(EvaluateTest, VideoHasAFramePerStepOfEpisodeZero) {
  if (RunProcess("ffprobe -version").exit_code != 0) {
    GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  }
  const fs::path out = dir_ / "video";
  // No frame grid asked for: the video alone.
  const auto run = RunProcess(ToolPath("evaluate") +
                                  " --env reach --policy scripted --episodes 2 --plots false "
                                  "--set eval.video=true --output " +
                                  out.string(),
                              300);
  ASSERT_EQ(run.exit_code, 0) << run.output;
  const fs::path mp4 = out / "episode0_clean.mp4";
  ASSERT_TRUE(fs::exists(mp4)) << run.output;
  const auto probe = RunProcess(
      "ffprobe -v error -count_frames -select_streams v:0 -show_entries "
      "stream=nb_read_frames,width,height -of csv=p=0 " +
      mp4.string());
  ASSERT_EQ(probe.exit_code, 0) << probe.output;
  const json results = json::parse(ReadFile(out / "results.json"));
  const int64_t length = results.at("episodes_detail").at(0).at("length").get<int64_t>();
  // The frame after reset and one after each step.
  EXPECT_EQ(probe.output, "128,128," + std::to_string(length + 1) + "\n");
}

TEST_F(EvaluateTest, VideoWithoutFfmpegIsAClearErrorBeforeAnyEpisode) {
  // A PATH with every program of this one (MPI starts helpers from it) except ffmpeg.
  const fs::path bin = dir_ / "bin";
  fs::create_directories(bin);
  std::string path = std::getenv("PATH") != nullptr ? std::getenv("PATH") : "/usr/bin:/bin";
  for (size_t begin = 0; begin <= path.size();) {
    const size_t end = std::min(path.find(':', begin), path.size());
    const fs::path dir = path.substr(begin, end - begin);
    begin = end + 1;
    std::error_code error;
    for (fs::directory_iterator it(dir, error), last; !error && it != last; it.increment(error)) {
      const fs::path link = bin / it->path().filename();
      if (it->path().filename() != "ffmpeg" && !fs::exists(fs::symlink_status(link)))
        fs::create_symlink(it->path(), link);
    }
  }
  const auto run = RunProcess("env PATH=" + bin.string() + " " + ToolPath("evaluate") +
                              " --env reach --policy scripted --episodes 2 --plots false "
                              "--set eval.video=true --output " +
                              (dir_ / "novideo").string());
  EXPECT_EQ(run.exit_code, 2) << run.output;
  EXPECT_NE(run.output.find("eval.video needs ffmpeg"), std::string::npos) << run.output;
  EXPECT_FALSE(fs::exists(dir_ / "novideo/results.json"));
}

}  // namespace
}  // namespace simscale
