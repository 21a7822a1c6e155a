// The validator, the statistics and the reader's errors, on a store written by one rank and then
// broken on purpose through the HDF5 wrapper.
#include "common/io/validate.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/io/episode_store.h"
#include "common/io/hdf5.h"
#include "common/io/stats.h"
#include "tests/io/synthetic_episodes.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;
using testing::SyntheticEpisode;

constexpr int64_t kEpisodes = 12;

class StoreFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::current_path() / fmt::format("io_{}_{}.h5", info->test_suite_name(), info->name());
    fs::remove(path_);
    StoreWriterOptions options;
    options.overwrite = true;
    options.views.valid_fraction = 0.25;
    const mpi::Communicator comm(MPI_COMM_WORLD);
    EpisodeStoreWriter writer = EpisodeStoreWriter::Create(path_, comm, layout_, options);
    testing::WriteSyntheticRounds(writer, comm, kEpisodes);
    writer.Finalize();
    const EpisodeStoreReader reader(path_);
    index_ = reader.index();
  }
  void TearDown() override {
    if (!HasFailure()) fs::remove(path_);
  }

  h5::File OpenForEdit() const {
    return h5::File::Open(path_.string(), h5::File::Mode::kReadWrite);
  }

  // "path: message" lines of the validator's report.
  std::string Report() const { return FormatProblems(ValidateDataset(path_)); }

  StoreLayout layout_ = testing::SyntheticLayout(/*images=*/false);
  fs::path path_;
  StoreIndex index_;
};

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

void BreakDtype(const h5::File& file, int64_t rows) {
  file.Unlink("episodes/rewards");
  std::vector<int32_t> zeros(static_cast<size_t>(rows), 0);
  file.CreateDataset("episodes/rewards", h5::Datatype::Stored(DType::kInt32),
                     h5::Dataspace::Simple({static_cast<hsize_t>(rows)}))
      .WriteAll(h5::Datatype::Native(DType::kInt32), zeros.data());
}

void SetInt(const h5::File& file, const std::string& dataset, int64_t row, int64_t value) {
  file.OpenDataset(dataset).WriteRows(h5::Datatype::Native(DType::kInt64),
                                      static_cast<hsize_t>(row), 1, &value);
}

void ReplaceValidMask(const h5::File& file, const std::string& names) {
  file.Unlink("mask/valid");
  const h5::Datatype type = h5::Datatype::FixedString(names.size());
  file.CreateDataset("mask/valid", type, h5::Dataspace::Simple({1})).WriteAll(type, names.data());
}

TEST_F(StoreFileTest, GoodFileHasNoProblems) { EXPECT_EQ(Report(), ""); }

TEST_F(StoreFileTest, WrongDtypeIsReportedWithItsPath) {
  BreakDtype(OpenForEdit(), index_.start_step.back() + index_.length.back());
  EXPECT_TRUE(Contains(Report(), "/episodes/rewards: has element type int32, expected float32"))
      << Report();
}

TEST_F(StoreFileTest, WrongNumSamplesIsReportedWithItsPath) {
  OpenForEdit().OpenGroup("data/demo_2").WriteIntAttribute("num_samples", 999);
  EXPECT_EQ(Report(), fmt::format("/data/demo_2@num_samples: is 999, expected {} (the store's "
                                  "index)\n",
                                  index_.length[2]));
}

TEST_F(StoreFileTest, BrokenIndexIsReportedWithItsPath) {
  SetInt(OpenForEdit(), "episodes/index/start_step", 3, index_.start_step[3] + 1);
  const std::string report = Report();
  EXPECT_TRUE(Contains(report, fmt::format("/episodes/index/start_step[3]: is {}, expected {}",
                                           index_.start_step[3] + 1, index_.start_step[3])))
      << report;
  // start_obs must equal start_step + episode, which no longer holds for row 3 either.
  EXPECT_TRUE(Contains(report, "/episodes/index/start_obs[3]: is")) << report;
}

// Found by fuzzing (tests/fuzz/corpus/store/crash_index_length): a damaged length made the reader
// allocate whatever it said and the validator index rows past the dones column.
TEST_F(StoreFileTest, DamagedLengthsAreRefusedByTheReaderAndReportedByTheValidator) {
  SetInt(OpenForEdit(), "episodes/index/length", 1, int64_t{1} << 60);
  try {
    EpisodeStoreReader reader(path_);
    FAIL() << "opened a store whose index is damaged";
  } catch (const InvalidArgumentError& error) {
    EXPECT_TRUE(Contains(error.what(), "the episode index is damaged at episode 1"))
        << error.what();
  }
  const std::string report = Report();
  EXPECT_TRUE(Contains(report, "/episodes/index/length: lengths sum to")) << report;
}

