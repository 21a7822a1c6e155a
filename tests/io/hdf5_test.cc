// The HDF5 wrapper and the schema rules, on serial files (no MPI needed).
#include "common/io/hdf5.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/io/episode_store.h"
#include "common/io/schema.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;

class Hdf5Test : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    path_ = fs::temp_directory_path() /
            fmt::format("simscale_{}_{}_{}.h5", info->test_suite_name(), info->name(), getpid());
    fs::remove(path_);
  }
  void TearDown() override { fs::remove(path_); }
  fs::path path_;
};

TEST_F(Hdf5Test, FailureCarriesOperationObjectFileAndLibraryMessages) {
  const std::string missing = (path_.parent_path() / "no_such_dir" / "x.h5").string();
  try {
    h5::File::Open(missing, h5::File::Mode::kReadOnly);
    FAIL() << "opened a file that does not exist";
  } catch (const h5::Hdf5Error& error) {
    const std::string message = error.what();
    EXPECT_NE(message.find("H5Fopen (read-only) failed"), std::string::npos) << message;
    EXPECT_NE(message.find(missing), std::string::npos) << message;
    // HDF5's own error stack, innermost last.
    EXPECT_NE(message.find("unable to open file"), std::string::npos) << message;
  }
  // Hdf5Error is an IoError, so tools report it like any other I/O failure.
  EXPECT_THROW(h5::File::Open(missing, h5::File::Mode::kReadOnly), IoError);
}

TEST_F(Hdf5Test, CreateRefusesAnExistingFile) {
  h5::File::Create(path_.string()).Close();
  try {
    h5::File::Create(path_.string());
    FAIL() << "Create replaced an existing file";
  } catch (const h5::Hdf5Error& error) {
    EXPECT_NE(std::string(error.what()).find("H5Fcreate (exclusive) failed"), std::string::npos)
        << error.what();
  }
}

TEST_F(Hdf5Test, ChunkedDatasetGrowsAndReadsRowRanges) {
  {
    const h5::File file = h5::File::Create(path_.string());
    h5::StorageOptions storage;
    storage.chunk = {256, 8};  // 8 > the fixed dimension 3: clamped
    storage.gzip_level = 4;
    storage.shuffle = true;
    const h5::Dataset dataset =
        file.CreateDataset("group/values", h5::Datatype::Stored(DType::kFloat32),
                           h5::Dataspace::Simple({0, 3}, {h5::kUnlimited, 3}), storage);
    EXPECT_EQ(dataset.chunk_dims(), (std::vector<hsize_t>{256, 3}));
    EXPECT_EQ(dataset.gzip_level(), 4);
    EXPECT_TRUE(dataset.shuffled());
    std::vector<float> values(300 * 3);
    std::iota(values.begin(), values.end(), 0.0f);
    dataset.SetExtent({100, 3});
    dataset.WriteRows(h5::Datatype::Native(DType::kFloat32), 0, 100, values.data());
    dataset.SetExtent({300, 3});
    dataset.WriteRows(h5::Datatype::Native(DType::kFloat32), 100, 200, values.data() + 300);
    // Zero rows is a valid (empty) write.
    dataset.WriteRows(h5::Datatype::Native(DType::kFloat32), 300, 0, nullptr);
  }
  const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadOnly);
  EXPECT_EQ(file.KindOf("group"), h5::ObjectKind::kGroup);
  EXPECT_EQ(file.KindOf("group/values"), h5::ObjectKind::kDataset);
  EXPECT_EQ(file.KindOf("missing/values"), h5::ObjectKind::kMissing);
  const h5::Dataset dataset = file.OpenDataset("group/values");
  EXPECT_EQ(dataset.dims(), (std::vector<hsize_t>{300, 3}));
  EXPECT_EQ(dataset.datatype().AsDType(), DType::kFloat32);
  std::vector<float> rows(2 * 3);
  dataset.ReadRows(h5::Datatype::Native(DType::kFloat32), 255, 2, rows.data());
  EXPECT_EQ(rows, (std::vector<float>{765, 766, 767, 768, 769, 770}));
  // Reading past the end names the dataset and the rows.
  try {
    dataset.ReadRows(h5::Datatype::Native(DType::kFloat32), 299, 2, rows.data());
    FAIL() << "read past the end";
  } catch (const h5::Hdf5Error& error) {
    EXPECT_NE(std::string(error.what()).find("'/group/values'"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("rows [299, 301) are outside its 300 rows"),
              std::string::npos)
        << error.what();
  }
}

