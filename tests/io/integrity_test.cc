// Integrity of stored data and the errors a user sees for a bad file: real bytes flipped inside
// real chunks of a store written by the writer, truncated and foreign files, a file left by an
// interrupted run, another schema version, a missing column, caps on what is read from a file,
// and paths read from a file that must stay inside its directory.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <regex>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/io/checksum.h"
#include "common/io/episode_store.h"
#include "common/io/hdf5.h"
#include "common/io/open_file.h"
#include "common/io/robomimic_reader.h"
#include "common/io/schema.h"
#include "common/io/validate.h"
#include "tests/io/synthetic_episodes.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kEpisodes = 30;

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The message of what `action` throws as E ("" when it does not throw).
template <typename E, typename Fn>
std::string ErrorOf(Fn&& action) {
  try {
    action();
  } catch (const E& error) {
    return error.what();
  }
  return "";
}

TEST(Checksum, Crc32cMatchesTheStandardCheckValueAndThePortableVersion) {
  EXPECT_EQ(Crc32c("123456789", 9), 0xe3069283u);  // RFC 3720's check value
  std::mt19937 random(5);
  std::vector<unsigned char> bytes(100000);
  for (unsigned char& b : bytes) b = static_cast<unsigned char>(random());
  // Short tails, and lengths around the three-stream blocks (3 x 4096 bytes) of the fast path.
  for (size_t length : {0, 1, 7, 8, 9, 63, 1000, 12287, 12288, 12289, 24576, 30001, 100000}) {
    EXPECT_EQ(Crc32c(bytes.data(), length), Crc32cPortable(bytes.data(), length)) << length;
    EXPECT_EQ(Crc32c(bytes.data(), length, 77), Crc32cPortable(bytes.data(), length, 77)) << length;
  }
  // Continuing over pieces equals one pass.
  EXPECT_EQ(Crc32c(bytes.data() + 13, 987, Crc32c(bytes.data(), 13)), Crc32c(bytes.data(), 1000));
}

class IntegrityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    dir_ = fs::current_path() / fmt::format("io_integrity_{}", info->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    path_ = dir_ / "store.h5";
    StoreWriterOptions options;
    options.views.valid_fraction = 0.2;
    const mpi::Communicator comm(MPI_COMM_SELF);
    EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path_, comm, layout_, options);
    testing::WriteSyntheticRounds(writer, comm, kEpisodes);
    writer.Finalize();
    index_ = EpisodeStoreReader(path_).index();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove_all(dir_);
  }

  // Flips one byte of `column`'s stored data inside the chunk holding the first row of
  // `episode` (for an unfiltered column, a byte of that very row). Returns the episodes whose
  // rows share the damaged chunk: the damage must be reported as one of them.
  std::vector<int64_t> FlipByte(const fs::path& file, const ColumnSpec& column, int64_t episode) {
    const bool observation = column.name.rfind("obs/", 0) == 0;
    const std::vector<int64_t>& starts = observation ? index_.start_obs : index_.start_step;
    const auto row = static_cast<hsize_t>(starts[static_cast<size_t>(episode)]);
    uint64_t address = 0;
    hsize_t chunk_first = 0;
    hsize_t chunk_rows = 0;
    {
      const h5::File h5file = h5::File::Open(file.string(), h5::File::Mode::kReadOnly);
      const h5::Dataset dataset = h5file.OpenDataset("episodes/" + column.name);
      chunk_rows = dataset.chunk_dims().at(0);
      for (const auto& chunk : dataset.ChunkLocations()) {
        if (chunk.offset[0] <= row && row < chunk.offset[0] + chunk_rows) {
          chunk_first = chunk.offset[0];
          // Unfiltered: the second byte of the episode's first row. Compressed: mid-chunk.
          address = chunk.file_address + (column.gzip_level == 0
                                              ? (row - chunk_first) * column.row_bytes() + 1
                                              : chunk.bytes / 2);
        }
      }
    }
    EXPECT_NE(address, 0u) << "no chunk holds row " << row << " of " << column.name;
    std::fstream stream(file, std::ios::in | std::ios::out | std::ios::binary);
    stream.seekg(static_cast<std::streamoff>(address));
    char byte = 0;
    stream.read(&byte, 1);
    byte = static_cast<char>(byte ^ 0x5a);
    stream.seekp(static_cast<std::streamoff>(address));
    stream.write(&byte, 1);
    if (column.gzip_level == 0) return {episode};
    std::vector<int64_t> sharing;
    for (int64_t e = 0; e < kEpisodes; ++e) {
      const auto first = static_cast<hsize_t>(starts[static_cast<size_t>(e)]);
      const auto last = first + static_cast<hsize_t>(index_.length[static_cast<size_t>(e)]);
      if (first < chunk_first + chunk_rows && last >= chunk_first) sharing.push_back(e);
    }
    return sharing;
  }

  fs::path CopyOfStore(const std::string& name) const {
    const fs::path copy = dir_ / name;
    fs::copy_file(path_, copy, fs::copy_options::overwrite_existing);
    return copy;
  }

  StoreLayout layout_ = testing::SyntheticLayout(/*images=*/true);
  fs::path dir_;
  fs::path path_;
  StoreIndex index_;
};

