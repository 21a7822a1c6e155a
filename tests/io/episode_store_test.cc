// Run by ctest under mpirun at 1, 2, 3 and 4 ranks: the store a writer produces must not depend on
// the number of ranks that wrote it.
#include "common/io/episode_store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/io/hdf5.h"
#include "common/io/schema.h"
#include "common/io/validate.h"
#include "common/mpi/mpi.h"
#include "tests/io/file_dump.h"
#include "tests/io/synthetic_episodes.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;
using testing::SyntheticEpisode;
using testing::SyntheticLayout;

mpi::Communicator World() { return mpi::Communicator(MPI_COMM_WORLD); }

// A file name unique to the test and the rank count (ctest runs rank counts in parallel).
fs::path TestFile(const std::string& name) {
  const fs::path path = fs::current_path() / fmt::format("io_{}_np{}.h5", name, World().size());
  World().Barrier();
  if (World().is_root()) {
    fs::remove(path);
    fs::remove(PartialPath(path));
  }
  World().Barrier();
  return path;
}

// Removes a test's file once it passed (kept for inspection when it failed).
void RemoveIfPassed(const fs::path& path) {
  World().Barrier();
  if (World().is_root() && !::testing::Test::HasFailure()) fs::remove(path);
}

StoreWriterOptions Overwrite() {
  StoreWriterOptions options;
  options.overwrite = true;
  return options;
}

template <typename T>
std::vector<T> ReadAll(const h5::Dataset& dataset, DType dtype, size_t count) {
  std::vector<T> values(count);
  dataset.ReadAll(h5::Datatype::Native(dtype), values.data());
  return values;
}

// Compares every field of `actual` with the synthetic episode `e`.
void ExpectEpisodeEquals(const EpisodeRecord& actual, const EpisodeRecord& expected) {
  const int64_t e = expected.episode_index;
  EXPECT_EQ(actual.episode_index, e);
  EXPECT_EQ(actual.seed, expected.seed) << "episode " << e;
  EXPECT_EQ(actual.length, expected.length) << "episode " << e;
  EXPECT_EQ(actual.success, expected.success) << "episode " << e;
  EXPECT_EQ(actual.diverged, expected.diverged) << "episode " << e;
  EXPECT_EQ(actual.episode_return, expected.episode_return) << "episode " << e;
  EXPECT_EQ(actual.language, expected.language) << "episode " << e;
  EXPECT_EQ(actual.dr_values, expected.dr_values) << "episode " << e;
  ASSERT_EQ(actual.step_data.size(), expected.step_data.size());
  for (size_t c = 0; c < expected.step_data.size(); ++c) {
    EXPECT_EQ(actual.step_data[c], expected.step_data[c])
        << "episode " << e << " step column " << c;
  }
  ASSERT_EQ(actual.obs_data.size(), expected.obs_data.size());
  for (size_t c = 0; c < expected.obs_data.size(); ++c) {
    EXPECT_EQ(actual.obs_data[c], expected.obs_data[c]) << "episode " << e << " obs column " << c;
  }
}