TEST_F(Hdf5Test, AttributesRoundTripAndReplace) {
  {
    const h5::File file = h5::File::Create(path_.string());
    const h5::Group group = file.CreateGroup("g");
    group.WriteIntAttribute("count", -42);
    group.WriteDoubleAttribute("rate", 0.125);
    group.WriteStringAttribute("text", "déjà vu \"quoted\"");
    group.WriteStringAttribute("empty", "");
    group.WriteIntAttribute("replaced", 1);
    group.WriteStringAttribute("replaced", "now a string");
  }
  const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadOnly);
  const h5::Group group = file.OpenGroup("g");
  EXPECT_EQ(group.ReadIntAttribute("count"), -42);
  EXPECT_EQ(group.ReadDoubleAttribute("rate"), 0.125);
  EXPECT_EQ(group.ReadStringAttribute("text"), "déjà vu \"quoted\"");
  EXPECT_EQ(group.ReadStringAttribute("empty"), "");
  EXPECT_EQ(group.ReadStringAttribute("replaced"), "now a string");
  EXPECT_EQ(group.AttributeNames(),
            (std::vector<std::string>{"count", "empty", "rate", "replaced", "text"}));
  EXPECT_FALSE(group.HasAttribute("absent"));
  try {
    group.ReadStringAttribute("count");
    FAIL() << "read an integer as a string";
  } catch (const h5::Hdf5Error& error) {
    EXPECT_NE(std::string(error.what()).find("'/g@count'"), std::string::npos) << error.what();
    EXPECT_NE(std::string(error.what()).find("expected a string, found int64"), std::string::npos)
        << error.what();
  }
  EXPECT_THROW(group.ReadIntAttribute("absent"), h5::Hdf5Error);
}

TEST_F(Hdf5Test, VirtualDatasetShowsSourceRows) {
  {
    const h5::File file = h5::File::Create(path_.string());
    std::vector<int32_t> values(10 * 2);
    std::iota(values.begin(), values.end(), 0);
    const h5::Dataset source = file.CreateDataset("source", h5::Datatype::Stored(DType::kInt32),
                                                  h5::Dataspace::Simple({10, 2}));
    source.WriteAll(h5::Datatype::Native(DType::kInt32), values.data());
    file.CreateVirtualDataset("views/v", h5::Datatype::Stored(DType::kInt32),
                              h5::Dataspace::Simple({4, 2}), {{".", "/source", 3, 4}});
  }
  const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadOnly);
  const h5::Dataset view = file.OpenDataset("views/v");
  EXPECT_TRUE(view.is_virtual());
  EXPECT_FALSE(file.OpenDataset("source").is_virtual());
  std::vector<int32_t> read(8);
  view.ReadAll(h5::Datatype::Native(DType::kInt32), read.data());
  EXPECT_EQ(read, (std::vector<int32_t>{6, 7, 8, 9, 10, 11, 12, 13}));
  const std::vector<h5::VirtualSource> sources = view.VirtualSources();
  ASSERT_EQ(sources.size(), 1u);
  EXPECT_EQ(sources[0].file_name, ".");
  EXPECT_EQ(sources[0].dataset_path, "/source");
  EXPECT_EQ(sources[0].first_row, 3u);
  EXPECT_EQ(sources[0].num_rows, 4u);
}