// The episode number a message names ("... episode 12 (rows ..."), or -1.
int64_t NamedEpisode(const std::string& message) {
  std::smatch match;
  if (!std::regex_search(message, match, std::regex("episode ([0-9]+) \\(rows"))) return -1;
  return std::stoll(match[1]);
}

TEST_F(IntegrityTest, AFlippedByteInAnyColumnIsNamedByReaderAndValidator) {
  EXPECT_EQ(FormatProblems(ValidateDataset(path_)), "");
  const int64_t episode = 7;
  for (const auto* list : {&layout_.step_columns, &layout_.obs_columns}) {
    for (const ColumnSpec& column : *list) {
      const fs::path damaged = CopyOfStore("damaged.h5");
      const std::vector<int64_t> candidates = FlipByte(damaged, column, episode);
      const EpisodeStoreReader reader(damaged);
      const int64_t rows = column.name.rfind("obs/", 0) == 0
                               ? reader.num_steps() + reader.num_episodes()
                               : reader.num_steps();
      const std::string error =
          ErrorOf<DataIntegrityError>([&] { reader.ReadRows(column.name, 0, rows); });
      EXPECT_TRUE(Contains(
          error, fmt::format("'{}': column '{}' of episode ", damaged.string(), column.name)))
          << column.name << ": " << error;
      const int64_t named = NamedEpisode(error);
      EXPECT_NE(std::find(candidates.begin(), candidates.end(), named), candidates.end())
          << column.name << ": " << error;
      EXPECT_FALSE(Contains(error, "H5")) << "HDF5's stack is for the debug log: " << error;

      const std::string report = FormatProblems(ValidateDataset(damaged));
      EXPECT_TRUE(
          Contains(report, fmt::format("/episodes/{}: episode {} (rows", column.name, named)))
          << column.name << ":\n"
          << report;
      fs::remove(damaged);
    }
  }
}

TEST_F(IntegrityTest, VerificationCanBeSwitchedOffAndPartialReadsAreNotChecked) {
  const ColumnSpec& rewards = *layout_.FindColumn("rewards");
  FlipByte(path_, rewards, 4);
  StoreReaderOptions off;
  off.verify_checksums = false;
  EXPECT_NO_THROW(EpisodeStoreReader(path_, off).ReadRows("rewards", 0, index_.start_step[5]));
  const EpisodeStoreReader reader(path_);
  // Rows of other episodes, and a part of episode 4, read fine; the whole of episode 4 does not.
  EXPECT_NO_THROW(reader.ReadRows("rewards", 0, index_.start_step[4]));
  EXPECT_NO_THROW(reader.ReadRows("rewards", index_.start_step[4] + 2, 1));
  EXPECT_THROW(reader.ReadEpisode(4), DataIntegrityError);
}