// Reads every view of every demo and compares it with the synthetic episode it shows.
void ExpectViewsMatch(const fs::path& path, const StoreLayout& layout, int64_t episodes,
                      const ViewOptions& view_options) {
  const h5::File file = h5::File::Open(path.string(), h5::File::Mode::kReadOnly);
  const h5::Group data = file.OpenGroup("data");
  // robomimic's members, in its order; env_kwargs exactly as the layout gave them.
  EXPECT_EQ(nlohmann::ordered_json::parse(data.ReadStringAttribute("env_args")),
            nlohmann::ordered_json::parse(
                R"({"env_name": "SyntheticReach", "type": 2, "env_kwargs": {"control_freq": 20, )"
                R"("camera": "agentview"}})"));
  int64_t total = 0;
  for (int64_t e = 0; e < episodes; ++e) total += testing::SyntheticLength(e);
  EXPECT_EQ(data.ReadIntAttribute("total"), total);
  EXPECT_EQ(data.ReadStringAttribute("simscale_git_sha"), "0123456789ab");
  EXPECT_EQ(data.ChildNames().size(), static_cast<size_t>(episodes));
  for (int64_t e = 0; e < episodes; ++e) {
    const EpisodeRecord expected = SyntheticEpisode(layout, e);
    const size_t T = static_cast<size_t>(expected.length);
    const h5::Group demo = data.OpenGroup(fmt::format("demo_{}", e));
    EXPECT_EQ(demo.ReadIntAttribute("num_samples"), expected.length);
    EXPECT_EQ(demo.ReadIntAttribute("seed"), expected.seed);
    EXPECT_EQ(demo.ReadIntAttribute("success"), expected.success ? 1 : 0);
    EXPECT_EQ(demo.ReadIntAttribute("diverged"), expected.diverged ? 1 : 0);
    EXPECT_EQ(demo.ReadStringAttribute("language"), expected.language);
    EXPECT_EQ(demo.ReadDoubleAttribute("dr_friction"), expected.dr_values[0]);
    EXPECT_EQ(demo.ReadDoubleAttribute("dr_mass_scale"), expected.dr_values[1]);
    for (size_t c = 0; c < layout.step_columns.size(); ++c) {
      const ColumnSpec& column = layout.step_columns[c];
      const std::vector<uint8_t> bytes =
          ReadAll<uint8_t>(demo.OpenDataset(column.name), column.dtype, T * column.row_bytes());
      EXPECT_EQ(bytes, expected.step_data[c]) << "demo_" << e << "/" << column.name;
    }
    for (size_t c = 0; c < layout.obs_columns.size(); ++c) {
      const ColumnSpec& column = layout.obs_columns[c];
      const size_t row = column.row_bytes();
      const std::vector<uint8_t>& all = expected.obs_data[c];  // T + 1 rows
      const std::string key = column.name.substr(4);
      EXPECT_EQ(ReadAll<uint8_t>(demo.OpenDataset("obs/" + key), column.dtype, T * row),
                std::vector<uint8_t>(all.begin(), all.begin() + static_cast<ptrdiff_t>(T * row)))
          << "demo_" << e << "/obs/" << key;
      EXPECT_EQ(ReadAll<uint8_t>(demo.OpenDataset("next_obs/" + key), column.dtype, T * row),
                std::vector<uint8_t>(all.begin() + static_cast<ptrdiff_t>(row), all.end()))
          << "demo_" << e << "/next_obs/" << key;
    }
  }
  // Masks: the valid demos are the ones ValidEpisodes picks, the rest are train.
  const std::vector<int64_t> valid = ValidEpisodes(episodes, view_options);
  const auto read_names = [&](const std::string& name) {
    const h5::Dataset dataset = file.OpenDataset(name);
    const size_t width = dataset.datatype().size();
    const size_t count = static_cast<size_t>(dataset.dims()[0]);
    std::vector<char> bytes(count * width);
    if (count > 0) dataset.ReadAll(dataset.datatype(), bytes.data());
    std::vector<std::string> names;
    for (size_t i = 0; i < count; ++i) {
      names.emplace_back(bytes.data() + i * width, strnlen(bytes.data() + i * width, width));
    }
    return names;
  };
  std::vector<std::string> expected_valid;
  std::vector<std::string> expected_train;
  for (int64_t e = 0; e < episodes; ++e) {
    const bool is_valid = std::find(valid.begin(), valid.end(), e) != valid.end();
    (is_valid ? expected_valid : expected_train).push_back(fmt::format("demo_{}", e));
  }
  EXPECT_EQ(read_names("mask/valid"), expected_valid);
  EXPECT_EQ(read_names("mask/train"), expected_train);
}