TEST_F(StoreFileTest, MaskNamingAMissingDemoIsReported) {
  const std::vector<int64_t> valid = ValidEpisodes(kEpisodes, ViewOptions{0.25, 0});
  ASSERT_EQ(valid.size(), 3u);
  ReplaceValidMask(OpenForEdit(), "demo_99");
  const std::string report = Report();
  EXPECT_TRUE(Contains(report, "/mask/valid[0]: names 'demo_99', which is not a demo in /data"))
      << report;
  // The demos that were in mask/valid are now in no mask.
  for (const int64_t e : valid) {
    EXPECT_TRUE(Contains(report, fmt::format("/data/demo_{}: is in neither /mask/train nor "
                                             "/mask/valid",
                                             e)))
        << report;
  }
}

TEST_F(StoreFileTest, LastStepNotDoneIsReported) {
  const int64_t last = index_.start_step[4] + index_.length[4] - 1;
  const uint8_t zero = 0;
  OpenForEdit()
      .OpenDataset("episodes/dones")
      .WriteRows(h5::Datatype::Native(DType::kUInt8), static_cast<hsize_t>(last), 1, &zero);
  // The edit also breaks the episode's checksum, reported first (data before meaning).
  const std::string report = Report();
  EXPECT_TRUE(Contains(report, fmt::format("/episodes/dones: episode 4 (rows [{}, {})) does not "
                                           "match its checksum",
                                           index_.start_step[4], last + 1)))
      << report;
  EXPECT_TRUE(Contains(report, fmt::format("/episodes/dones[{}]: is 0, expected 1: the last step "
                                           "of episode 4\n",
                                           last)))
      << report;
}

TEST_F(StoreFileTest, ViewOntoTheWrongRowsIsReported) {
  {
    const h5::File file = OpenForEdit();
    file.Unlink("data/demo_1/actions");
    const hsize_t T = static_cast<hsize_t>(index_.length[1]);
    const hsize_t wrong = static_cast<hsize_t>(index_.start_step[1] + 1);
    file.CreateVirtualDataset("data/demo_1/actions", h5::Datatype::Stored(DType::kFloat32),
                              h5::Dataspace::Simple({T, 4}),
                              {{".", "/episodes/actions", wrong, T}});
  }
  const int64_t s = index_.start_step[1];
  const int64_t T = index_.length[1];
  EXPECT_EQ(Report(), fmt::format("/data/demo_1/actions: maps .:/episodes/actions rows [{}, {}), "
                                  "expected .:/episodes/actions rows [{}, {})\n",
                                  s + 1, s + T + 1, s, s + T));
}

TEST_F(StoreFileTest, IncompleteStoreIsReported) {
  OpenForEdit().OpenGroup("episodes").WriteIntAttribute("complete", 0);
  EXPECT_EQ(Report(),
            "/episodes@complete: is 0: the run writing this store did not finish (resume it)\n");
}

TEST_F(StoreFileTest, EveryProblemIsReportedNotJustTheFirst) {
  {
    const h5::File file = OpenForEdit();
    BreakDtype(file, index_.start_step.back() + index_.length.back());
    file.OpenGroup("data/demo_5").WriteIntAttribute("num_samples", 0);
    ReplaceValidMask(file, "demo_77");
    file.OpenGroup("data").WriteIntAttribute("total", 3);
    file.OpenGroup("data").WriteStringAttribute("env_args", "{\"env_name\": \"SyntheticReach\"}");
  }
  const std::vector<Problem> problems = ValidateDataset(path_);
  std::vector<std::string> paths;
  for (const Problem& p : problems) paths.push_back(p.path_in_file);
  for (const char* expected : {"/episodes/rewards", "/data/demo_5@num_samples", "/mask/valid[0]",
                               "/data@total", "/data@env_args"}) {
    EXPECT_NE(std::find(paths.begin(), paths.end(), expected), paths.end())
        << expected << " not reported:\n"
        << FormatProblems(problems);
  }
  const std::string report = FormatProblems(problems);
  EXPECT_TRUE(Contains(report, "/data@env_args: has no integer 'type'")) << report;
  EXPECT_TRUE(Contains(report, "/data@env_args: has no object 'env_kwargs'")) << report;
}

TEST_F(StoreFileTest, FilesThatAreNotStoresAreReportedNotThrown) {
  const fs::path plain = path_.string() + ".plain.h5";
  fs::remove(plain);
  h5::File::Create(plain.string()).CreateGroup("something");
  EXPECT_EQ(FormatProblems(ValidateDataset(plain)),
            "/episodes: missing: this is not a SimScale episode store\n");
  fs::remove(plain);
  const fs::path text = path_.string() + ".txt";
  std::ofstream(text) << "not HDF5\n";
  const std::vector<Problem> problems = ValidateDataset(text);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_EQ(problems[0].path_in_file, "/");
  EXPECT_TRUE(Contains(problems[0].message, "cannot open the file")) << problems[0].message;
  fs::remove(text);
}