TEST_F(IntegrityTest, TruncatedFileGetsOneSentence) {
  const fs::path truncated = CopyOfStore("truncated.h5");
  const auto size = fs::file_size(truncated);
  fs::resize_file(truncated, size / 2);
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(truncated); }),
            fmt::format("'{}' is truncated: it has {} bytes, but its HDF5 superblock says {}; the "
                        "copy is incomplete or the disk filled up: copy it again, or regenerate "
                        "it with datagen_mpi",
                        truncated.string(), size / 2, size));
  const std::vector<Problem> problems = ValidateDataset(truncated);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_TRUE(Contains(problems[0].message, "is truncated")) << problems[0].message;
}

TEST_F(IntegrityTest, RandomBytesAndEmptyFilesGetOneSentence) {
  const fs::path noise = dir_ / "noise.h5";
  {
    std::ofstream out(noise, std::ios::binary);
    std::mt19937 random(1);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>(random()));
  }
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(noise); }),
            fmt::format("'{}' is not an HDF5 file (no HDF5 signature in its 4096 bytes); pass the "
                        ".h5 file datagen_mpi wrote",
                        noise.string()));
  const fs::path empty = dir_ / "empty.h5";
  std::ofstream(empty).close();
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { RobomimicReader reader(empty); }),
            fmt::format("'{}' is empty (0 bytes): a copy or a datagen run was cut short; copy it "
                        "again or rerun datagen",
                        empty.string()));
}

TEST_F(IntegrityTest, FileLeftByAnInterruptedRunSaysResume) {
  const fs::path path = dir_ / "interrupted.h5";
  {
    const mpi::Communicator comm(MPI_COMM_SELF);
    EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path, comm, layout_);
    writer.AppendRound({testing::SyntheticEpisode(layout_, 0)});
  }  // never finalized: <path>.partial stays, as after a crash
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(path); }),
            fmt::format("'{}' does not exist, but '{}' does: the datagen run writing it did not "
                        "finish; rerun datagen with --resume (same --output) to complete it",
                        path.string(), PartialPath(path).string()));
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(PartialPath(path)); }),
            fmt::format("'{}' was left by a datagen run that did not finish (1 episodes "
                        "committed, episodes@complete = 0): rerun datagen with --resume to "
                        "complete it",
                        PartialPath(path).string()));
  // A writer killed before its first flush leaves no superblock: resuming says what is wrong.
  const fs::path unflushed = dir_ / "unflushed.h5";
  std::ofstream(PartialPath(unflushed)).close();
  EXPECT_TRUE(Contains(ErrorOf<Error>([&] {
                         EpisodeStoreWriter::OpenForResume(
                             unflushed, mpi::Communicator(MPI_COMM_SELF), layout_);
                       }),
                       fmt::format("'{}' is empty (0 bytes): a copy or a datagen run was cut "
                                   "short; copy it again or rerun datagen",
                                   PartialPath(unflushed).string())));
}

TEST_F(IntegrityTest, OtherSchemaVersionGetsOneSentence) {
  h5::File::Open(path_.string(), h5::File::Mode::kReadWrite)
      .OpenGroup("episodes")
      .WriteIntAttribute("schema_version", 1);
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(path_); }),
            fmt::format("'{}' is a SimScale store of schema version 1, but this build reads "
                        "version {}: regenerate it with this build's datagen_mpi, or read it with "
                        "the SimScale version that wrote it",
                        path_.string(), schema::kVersion));
}

TEST_F(IntegrityTest, MissingColumnGetsOneSentence) {
  h5::File::Open(path_.string(), h5::File::Mode::kReadWrite).Unlink("episodes/rewards");
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(path_); }),
            fmt::format("'{}' has no dataset /episodes/rewards, which a store of its layout must "
                        "have: the file is damaged or was edited; regenerate it with datagen_mpi",
                        path_.string()));
  h5::File::Open(path_.string(), h5::File::Mode::kReadWrite).Unlink("episodes/checksum/actions");
  EXPECT_TRUE(Contains(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(path_); }),
                       "has no dataset /episodes/checksum/actions"));
}