TEST(EpisodeStore, SameContentAtAnyRankCount) {
  const mpi::Communicator comm = World();
  constexpr int64_t kEpisodes = 41;
  const StoreLayout layout = SyntheticLayout(/*images=*/true);
  const fs::path path = TestFile("same_content");
  StoreWriterOptions options = Overwrite();
  options.views.valid_fraction = 0.2;
  options.views.split_seed = 7;
  EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path, comm, layout, options);
  testing::WriteSyntheticRounds(writer, comm, kEpisodes);
  EXPECT_EQ(writer.committed_episodes(), kEpisodes);
  writer.Finalize();

  if (comm.is_root()) {
    EXPECT_TRUE(fs::exists(path));
    EXPECT_FALSE(fs::exists(PartialPath(path)));
    const EpisodeStoreReader reader(path);
    EXPECT_TRUE(reader.complete());
    ASSERT_EQ(reader.num_episodes(), kEpisodes);
    // The index: contiguous episodes in global order, T + 1 observation rows each.
    int64_t step = 0;
    for (int64_t e = 0; e < kEpisodes; ++e) {
      const size_t i = static_cast<size_t>(e);
      EXPECT_EQ(reader.index().episode_index[i], e);
      EXPECT_EQ(reader.index().start_step[i], step);
      EXPECT_EQ(reader.index().start_obs[i], step + e);
      step += reader.index().length[i];
      ExpectEpisodeEquals(reader.ReadEpisode(e), SyntheticEpisode(layout, e));
    }
    EXPECT_EQ(reader.num_steps(), step);
    ExpectViewsMatch(path, layout, kEpisodes, options.views);
    EXPECT_EQ(FormatProblems(ValidateDataset(path)), "");

    // The digest of the store equals the one computed from the episodes in memory, and the one
    // of the same episodes written by a single rank.
    const uint64_t digest = testing::StoreDigest(reader);
    EXPECT_EQ(digest, testing::ExpectedDigest(layout, kEpisodes));
    const fs::path serial_path = fs::path(path).replace_extension(".serial.h5");
    fs::remove(serial_path);
    const mpi::Communicator self(MPI_COMM_SELF);
    EpisodeStoreWriter serial = EpisodeStoreWriter::Create(serial_path, self, layout, options);
    std::vector<EpisodeRecord> all;
    for (int64_t e = 0; e < kEpisodes; ++e) all.push_back(SyntheticEpisode(layout, e));
    serial.AppendRound(all);
    serial.Finalize();
    EXPECT_EQ(testing::StoreDigest(EpisodeStoreReader(serial_path)), digest);
    // The whole file: every dataset (checksums included), attribute, view and mask.
    EXPECT_EQ(testing::DumpDifferences(testing::DumpFile(serial_path), testing::DumpFile(path)),
              "");
    fs::remove(serial_path);
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, PartialFileUntilFinalizeThenRenamed) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("rename");
  EpisodeStoreWriter writer =
      EpisodeStoreWriter::Create(path, comm, SyntheticLayout(false), Overwrite());
  testing::WriteSyntheticRounds(writer, comm, 6);
  comm.Barrier();
  EXPECT_TRUE(fs::exists(PartialPath(path)));
  EXPECT_FALSE(fs::exists(path));
  // While writing, a reader sees only committed rounds and refuses the store unless told.
  if (comm.is_root()) {
    try {
      EpisodeStoreReader reader(PartialPath(path));
      ADD_FAILURE() << "an incomplete store was opened without allow_incomplete";
    } catch (const InvalidArgumentError& error) {
      EXPECT_NE(std::string(error.what()).find("was left by a datagen run that did not finish"),
                std::string::npos)
          << error.what();
    }
  }
  comm.Barrier();
  writer.Finalize();
  comm.Barrier();
  EXPECT_TRUE(fs::exists(path));
  EXPECT_FALSE(fs::exists(PartialPath(path)));
  RemoveIfPassed(path);
}