TEST_F(StoreFileTest, ReaderErrorsNameTheFileAndWhatWasExpected) {
  const EpisodeStoreReader reader(path_);
  try {
    reader.column("obs/missing");
    FAIL() << "found a column that does not exist";
  } catch (const InvalidArgumentError& error) {
    EXPECT_EQ(std::string(error.what()),
              fmt::format("'{}' has no column 'obs/missing'; its columns are: actions, rewards, "
                          "dones, states, obs/ee_pos, obs/gripper",
                          path_.string()));
  }
  EXPECT_THROW(reader.ReadRows("actions", reader.num_steps() - 1, 2), InvalidArgumentError);
  const fs::path plain = path_.string() + ".plain.h5";
  fs::remove(plain);
  h5::File::Create(plain.string()).CreateGroup("something");
  try {
    EpisodeStoreReader not_a_store(plain);
    FAIL() << "opened a file that is not a store";
  } catch (const InvalidArgumentError& error) {
    EXPECT_EQ(std::string(error.what()),
              fmt::format("'{}' is not a SimScale episode store: it has no group '/episodes'",
                          plain.string()));
  }
  fs::remove(plain);
}

TEST_F(StoreFileTest, StatsMatchTheEpisodes) {
  const DatasetStats stats = ComputeStats(path_);
  EXPECT_TRUE(stats.complete);
  EXPECT_EQ(stats.episodes, kEpisodes);
  int64_t steps = 0;
  int64_t successes = 0;
  int64_t diverged = 0;
  double length_sum = 0;
  double length_sq = 0;
  double return_sum = 0;
  std::vector<double> action_sum(4, 0.0);
  std::vector<double> action_min(4, 1e300);
  for (int64_t e = 0; e < kEpisodes; ++e) {
    const EpisodeRecord r = SyntheticEpisode(layout_, e);
    steps += r.length;
    successes += r.success ? 1 : 0;
    diverged += r.diverged ? 1 : 0;
    length_sum += static_cast<double>(r.length);
    length_sq += static_cast<double>(r.length * r.length);
    return_sum += r.episode_return;
    const auto* actions = reinterpret_cast<const float*>(r.step_data[0].data());
    for (int64_t i = 0; i < r.length * 4; ++i) {
      action_sum[static_cast<size_t>(i % 4)] += actions[i];
      action_min[static_cast<size_t>(i % 4)] =
          std::min<double>(action_min[static_cast<size_t>(i % 4)], actions[i]);
    }
  }
  const double n = static_cast<double>(kEpisodes);
  EXPECT_EQ(stats.steps, steps);
  EXPECT_EQ(stats.successes, successes);
  EXPECT_EQ(stats.diverged, diverged);
  EXPECT_DOUBLE_EQ(stats.success_rate, static_cast<double>(successes) / n);
  EXPECT_NEAR(stats.length_mean, length_sum / n, 1e-9);
  EXPECT_NEAR(stats.length_std, std::sqrt(length_sq / n - std::pow(length_sum / n, 2)), 1e-9);
  EXPECT_NEAR(stats.return_mean, return_sum / n, 1e-9);
  ASSERT_EQ(stats.action_mean.size(), 4u);
  for (size_t d = 0; d < 4; ++d) {
    EXPECT_NEAR(stats.action_mean[d], action_sum[d] / static_cast<double>(steps), 1e-6);
    EXPECT_EQ(stats.action_min[d], action_min[d]);
  }
  // JSON with the same numbers; a table with the headline figures.
  const nlohmann::json parsed = nlohmann::json::parse(StatsToJson(stats));
  EXPECT_EQ(parsed.at("episodes").get<double>(), n);
  EXPECT_EQ(parsed.at("length").at("max").get<int64_t>(), stats.length_max);
  EXPECT_EQ(parsed.at("return").at("std").get<double>(), stats.return_std);
  EXPECT_EQ(parsed.at("action").at("mean").get<std::vector<double>>(), stats.action_mean);
  EXPECT_EQ(parsed.at("path").get<std::string>(), stats.path);
  const std::string table = FormatStatsTable(stats);
  EXPECT_TRUE(Contains(table, fmt::format("episodes       {}\n", kEpisodes))) << table;
  EXPECT_TRUE(Contains(table, fmt::format("success rate   {:.4f} ({} of {})", stats.success_rate,
                                          successes, kEpisodes)))
      << table;
}

}  // namespace
}  // namespace simscale::io