TEST_F(Hdf5Test, FixedStringsAndUnlink) {
  {
    const h5::File file = h5::File::Create(path_.string());
    const h5::Datatype type = h5::Datatype::FixedString(6);
    const h5::Dataset names = file.CreateDataset("names", type, h5::Dataspace::Simple({2}));
    names.WriteAll(type, "demo_0demo_1");
    file.CreateGroup("gone/deeper");
    EXPECT_TRUE(file.Exists("gone/deeper"));
    file.Unlink("gone");
    EXPECT_FALSE(file.Exists("gone/deeper"));
  }
  const h5::File file = h5::File::Open(path_.string(), h5::File::Mode::kReadOnly);
  const h5::Datatype type = file.OpenDataset("names").datatype();
  EXPECT_EQ(type.Describe(), "string(6)");
  EXPECT_TRUE(type.is_string());
  EXPECT_FALSE(type.is_variable_string());
  EXPECT_EQ(file.ChildNames(), (std::vector<std::string>{"names"}));
}

StoreLayout MinimalLayout() {
  StoreLayout layout;
  layout.step_columns = {ColumnSpec::LowDim("actions", DType::kFloat32, {7}),
                         ColumnSpec::LowDim("rewards", DType::kFloat32, {}),
                         ColumnSpec::LowDim("dones", DType::kUInt8, {})};
  layout.obs_columns = {ColumnSpec::Image("obs/agentview_image", 128, 128, 3)};
  layout.env_name = "Reach";
  return layout;
}

TEST(Schema, ChunksAreAboutThreeQuartersOfAMebibyteAndAtMost1024Rows) {
  const StoreLayout layout = MinimalLayout();
  EXPECT_EQ(layout.step_columns[0].effective_chunk_rows(), 1024u);         // 28-byte rows
  EXPECT_EQ(layout.obs_columns[0].effective_chunk_rows(), 16u);            // 48 KiB rows: 768 KiB
  ColumnSpec wide = ColumnSpec::LowDim("states", DType::kFloat64, {384});  // 3 KiB rows
  EXPECT_EQ(wide.effective_chunk_rows(), 256u);
  wide.chunk_rows = 100;
  EXPECT_EQ(wide.effective_chunk_rows(), 100u);
}

TEST(Schema, CheckLayoutListsEveryProblem) {
  StoreLayout layout = MinimalLayout();
  CheckLayout(layout);                                         // fine
  layout.step_columns[0].row_shape = {};                       // actions must be 2-D
  layout.step_columns.erase(layout.step_columns.begin() + 2);  // no dones
  layout.obs_columns.push_back(ColumnSpec::LowDim("ee_pos", DType::kFloat32, {3}));  // no obs/
  layout.obs_columns[0].gzip_level = 12;
  layout.dr_value_names = {"mass", "mass"};
  layout.env_kwargs_json = "[1]";
  try {
    CheckLayout(layout);
    FAIL() << "accepted a bad layout";
  } catch (const InvalidArgumentError& error) {
    const std::string message = error.what();
    for (const char* expected :
         {"step column 'actions': expected rows of rank 1", "step column 'dones' is required",
          "observation column name 'ee_pos': expected 'obs/<key>'",
          "observation column 'obs/agentview_image': gzip level must be 0..9, got 12",
          "DR value name 'mass' appears twice", "env_kwargs: expected a JSON object, got '[1]'"}) {
      EXPECT_NE(message.find(expected), std::string::npos) << expected << "\n" << message;
    }
  }
}

TEST(Schema, LayoutJsonRoundTripsAndDifferencesAreListed) {
  StoreLayout layout = MinimalLayout();
  layout.dr_value_names = {"friction"};
  StoreLayout back;
  back.env_name = layout.env_name;  // the JSON holds the columns and DR names only
  LayoutColumnsFromJson(LayoutColumnsToJson(layout), &back);
  EXPECT_EQ(back.step_columns, layout.step_columns);
  EXPECT_EQ(back.obs_columns, layout.obs_columns);
  EXPECT_EQ(back.dr_value_names, layout.dr_value_names);
  EXPECT_TRUE(LayoutDifferences(layout, back).empty());

  StoreLayout other = layout;
  other.step_columns[1].dtype = DType::kFloat64;
  std::swap(other.step_columns[0], other.step_columns[2]);
  other.dr_value_names = {};
  other.obs_columns[0].gzip_level = 1;  // storage: only a note
  const std::vector<std::string> differences = LayoutDifferences(layout, other);
  EXPECT_EQ(differences,
            (std::vector<std::string>{
                "step column 'rewards': the file has float32 (), requested float64 ()",
                "step columns are in another order: the file has [actions, rewards, dones], "
                "requested [dones, rewards, actions]",
                "DR value names: the file has [friction], requested []"}));
  const std::vector<std::string> notes = LayoutNotes(layout, other);
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_NE(notes[0].find("keeping the file's storage (gzip 0"), std::string::npos) << notes[0];
}