TEST(EpisodeStore, RefusesToReplaceAnExistingFile) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("refuse");
  {
    EpisodeStoreWriter writer =
        EpisodeStoreWriter::Create(path, comm, SyntheticLayout(false), Overwrite());
    testing::WriteSyntheticRounds(writer, comm, 3);
    writer.Finalize();
  }
  const auto size_before = fs::file_size(path);
  try {
    EpisodeStoreWriter::Create(path, comm, SyntheticLayout(false));
    ADD_FAILURE() << "Create replaced an existing file";
  } catch (const mpi::AgreedError& error) {
    EXPECT_NE(std::string(error.what()).find("refusing to replace it"), std::string::npos)
        << error.what();
    EXPECT_NE(std::string(error.what()).find(path.string()), std::string::npos) << error.what();
    EXPECT_EQ(error.exit_code(), 2);
  }
  comm.Barrier();
  EXPECT_EQ(fs::file_size(path), size_before);
  EXPECT_FALSE(fs::exists(PartialPath(path)));
  if (comm.is_root()) {
    EXPECT_EQ(EpisodeStoreReader(path).num_episodes(), 3);
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, EpisodesOutOfRankOrderAreRejectedOnEveryRank) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("order");
  const StoreLayout layout = SyntheticLayout(false);
  EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path, comm, layout, Overwrite());
  // With one rank: two episodes in decreasing order. With more: each rank holds episode
  // (size - 1 - rank), so the blocks are in reverse rank order.
  std::vector<EpisodeRecord> wrong;
  if (comm.size() == 1) {
    wrong = {SyntheticEpisode(layout, 1), SyntheticEpisode(layout, 0)};
  } else {
    wrong = {SyntheticEpisode(layout, comm.size() - 1 - comm.rank())};
  }
  try {
    writer.AppendRound(wrong);
    ADD_FAILURE() << "out-of-order episodes were accepted";
  } catch (const Error& error) {  // agreed on every rank (an AgreedError) or the rank-order check
    const std::string expected = comm.size() == 1 ? "must have increasing indices"
                                                  : "increasing episode indices in rank order";
    EXPECT_NE(std::string(error.what()).find(expected), std::string::npos) << error.what();
  }
  EXPECT_EQ(writer.committed_episodes(), 0);
  // Nothing was written: a correct round still goes in at row 0.
  testing::WriteSyntheticRounds(writer, comm, 4);
  writer.Finalize();
  if (comm.is_root()) {
    const EpisodeStoreReader reader(path);
    ASSERT_EQ(reader.num_episodes(), 4);
    ExpectEpisodeEquals(reader.ReadEpisode(0), SyntheticEpisode(layout, 0));
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, BadRecordOnOneRankIsReportedOnEveryRankBeforeWriting) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("bad_record");
  const StoreLayout layout = SyntheticLayout(false);
  EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path, comm, layout, Overwrite());
  const mpi::Range mine =
      mpi::SplitEvenly(mpi::Range{0, 2 * comm.size()}, comm.size(), comm.rank());
  std::vector<EpisodeRecord> records;
  for (int64_t e = mine.begin; e < mine.end; ++e) records.push_back(SyntheticEpisode(layout, e));
  if (comm.rank() == comm.size() - 1) records.back().step_data[0].pop_back();  // actions short
  try {
    writer.AppendRound(records);
    ADD_FAILURE() << "a record with a short column was accepted";
  } catch (const mpi::AgreedError& error) {
    EXPECT_EQ(error.origin_rank(), comm.size() - 1);
    EXPECT_NE(std::string(error.what()).find("column 'actions' size in bytes"), std::string::npos)
        << error.what();
  }
  EXPECT_EQ(writer.committed_episodes(), 0);
  writer.Finalize();
  if (comm.is_root()) {
    EXPECT_EQ(EpisodeStoreReader(path).num_episodes(), 0);
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, ResumeWithAnotherLayoutListsEveryDifferenceAndKeepsTheFile) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("resume_layout");
  {
    EpisodeStoreWriter writer =
        EpisodeStoreWriter::Create(path, comm, SyntheticLayout(false), Overwrite());
    testing::WriteSyntheticRounds(writer, comm, 6);
    // Destroyed without Finalize: what a crash between rounds leaves.
  }
  StoreLayout other = SyntheticLayout(false);
  other.step_columns[0].row_shape = {7};
  other.obs_columns.push_back(ColumnSpec::LowDim("obs/extra", DType::kFloat32, {2}));
  other.env_name = "OtherEnv";
  try {
    EpisodeStoreWriter::OpenForResume(path, comm, other);
    ADD_FAILURE() << "resumed with a different layout";
  } catch (const mpi::AgreedError& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find(PartialPath(path).string()), std::string::npos) << message;
    EXPECT_NE(
        message.find("step column 'actions': the file has float32 (4), requested float32 (7)"),
        std::string::npos)
        << message;
    EXPECT_NE(message.find("observation column 'obs/extra' is requested but the file has none"),
              std::string::npos)
        << message;
    EXPECT_NE(message.find("env_name: the file has 'SyntheticReach', requested 'OtherEnv'"),
              std::string::npos)
        << message;
  }
  comm.Barrier();
  if (comm.is_root()) {
    StoreReaderOptions options;
    options.allow_incomplete = true;
    const EpisodeStoreReader reader(PartialPath(path), options);
    EXPECT_EQ(reader.num_episodes(), 6);
    EXPECT_FALSE(reader.complete());
  }
  comm.Barrier();
  // The right layout resumes and completes it.
  EpisodeStoreWriter writer = EpisodeStoreWriter::OpenForResume(path, comm, SyntheticLayout(false));
  EXPECT_EQ(writer.committed_episodes(), 6);
  testing::WriteSyntheticRounds(writer, comm, 10);
  writer.Finalize();
  if (comm.is_root()) {
    EXPECT_EQ(testing::StoreDigest(EpisodeStoreReader(path)),
              testing::ExpectedDigest(SyntheticLayout(false), 10));
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, ViewsSkippedAtFinalizeCanBeBuiltLater) {
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("no_views");
  StoreWriterOptions options = Overwrite();
  options.build_views = false;
  EpisodeStoreWriter writer =
      EpisodeStoreWriter::Create(path, comm, SyntheticLayout(false), options);
  testing::WriteSyntheticRounds(writer, comm, 9);
  writer.Finalize();
  if (comm.is_root()) {
    EXPECT_FALSE(EpisodeStoreReader(path).views_built());
    EXPECT_FALSE(h5::File::Open(path.string(), h5::File::Mode::kReadOnly).Exists("data"));
    EXPECT_EQ(FormatProblems(ValidateDataset(path)), "");
    BuildRobomimicViews(path);
    EXPECT_TRUE(EpisodeStoreReader(path).views_built());
    ExpectViewsMatch(path, SyntheticLayout(false), 9, ViewOptions{});
    EXPECT_EQ(FormatProblems(ValidateDataset(path)), "");
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

TEST(EpisodeStore, FilteredEpisodesKeepTheirIndicesAndResumeContinuesGenerating) {
  // Generation indices 0..11; only the even ones are stored (as datagen's only_successful does).
  // Each rank generates 2 per round; round 1 stores nothing on any rank.
  const mpi::Communicator comm = World();
  const fs::path path = TestFile("filtered");
  const StoreLayout layout = SyntheticLayout(false);
  {
    EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path, comm, layout, Overwrite());
    const int64_t per_round = 2 * comm.size();
    for (int64_t round = 0; round < 2; ++round) {
      std::vector<EpisodeRecord> mine;
      const int64_t first = round * per_round + 2 * comm.rank();
      for (int64_t i = first; i < first + 2; ++i) {
        if (i % 2 == 0 && round != 1) mine.push_back(SyntheticEpisode(layout, i));
      }
      writer.AppendRound(mine, (round + 1) * per_round);
    }
    EXPECT_EQ(writer.committed_generation(), 2 * per_round);
    EXPECT_EQ(writer.committed_episodes(), comm.size());
    // Stop without Finalize, as a crash would.
  }
  comm.Barrier();
  EpisodeStoreWriter resumed = EpisodeStoreWriter::OpenForResume(path, comm, layout, Overwrite());
  EXPECT_EQ(resumed.committed_generation(), 4 * comm.size());
  std::vector<EpisodeRecord> mine;
  if (comm.is_root()) mine.push_back(SyntheticEpisode(layout, resumed.committed_generation() + 1));
  resumed.AppendRound(mine, resumed.committed_generation() + 2);
  resumed.Finalize();
  if (comm.is_root()) {
    const EpisodeStoreReader reader(path);
    ASSERT_EQ(reader.num_episodes(), comm.size() + 1);
    for (int64_t e = 0; e < comm.size(); ++e) {
      EXPECT_EQ(reader.index().episode_index[static_cast<size_t>(e)], 2 * e);
      ExpectEpisodeEquals(reader.ReadEpisode(e), SyntheticEpisode(layout, 2 * e));
    }
    EXPECT_EQ(reader.index().episode_index.back(), 4 * comm.size() + 1);
    EXPECT_TRUE(ValidateDataset(path).empty()) << FormatProblems(ValidateDataset(path));
  }
  comm.Barrier();
  RemoveIfPassed(path);
}

}  // namespace
}  // namespace simscale::io
