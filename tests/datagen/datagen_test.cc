// datagen_mpi end to end, run as users run it (mpirun + the executable): same content at every
// rank count, filtering, overwrite protection, crash + resume, validation.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/io/episode_store.h"
#include "common/io/hdf5.h"
#include "tests/io/file_dump.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

class DatagenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("simscale_datagen_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Runs datagen_mpi on `ranks` ranks; returns the process result.
  // `tool` datagen_mpi_faults is the same tool with crash injection (--fault.kill_at).
  testing_support::ProcessResult Datagen(int ranks, const std::string& args, fs::path output,
                                         const std::string& tool = "datagen_mpi") {
    return RunProcess(MpiRun(ranks) + ToolPath(tool) + " " + args + " --output " + output.string() +
                          " --log.level warn",
                      300);
  }

  // Every committed byte of the store: index columns and all data columns.
  static std::vector<std::vector<uint8_t>> Content(const fs::path& path) {
    io::EpisodeStoreReader reader(path);
    std::vector<std::vector<uint8_t>> content;
    const io::StoreIndex& index = reader.index();
    content.push_back(io::ToBytes(index.length));
    content.push_back(io::ToBytes(index.seed));
    content.push_back(io::ToBytes(index.episode_index));
    content.push_back(io::ToBytes(index.success));
    content.push_back(io::ToBytes(index.episode_return));
    for (const auto& language : index.language)
      content.emplace_back(language.begin(), language.end());
    for (const auto& column : reader.layout().step_columns) {
      content.push_back(reader.ReadRows(column.name, 0, reader.num_steps()));
    }
    for (const auto& column : reader.layout().obs_columns) {
      content.push_back(
          reader.ReadRows(column.name, 0, reader.num_steps() + reader.num_episodes()));
    }
    return content;
  }

  fs::path dir_;
};

// The resolved config names the output file, which differs between the runs compared
// (common/io/README.md, "Run-specific attributes").
const std::set<std::string> kRunSpecificAttributes = {"/episodes@config_yaml",
                                                      "/data@simscale_config_yaml"};

TEST_F(DatagenTest, SameContentAtAnyRankCount) {
  // 7 episodes, 1 per rank per round: uneven rounds, and ranks with nothing in the last one.
  const std::string args =
      "--env pick_place --episodes 7 --set datagen.episodes_per_round=1 --max-steps 40 "
      "--dr default --cameras agentview --set datagen.image_size=16 --seed 3";
  std::vector<std::vector<uint8_t>> reference;
  std::map<std::string, std::string> reference_file;
  for (int ranks : {1, 2, 3, 4}) {
    const fs::path output = dir_ / ("ranks" + std::to_string(ranks) + ".h5");
    const auto result = Datagen(ranks, args, output);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    const auto content = Content(output);
    // The whole file too: every dataset (checksums included), attribute, DR value, view and
    // mask, except the documented run-specific attributes.
    const auto file = io::testing::DumpFile(output, kRunSpecificAttributes);
    if (reference.empty()) {
      reference = content;
      reference_file = file;
      io::EpisodeStoreReader reader(output);
      EXPECT_EQ(reader.num_episodes(), 7);
      EXPECT_TRUE(reader.complete());
      EXPECT_TRUE(reader.views_built());
    } else {
      ASSERT_EQ(content.size(), reference.size());
      for (size_t i = 0; i < content.size(); ++i) {
        EXPECT_TRUE(content[i] == reference[i])
            << "part " << i << " differs at " << ranks << " ranks";
      }
      EXPECT_EQ(io::testing::DumpDifferences(reference_file, file), "") << ranks << " ranks";
    }
  }
}

TEST_F(DatagenTest, OnlySuccessfulKeepsSuccessesAndReportsTheDropped) {
  // 25 steps are too few for some reach targets: a mix of successes and failures.
  const fs::path all = dir_ / "all.h5", kept = dir_ / "kept.h5";
  const std::string args = "--env reach --episodes 12 --max-steps 25 --seed 1";
  ASSERT_EQ(Datagen(2, args, all).exit_code, 0);
  const auto result = Datagen(2, args + " --set datagen.only_successful=true", kept);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  io::EpisodeStoreReader everything(all), successes(kept);
  int64_t expected = 0;
  for (uint8_t s : everything.index().success) expected += s;
  ASSERT_GT(expected, 0);
  ASSERT_LT(expected, 12) << "the test needs some failures";
  EXPECT_EQ(successes.num_episodes(), expected);
  for (uint8_t s : successes.index().success) EXPECT_EQ(s, 1);
  EXPECT_NE(result.output.find("dropped=" + std::to_string(12 - expected)), std::string::npos)
      << result.output;
  // Stored episodes keep their generation index (the key of their random streams).
  for (int64_t e = 0; e < successes.num_episodes(); ++e) {
    const int64_t original = successes.index().episode_index[static_cast<size_t>(e)];
    EXPECT_EQ(successes.index().length[static_cast<size_t>(e)],
              everything.index().length[static_cast<size_t>(original)]);
  }
}