TEST(Schema, MalformedLayoutJsonNamesTheAttributeAndWhatWasExpected) {
  StoreLayout layout;
  const auto message = [&](const std::string& text) -> std::string {
    try {
      LayoutColumnsFromJson(text, &layout);
    } catch (const InvalidArgumentError& error) {
      return error.what();
    }
    return "accepted";
  };
  const std::string truncated = message(R"({"step_columns": [)");
  EXPECT_NE(truncated.find("stored layout (episodes@layout): expected a JSON object, got invalid "
                           "JSON: "),
            std::string::npos)
      << truncated;
  EXPECT_NE(message("[1]").find("'step_columns' must be an array"), std::string::npos);
  EXPECT_NE(message(R"({"step_columns": [], "obs_columns": [], "dr_value_names": [1]})")
                .find("'dr_value_names' must be an array of strings"),
            std::string::npos);
  const std::string negative =
      message(R"({"step_columns": [{"name": "a", "dtype": "float32", "row_shape": [-1], "gzip": 0,)"
              R"( "shuffle": true, "chunk_rows": 0}], "obs_columns": [], "dr_value_names": []})");
  EXPECT_NE(negative.find("a row_shape: expected a non-negative integer"), std::string::npos)
      << negative;
}

TEST(Schema, EnvKwargsThatAreNotJsonAreALayoutProblem) {
  StoreLayout layout = MinimalLayout();
  layout.env_kwargs_json = "{\"control_freq\": }";
  try {
    CheckLayout(layout);
    FAIL() << "accepted env_kwargs that are not JSON";
  } catch (const InvalidArgumentError& error) {
    EXPECT_NE(std::string(error.what())
                  .find("env_kwargs '{\"control_freq\": }': expected a JSON "
                        "object, got invalid JSON"),
              std::string::npos)
        << error.what();
  }
}

TEST(Schema, EnvKwargsCompareAsJsonNotAsText) {
  StoreLayout stored = MinimalLayout();
  StoreLayout requested = stored;
  stored.env_kwargs_json = R"({"a": 1, "b": [2, "x"]})";
  requested.env_kwargs_json = R"({"b":[2,"x"],"a":1})";
  EXPECT_TRUE(LayoutDifferences(stored, requested).empty());
  requested.env_kwargs_json = R"({"b":[2,"y"],"a":1})";
  EXPECT_EQ(LayoutDifferences(stored, requested).size(), 1u);
}

TEST(Schema, ValidEpisodesAreADeterministicFractionOfTheDemos) {
  ViewOptions options;
  options.valid_fraction = 0.1;
  options.split_seed = 3;
  const std::vector<int64_t> valid = ValidEpisodes(95, options);
  EXPECT_EQ(valid.size(), 9u);  // floor(9.5)
  EXPECT_TRUE(std::is_sorted(valid.begin(), valid.end()));
  EXPECT_EQ(ValidEpisodes(95, options), valid);
  options.split_seed = 4;
  EXPECT_NE(ValidEpisodes(95, options), valid);
  EXPECT_EQ(ValidEpisodes(2, options).size(), 1u);  // at least one when possible
  EXPECT_TRUE(ValidEpisodes(1, options).empty());   // never every demo
  options.valid_fraction = 0.0;
  EXPECT_TRUE(ValidEpisodes(95, options).empty());
  options.valid_fraction = 1.0;
  EXPECT_THROW(ValidEpisodes(95, options), InvalidArgumentError);
}

}  // namespace
}  // namespace simscale::io