TEST_F(IntegrityTest, SizesReadFromTheFileAreCapped) {
  const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadWrite);
  const h5::Group store = file.OpenGroup("episodes");
  store.WriteStringAttribute("git_sha", std::string(2000, 'x'));
  EXPECT_EQ(ErrorOf<h5::Hdf5Error>([&] { store.ReadStringAttribute("git_sha", 1000); }),
            fmt::format("attribute '/episodes@git_sha' in file '{}' is a string of at least 1001 "
                        "bytes, more than the 1000 allowed: the file is damaged or was not "
                        "written by SimScale",
                        path_.string()));
  // A row shape whose size overflows, and counts beyond any store.
  StoreLayout layout;
  EXPECT_TRUE(
      Contains(ErrorOf<InvalidArgumentError>([&] {
                 LayoutColumnsFromJson(
                     R"({"step_columns": [{"name": "actions", "dtype": "float32", "row_shape": )"
                     R"([4294967296, 4294967296], "gzip": 0, "shuffle": false, "chunk_rows": 1}], )"
                     R"("obs_columns": [], "dr_value_names": []})",
                     &layout);
               }),
               "actions rows are larger than the 268435456 bytes allowed"));
  file.OpenGroup("episodes/index").WriteIntAttribute("committed_episodes", int64_t{1} << 50);
  file.OpenGroup("episodes/index").WriteIntAttribute("committed_obs_rows", int64_t{1} << 50);
  file.OpenGroup("episodes/index").WriteIntAttribute("committed_steps", 0);
  file.OpenGroup("episodes/index").WriteIntAttribute("committed_generated", int64_t{1} << 50);
  EXPECT_TRUE(Contains(ErrorOf<InvalidArgumentError>([&] { EpisodeStoreReader reader(path_); }),
                       "beyond the 1099511627776 and 281474976710656 a store may hold"));
}

TEST(PathContainment, AbsoluteDotDotAndSymlinkEscapesAreRefused) {
  const fs::path root = fs::current_path() / "io_containment_root";
  const fs::path outside = fs::current_path() / "io_containment_outside";
  fs::remove_all(root);
  fs::remove_all(outside);
  fs::create_directories(root / "sub");
  fs::create_directories(outside);
  fs::create_symlink(outside, root / "escape");
  fs::create_symlink(root / "sub", root / "inner");
  EXPECT_EQ(ResolveInside(root, "sub/a.h5", "source"), fs::weakly_canonical(root / "sub/a.h5"));
  EXPECT_EQ(ResolveInside(root, "inner/a.h5", "source"), fs::weakly_canonical(root / "sub/a.h5"));
  EXPECT_EQ(ErrorOf<InvalidArgumentError>([&] { ResolveInside(root, "/etc/passwd", "source"); }),
            fmt::format("source '/etc/passwd' is an absolute path; it must name a file inside '{}'",
                        root.string()));
  EXPECT_TRUE(Contains(
      ErrorOf<InvalidArgumentError>([&] { ResolveInside(root, "sub/../../x.h5", "source"); }),
      "source 'sub/../../x.h5' contains '..'"));
  EXPECT_TRUE(
      Contains(ErrorOf<InvalidArgumentError>([&] { ResolveInside(root, "escape/x.h5", "source"); }),
               "source 'escape/x.h5' leads outside through a symbolic link"));
  fs::remove_all(root);
  fs::remove_all(outside);
}

TEST_F(IntegrityTest, VirtualDatasetOutsideTheFilesDirectoryIsNotFollowed) {
  {
    const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadWrite);
    file.Unlink("data/demo_0/actions");
    const auto T = static_cast<hsize_t>(index_.length[0]);
    file.CreateVirtualDataset("data/demo_0/actions", h5::Datatype::Stored(DType::kFloat32),
                              h5::Dataspace::Simple({T, 4}),
                              {{"../elsewhere.h5", "/episodes/actions", 0, T}});
  }
  const RobomimicReader reader(path_);
  EXPECT_TRUE(Contains(ErrorOf<InvalidArgumentError>([&] { reader.ReadFloat(0, "actions"); }),
                       "the source file of virtual dataset /data/demo_0/actions '../elsewhere.h5' "
                       "contains '..'"));
  EXPECT_NO_THROW(reader.ReadFloat(1, "actions"));
}

}  // namespace
}  // namespace simscale::io