TEST_F(DatagenTest, RefusesToOverwriteWithoutOverwrite) {
  const fs::path output = dir_ / "data.h5";
  ASSERT_EQ(Datagen(1, "--env reach --episodes 2 --max-steps 5", output).exit_code, 0);
  const auto before = fs::file_size(output);
  const auto again = Datagen(1, "--env reach --episodes 3 --max-steps 5", output);
  EXPECT_NE(again.exit_code, 0);
  EXPECT_NE(again.output.find("--overwrite"), std::string::npos) << again.output;
  EXPECT_EQ(fs::file_size(output), before);
  EXPECT_EQ(Datagen(1, "--env reach --episodes 3 --max-steps 5 --overwrite", output).exit_code, 0);
  EXPECT_EQ(io::EpisodeStoreReader(output).num_episodes(), 3);
}

TEST_F(DatagenTest, ResumeAfterARankIsKilledGivesTheUninterruptedContent) {
  const std::string args =
      "--env pick_place --episodes 10 --set datagen.episodes_per_round=1 "
      "--max-steps 30 --seed 5";
  const fs::path reference = dir_ / "reference.h5", output = dir_ / "resumed.h5";
  ASSERT_EQ(Datagen(2, args, reference).exit_code, 0);
  // Rank 1 dies in round 2 after writing its data but before the round is committed.
  const auto crashed =
      Datagen(2, args + " --fault.kill_at after_data_write:2:1", output, "datagen_mpi_faults");
  EXPECT_NE(crashed.exit_code, 0) << crashed.output;
  EXPECT_FALSE(fs::exists(output));
  ASSERT_TRUE(fs::exists(io::PartialPath(output)));
  const auto resumed = Datagen(2, args + " --resume", output);
  ASSERT_EQ(resumed.exit_code, 0) << resumed.output;
  EXPECT_EQ(Content(output), Content(reference));
  const auto episodes = io::EpisodeStoreReader(output).index().episode_index;
  for (size_t e = 0; e < episodes.size(); ++e) EXPECT_EQ(episodes[e], static_cast<int64_t>(e));
}

TEST_F(DatagenTest, ValidateAndStatsModes) {
  const fs::path output = dir_ / "data.h5";
  ASSERT_EQ(Datagen(2, "--env reach --episodes 4", output).exit_code, 0);
  const auto valid = RunProcess(ToolPath("datagen_mpi") + " --validate " + output.string());
  EXPECT_EQ(valid.exit_code, 0) << valid.output;
  // A byte flipped inside the stored rewards: --validate names the column and the episode.
  const fs::path damaged = dir_ / "damaged.h5";
  fs::copy_file(output, damaged);
  uint64_t address = 0;
  {
    const io::h5::File file = io::h5::File::Open(damaged.string(), io::h5::File::Mode::kReadOnly);
    address = file.OpenDataset("episodes/rewards").ChunkLocations().at(0).file_address;
  }
  {
    std::fstream stream(damaged, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekp(static_cast<std::streamoff>(address + 2));
    stream.put('\x7f');
  }
  const auto invalid = RunProcess(ToolPath("datagen_mpi") + " --validate " + damaged.string());
  EXPECT_EQ(invalid.exit_code, 1) << invalid.output;
  EXPECT_NE(invalid.output.find("/episodes/rewards: episode 0 (rows [0, "), std::string::npos)
      << invalid.output;
  const auto stats = RunProcess(ToolPath("datagen_mpi") + " --stats " + output.string());
  EXPECT_EQ(stats.exit_code, 0) << stats.output;
  EXPECT_NE(stats.output.find("episodes"), std::string::npos) << stats.output;
  EXPECT_NE(stats.output.find("success"), std::string::npos) << stats.output;
}

}  // namespace
}  // namespace simscale
