#include "common/io/validate.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"
#include "common/io/hdf5.h"
#include "common/io/open_file.h"
#include "common/io/schema.h"
#include "common/io/store_format.h"

namespace simscale::io {
namespace {

using internal::IndexColumn;

// A systematic fault (a shifted index, say) would otherwise report every episode.
constexpr int kMaxPerKind = 20;

class Report {
 public:
  void Add(std::string path, std::string message) {
    problems_.push_back({std::move(path), std::move(message)});
  }
  // Adds a problem, keeping at most kMaxPerKind of each kind (named by the path it is about, such
  // as a column); the rest are counted on one line with that path.
  void AddCapped(std::string_view kind, std::string path, std::string message) {
    const int seen = ++counts_[std::string(kind)];
    if (seen <= kMaxPerKind) Add(std::move(path), std::move(message));
  }
  std::vector<Problem> Finish() {
    for (const auto& [kind, count] : counts_) {
      if (count > kMaxPerKind) {
        Add(std::string(kind),
            fmt::format("... and {} more problems of this kind", count - kMaxPerKind));
      }
    }
    return std::move(problems_);
  }

 private:
  std::vector<Problem> problems_;
  std::map<std::string, int> counts_;
};

std::string Slash(std::string_view path) { return fmt::format("/{}", path); }

std::string Shape(const std::vector<hsize_t>& dims) {
  return fmt::format("({}{})", fmt::join(dims, ", "), dims.size() == 1 ? "," : "");
}

class Validator {
 public:
  explicit Validator(const std::filesystem::path& path) : path_(path) {}

  std::vector<Problem> Run() {
    try {
      file_.emplace(OpenDatasetFile(path_));
    } catch (const Error& error) {
      report_.Add("/", fmt::format("cannot open the file: {}", error.what()));
      return report_.Finish();
    }
    Guard("/", [&] { CheckEverything(); });
    return report_.Finish();
  }

 private:
  // The JSON document in `text`, or nullopt after reporting at `path` why it is not JSON.
  std::optional<nlohmann::json> ParseJson(const std::string& path, const std::string& text) {
    try {
      return nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& error) {
      report_.Add(path, fmt::format("is not JSON: {}", error.what()));
      return std::nullopt;
    }
  }

  // Runs `check`; an exception (an unreadable object) becomes a problem at `path`.
  template <typename Fn>
  bool Guard(const std::string& path, Fn&& check) {
    try {
      check();
      return true;
    } catch (const std::exception& error) {
      report_.Add(path, error.what());
      return false;
    }
  }

  void CheckEverything() {
    const h5::File& file = *file_;
    if (file.KindOf(schema::kStoreGroup) != h5::ObjectKind::kGroup) {
      report_.Add(Slash(schema::kStoreGroup), "missing: this is not a SimScale episode store");
      return;
    }
    const h5::Group store = file.OpenGroup(schema::kStoreGroup);
    if (!CheckStoreAttributes(store)) return;
    CheckIndex();
    CheckColumns();
    CheckChecksums();
    CheckDones();
    const bool views_built = ReadFlag(store, schema::kAttrViewsBuilt).value_or(0) == 1;
    if (views_built) {
      CheckViews();
      CheckMasks();
    } else if (file.Exists(schema::kViewsGroup)) {
      report_.Add(Slash(schema::kViewsGroup),
                  fmt::format("exists although /{}@{} is 0 (views from an interrupted run?)",
                              schema::kStoreGroup, schema::kAttrViewsBuilt));
    }
  }

  // A 0/1 attribute; reports it when missing or not 0/1 (then returns nullopt).
  std::optional<int64_t> ReadFlag(const h5::Group& group, std::string_view name) {
    const std::string where = fmt::format("{}@{}", group.path(), name);
    if (!group.HasAttribute(name)) {
      report_.Add(where, "missing");
      return std::nullopt;
    }
    int64_t value = 0;
    if (!Guard(where, [&] { value = group.ReadIntAttribute(name); })) return std::nullopt;
    if (value != 0 && value != 1) {
      report_.Add(where, fmt::format("is {}, expected 0 or 1", value));
      return std::nullopt;
    }
    return value;
  }

  // Returns false when the rest cannot be checked (no usable layout).
  bool CheckStoreAttributes(const h5::Group& store) {
    const auto at = [](std::string_view name) {
      return fmt::format("/{}@{}", schema::kStoreGroup, name);
    };
    if (!store.HasAttribute(schema::kAttrSchemaVersion)) {
      report_.Add(at(schema::kAttrSchemaVersion), "missing: this is not a SimScale episode store");
      return false;
    }
    int64_t version = 0;
    if (!Guard(at(schema::kAttrSchemaVersion),
               [&] { version = store.ReadIntAttribute(schema::kAttrSchemaVersion); })) {
      return false;
    }
    if (version != schema::kVersion) {
      report_.Add(at(schema::kAttrSchemaVersion),
                  fmt::format("is {}, but this build reads version {}: regenerate the file with "
                              "this build's datagen_mpi",
                              version, schema::kVersion));
      return false;
    }
    for (const std::string_view name :
         {schema::kAttrLayout, schema::kAttrEnvName, schema::kAttrEnvKwargs,
          schema::kAttrConfigYaml, schema::kAttrGitSha}) {
      if (!store.HasAttribute(name)) {
        report_.Add(at(name), "missing");
      } else {
        Guard(at(name), [&] {
          const h5::Datatype type = store.AttributeType(name);
          if (!type.is_string()) {
            report_.Add(at(name), fmt::format("is {}, expected a string", type.Describe()));
          }
        });
      }
    }
    if (!Guard(at(schema::kAttrLayout), [&] { layout_ = internal::ReadLayout(*file_); })) {
      return false;
    }
    Guard(at(schema::kAttrLayout), [&] { CheckLayout(layout_); });
    if (const auto kwargs = ParseJson(at(schema::kAttrEnvKwargs), layout_.env_kwargs_json);
        kwargs && !kwargs->is_object()) {
      report_.Add(at(schema::kAttrEnvKwargs), "is not a JSON object");
    }
    if (ReadFlag(store, schema::kAttrComplete) == std::optional<int64_t>(0)) {
      report_.Add(at(schema::kAttrComplete),
                  "is 0: the run writing this store did not finish (resume it)");
    }
    const std::string committed_at = Slash(schema::kIndexGroup);
    if (file_->KindOf(schema::kIndexGroup) != h5::ObjectKind::kGroup) {
      report_.Add(committed_at, "missing");
      return false;
    }
    return Guard(committed_at, [&] { committed_ = internal::ReadCommitted(*file_); });
  }

  template <typename T>
  std::optional<std::vector<T>> ReadIndexColumn(const IndexColumn& column) {
    const std::optional<std::vector<T>> none;
    const std::string where = Slash(column.path);
    if (file_->KindOf(column.path) != h5::ObjectKind::kDataset) {
      report_.Add(where, "missing");
      return none;
    }
    std::optional<std::vector<T>> values;
    Guard(where, [&] {
      const h5::Dataset dataset = file_->OpenDataset(column.path);
      const std::vector<hsize_t> dims = dataset.dims();
      const h5::Datatype type = dataset.datatype();
      const h5::Datatype expected = internal::IndexStoredType(column);
      const bool type_ok = column.is_language ? type.is_string() && !type.is_variable_string() &&
                                                    type.size() == expected.size()
                                              : type.AsDType() == column.dtype;
      if (!type_ok) {
        report_.Add(where, fmt::format("has element type {}, expected {}", type.Describe(),
                                       expected.Describe()));
        return;
      }
      if (dims.size() != 1 || dims[0] != static_cast<hsize_t>(committed_.episodes)) {
        report_.Add(where, fmt::format("has shape {}, expected ({},) (one row per committed "
                                       "episode)",
                                       Shape(dims), committed_.episodes));
        return;
      }
      if (column.is_language) {
        values.emplace();  // not needed beyond its shape and type
        return;
      }
      std::vector<T> data(static_cast<size_t>(committed_.episodes));
      dataset.ReadAll(h5::Datatype::Native(column.dtype), data.data());
      values = std::move(data);
    });
    return values;
  }

  // long function: the index checks in the order a reader of the report expects (counts,
  // then each column's rows against the committed counts); each is a few independent lines.
  void CheckIndex() {
    const std::vector<IndexColumn> columns = internal::IndexColumns(layout_);
    start_step_ = ReadIndexColumn<int64_t>(columns[0]);
    length_ = ReadIndexColumn<int64_t>(columns[1]);
    start_obs_ = ReadIndexColumn<int64_t>(columns[2]);
    seed_ = ReadIndexColumn<int64_t>(columns[3]);
    success_ = ReadIndexColumn<uint8_t>(columns[4]);
    const auto diverged = ReadIndexColumn<uint8_t>(columns[5]);
    const auto episode_index = ReadIndexColumn<int64_t>(columns[6]);
    ReadIndexColumn<double>(columns[7]);
    ReadIndexColumn<char>(columns[8]);
    for (size_t d = 9; d < internal::FirstChecksumColumn(layout_); ++d) {
      ReadIndexColumn<double>(columns[d]);
    }
    const int64_t episodes = committed_.episodes;
    const auto at = [](std::string_view column, int64_t i) {
      return fmt::format("/{}/{}[{}]", schema::kIndexGroup, column, i);
    };
    if (length_) {
      int64_t total = 0;
      bool lengths_ok = true;
      for (int64_t i = 0; i < episodes; ++i) {
        const int64_t t = (*length_)[static_cast<size_t>(i)];
        if (t < 1) {
          report_.AddCapped("/episodes/index/length", at(schema::kLength, i),
                            fmt::format("is {}, expected >= 1", t));
          lengths_ok = false;
        }
        // A damaged length may be anything: the sum saturates instead of overflowing.
        if (__builtin_add_overflow(total, t, &total)) total = std::numeric_limits<int64_t>::max();
      }
      if (total != committed_.steps) {
        report_.Add(
            Slash(schema::kIndexGroup) + "/" + std::string(schema::kLength),
            fmt::format("lengths sum to {}, but {} steps are committed (/{}@{})", total,
                        committed_.steps, schema::kIndexGroup, schema::kAttrCommittedSteps));
        lengths_ok = false;
      }
      // Rows are located through the index only when every length is possible.
      index_usable_ = lengths_ok;
    }
    if (start_step_ && length_) {
      // Each start against its predecessor, so one bad value is reported once or twice rather
      // than for every later episode.
      for (int64_t i = 0; i < episodes; ++i) {
        const size_t k = static_cast<size_t>(i);
        const int64_t s = (*start_step_)[k];
        int64_t expected = 0;
        if (i > 0 && __builtin_add_overflow((*start_step_)[k - 1], (*length_)[k - 1], &expected))
          expected = std::numeric_limits<int64_t>::max();
        if (s != expected) {
          report_.AddCapped(
              "/episodes/index/start_step", at(schema::kStartStep, i),
              i == 0 ? fmt::format("is {}, expected 0", s)
                     : fmt::format("is {}, expected {} (start_step[{}] + length[{}]: episodes are "
                                   "contiguous)",
                                   s, expected, i - 1, i - 1));
          index_usable_ = false;
        }
      }
    } else {
      index_usable_ = false;
    }
    if (start_obs_ && start_step_) {
      for (int64_t i = 0; i < episodes; ++i) {
        const int64_t s = (*start_obs_)[static_cast<size_t>(i)];
        int64_t expected = 0;
        if (__builtin_add_overflow((*start_step_)[static_cast<size_t>(i)], i, &expected))
          expected = std::numeric_limits<int64_t>::max();
        if (s != expected) {
          report_.AddCapped("/episodes/index/start_obs", at(schema::kStartObs, i),
                            fmt::format("is {}, expected {} (start_step + episode, since each "
                                        "episode has T + 1 observations)",
                                        s, expected));
          index_usable_ = false;
        }
      }
    } else {
      index_usable_ = false;
    }
    if (episode_index) {
      // Generation indices increase with the row (equal to it unless episodes were filtered).
      for (int64_t i = 0; i < episodes; ++i) {
        const int64_t value = (*episode_index)[static_cast<size_t>(i)];
        const int64_t previous = i > 0 ? (*episode_index)[static_cast<size_t>(i - 1)] : -1;
        if (value < i || value <= previous) {
          report_.AddCapped("/episodes/index/episode_index", at(schema::kEpisodeIndex, i),
                            fmt::format("is {}, expected an index >= {} (its row) and above the "
                                        "previous row's {}",
                                        value, i, previous));
        }
      }
    }
    using Flags = std::pair<std::string_view, const std::optional<std::vector<uint8_t>>*>;
    for (const auto& [name, flags] :
         {Flags{schema::kSuccess, &success_}, Flags{schema::kDiverged, &diverged}}) {
      if (!*flags) continue;
      for (int64_t i = 0; i < episodes; ++i) {
        const int value = (**flags)[static_cast<size_t>(i)];
        if (value > 1) {
          report_.AddCapped(fmt::format("/{}/{}", schema::kIndexGroup, name), at(name, i),
                            fmt::format("is {}, expected 0 or 1", value));
        }
      }
    }
  }

  void CheckColumns() {
    for (const auto* list : {&layout_.step_columns, &layout_.obs_columns}) {
      const bool observation = list == &layout_.obs_columns;
      const int64_t rows = observation ? committed_.obs_rows : committed_.steps;
      for (const ColumnSpec& column : *list) {
        const std::string path = internal::StorePath(column);
        const std::string where = Slash(path);
        if (file_->KindOf(path) != h5::ObjectKind::kDataset) {
          report_.Add(where, "missing (the layout lists it)");
          continue;
        }
        Guard(where, [&] {
          const h5::Dataset dataset = file_->OpenDataset(path);
          const h5::Datatype type = dataset.datatype();
          if (type.AsDType() != column.dtype) {
            report_.Add(where, fmt::format("has element type {}, expected {} (the layout's)",
                                           type.Describe(), DTypeName(column.dtype)));
          }
          const std::vector<hsize_t> dims = dataset.dims();
          std::vector<hsize_t> expected = {static_cast<hsize_t>(rows)};
          expected.insert(expected.end(), column.row_shape.begin(), column.row_shape.end());
          if (dims != expected) {
            report_.Add(where,
                        fmt::format("has shape {}, expected {} ({})", Shape(dims), Shape(expected),
                                    observation ? "steps + episodes rows: T + 1 per episode"
                                                : "one row per step"));
          }
        });
      }
    }
  }

  // Every committed row of every column against the per-episode checksums.
  void CheckChecksums() {
    const std::vector<IndexColumn> columns = internal::IndexColumns(layout_);
    size_t position = internal::FirstChecksumColumn(layout_);
    for (const auto* list : {&layout_.step_columns, &layout_.obs_columns}) {
      const bool observation = list == &layout_.obs_columns;
      for (const ColumnSpec& column : *list) {
        const std::optional<std::vector<int64_t>> sums =
            ReadIndexColumn<int64_t>(columns[position++]);
        const std::string path = internal::StorePath(column);
        if (!sums || !index_usable_ || file_->KindOf(path) != h5::ObjectKind::kDataset) continue;
        Guard(Slash(path), [&] { CheckColumnChecksums(column, observation, *sums); });
      }
    }
  }

  // Reads the column a block of episodes at a time (memory stays bounded for image columns).
  void CheckColumnChecksums(const ColumnSpec& column, bool observation,
                            const std::vector<int64_t>& sums) {
    const std::string path = internal::StorePath(column);
    const h5::Dataset dataset = file_->OpenDataset(path);
    const int64_t rows = observation ? committed_.obs_rows : committed_.steps;
    if (dataset.dims().empty() || dataset.dims()[0] != static_cast<hsize_t>(rows)) return;
    constexpr uint64_t kBlockBytes = 64 * 1024 * 1024;
    const uint64_t row_bytes = column.row_bytes();
    const std::vector<int64_t>& starts = observation ? *start_obs_ : *start_step_;
    std::vector<uint8_t> block;
    for (int64_t first = 0; first < committed_.episodes;) {
      const auto row_of = [&](int64_t e) {
        return e < committed_.episodes ? starts[static_cast<size_t>(e)] : rows;
      };
      int64_t last = first + 1;  // at least one episode per block, as large as it is
      while (last < committed_.episodes &&
             static_cast<uint64_t>(row_of(last + 1) - row_of(first)) * row_bytes <= kBlockBytes) {
        ++last;
      }
      const int64_t first_row = row_of(first);
      const int64_t num_rows = row_of(last) - first_row;
      block.resize(static_cast<size_t>(static_cast<uint64_t>(num_rows) * row_bytes));
      const auto read_rows = [&](int64_t row, int64_t count, uint8_t* out) {
        try {
          dataset.ReadRows(h5::Datatype::Native(column.dtype), static_cast<hsize_t>(row),
                           static_cast<hsize_t>(count), out);
          return true;
        } catch (const h5::Hdf5Error&) {
          return false;
        }
      };
      // A block that cannot be decoded is read again episode by episode, to name the damaged.
      const bool block_read = read_rows(first_row, num_rows, block.data());
      for (int64_t e = first; e < last; ++e) {
        const int64_t begin = row_of(e);
        const int64_t end = row_of(e + 1);
        uint8_t* rows_of_e = block.data() + static_cast<uint64_t>(begin - first_row) * row_bytes;
        if (!block_read && !read_rows(begin, end - begin, rows_of_e)) {
          report_.AddCapped(Slash(path), Slash(path),
                            fmt::format("episode {} (rows [{}, {})) cannot be read: HDF5 could "
                                        "not decode its stored data (damaged)",
                                        e, begin, end));
          continue;
        }
        const int64_t read = internal::RowsChecksum(
            block.data() + static_cast<uint64_t>(begin - first_row) * row_bytes,
            static_cast<size_t>(static_cast<uint64_t>(end - begin) * row_bytes));
        const int64_t stored = sums[static_cast<size_t>(e)];
        if (read != stored) {
          report_.AddCapped(
              Slash(path), Slash(path),
              fmt::format("episode {} (rows [{}, {})) does not match its checksum (stored {:08x}, "
                          "read {:08x}): the data was damaged after it was written",
                          e, begin, end, stored, read));
        }
      }
      first = last;
    }
  }

  void CheckDones() {
    const ColumnSpec* dones = layout_.FindColumn(schema::kDones);
    if (dones == nullptr || !index_usable_) return;
    const std::string path = internal::StorePath(*dones);
    if (file_->KindOf(path) != h5::ObjectKind::kDataset) return;
    Guard(Slash(path), [&] {
      const h5::Dataset dataset = file_->OpenDataset(path);
      if (dataset.dims() != std::vector<hsize_t>{static_cast<hsize_t>(committed_.steps)}) return;
      std::vector<uint8_t> bytes(static_cast<size_t>(committed_.steps) * dones->row_bytes());
      dataset.ReadAll(h5::Datatype::Native(dones->dtype), bytes.data());
      for (int64_t i = 0; i < committed_.episodes; ++i) {
        const int64_t last =
            (*start_step_)[static_cast<size_t>(i)] + (*length_)[static_cast<size_t>(i)] - 1;
        const double value = ElementAsDouble(dones->dtype, bytes.data(), static_cast<size_t>(last));
        if (value != 1.0) {
          report_.AddCapped(
              "dones", fmt::format("{}[{}]", Slash(path), last),
              fmt::format("is {}, expected 1: the last step of episode {}", value, i));
        }
      }
    });
  }

  void CheckViews() {
    const std::string data_path = Slash(schema::kViewsGroup);
    if (file_->KindOf(schema::kViewsGroup) != h5::ObjectKind::kGroup) {
      report_.Add(data_path, fmt::format("missing although /{}@{} is 1", schema::kStoreGroup,
                                         schema::kAttrViewsBuilt));
      return;
    }
    const h5::Group data = file_->OpenGroup(schema::kViewsGroup);
    const std::string env_args_at = fmt::format("{}@{}", data_path, schema::kAttrEnvArgs);
    if (!data.HasAttribute(schema::kAttrEnvArgs)) {
      report_.Add(env_args_at, "missing (robomimic reads it)");
    } else {
      Guard(env_args_at, [&] {
        const auto args = ParseJson(env_args_at, data.ReadStringAttribute(schema::kAttrEnvArgs));
        if (!args) return;
        const auto member = [&](const char* key) {
          return args->is_object() ? args->value(key, nlohmann::json()) : nlohmann::json();
        };
        const nlohmann::json name = member("env_name");
        const nlohmann::json type = member("type");
        const nlohmann::json kwargs = member("env_kwargs");
        if (!name.is_string()) {
          report_.Add(env_args_at, "has no string 'env_name'");
        } else if (name.get<std::string>() != layout_.env_name) {
          report_.Add(env_args_at, fmt::format("env_name is '{}', the store's is '{}'",
                                               name.get<std::string>(), layout_.env_name));
        }
        // robomimic compares it with its EnvType integers, and 2.0 == 2 in Python: accept both.
        const bool integral =
            type.is_number_integer() ||
            (type.is_number_float() &&
             type.get<double>() == static_cast<double>(static_cast<int64_t>(type.get<double>())));
        if (!integral) report_.Add(env_args_at, "has no integer 'type' (robomimic's EnvType)");
        if (!kwargs.is_object()) report_.Add(env_args_at, "has no object 'env_kwargs'");
      });
    }
    const std::string total_at = fmt::format("{}@{}", data_path, schema::kAttrTotal);
    if (!data.HasAttribute(schema::kAttrTotal)) {
      report_.Add(total_at, "missing");
    } else {
      Guard(total_at, [&] {
        const int64_t total = data.ReadIntAttribute(schema::kAttrTotal);
        if (total != committed_.steps) {
          report_.Add(total_at, fmt::format("is {}, expected {} (the number of steps)", total,
                                            committed_.steps));
        }
      });
    }
    // Children: exactly demo_0 .. demo_{E-1}.
    std::set<std::string> expected;
    for (int64_t i = 0; i < committed_.episodes; ++i) expected.insert(schema::DemoName(i));
    for (const std::string& name : data.ChildNames()) {
      demo_names_.insert(name);
      if (expected.count(name) == 0) {
        report_.AddCapped(
            "extra demo", fmt::format("{}/{}", data_path, name),
            fmt::format("unexpected: the store has {} episodes", committed_.episodes));
      }
    }
    for (int64_t i = 0; i < committed_.episodes; ++i) {
      const std::string name = schema::DemoName(i);
      if (demo_names_.count(name) == 0) {
        report_.AddCapped(data_path, fmt::format("{}/{}", data_path, name), "missing");
        continue;
      }
      Guard(fmt::format("{}/{}", data_path, name), [&] { CheckDemo(data.OpenGroup(name), i); });
    }
  }

  // long function: every attribute and view of one demo against the store, one independent
  // check after another, each reported on its own.
  void CheckDemo(const h5::Group& demo, int64_t episode) {
    const size_t e = static_cast<size_t>(episode);
    const auto check_int = [&](std::string_view name, std::optional<int64_t> expected) {
      const std::string where = fmt::format("{}@{}", demo.path(), name);
      if (!demo.HasAttribute(name)) {
        report_.AddCapped("/data/demo_*", where, "missing");
        return;
      }
      Guard(where, [&] {
        const h5::Datatype type = demo.AttributeType(name);
        if (!type.AsDType() || type.is_string()) {
          report_.AddCapped("/data/demo_*", where,
                            fmt::format("is {}, expected an integer", type.Describe()));
          return;
        }
        const int64_t value = demo.ReadIntAttribute(name);
        if (expected && value != *expected) {
          report_.AddCapped(
              "demo attribute", where,
              fmt::format("is {}, expected {} (the store's index)", value, *expected));
        }
      });
    };
    const auto index_value = [&](const auto& column) -> std::optional<int64_t> {
      if (!column) return std::nullopt;
      return static_cast<int64_t>((*column)[e]);
    };
    check_int(schema::kAttrNumSamples, index_value(length_));
    check_int(schema::kSeed, index_value(seed_));
    check_int(schema::kSuccess, index_value(success_));
    if (!index_usable_) return;
    const hsize_t length = static_cast<hsize_t>((*length_)[e]);
    const auto check_view = [&](const std::string& name, const ColumnSpec& column,
                                hsize_t first_row) {
      const std::string where = fmt::format("{}/{}", demo.path(), name);
      if (demo.KindOf(name) != h5::ObjectKind::kDataset) {
        report_.AddCapped("/data/demo_*", where, "missing");
        return;
      }
      Guard(where, [&] {
        const h5::Dataset view = demo.OpenDataset(name);
        std::vector<hsize_t> expected_dims = {length};
        expected_dims.insert(expected_dims.end(), column.row_shape.begin(), column.row_shape.end());
        if (view.dims() != expected_dims) {
          report_.AddCapped(
              "view shape", where,
              fmt::format("has shape {}, expected {}", Shape(view.dims()), Shape(expected_dims)));
        }
        if (view.datatype().AsDType() != column.dtype) {
          report_.AddCapped("/data/demo_*", where,
                            fmt::format("has element type {}, expected {}",
                                        view.datatype().Describe(), DTypeName(column.dtype)));
        }
        if (!view.is_virtual()) {
          report_.AddCapped("/data/demo_*", where,
                            "is not a virtual dataset onto the store (a copy?)");
          return;
        }
        const std::vector<h5::VirtualSource> sources = view.VirtualSources();
        const std::string source = Slash(internal::StorePath(column));
        const bool ok = sources.size() == 1 && sources[0].file_name == "." &&
                        sources[0].dataset_path == source && sources[0].first_row == first_row &&
                        sources[0].num_rows == length;
        if (!ok) {
          std::vector<std::string> found;
          for (const h5::VirtualSource& s : sources) {
            found.push_back(fmt::format("{}:{} rows [{}, {})", s.file_name, s.dataset_path,
                                        s.first_row, s.first_row + s.num_rows));
          }
          report_.AddCapped(
              "view mapping", where,
              fmt::format("maps {}, expected .:{} rows [{}, {})",
                          found.empty() ? "nothing" : fmt::format("{}", fmt::join(found, " + ")),
                          source, first_row, first_row + length));
        }
      });
    };
    for (const ColumnSpec& column : layout_.step_columns) {
      check_view(column.name, column, static_cast<hsize_t>((*start_step_)[e]));
    }
    for (const ColumnSpec& column : layout_.obs_columns) {
      const std::string key = column.name.substr(schema::kObsPrefix.size());
      const hsize_t start = static_cast<hsize_t>((*start_obs_)[e]);
      check_view(column.name, column, start);
      check_view(fmt::format("{}{}", schema::kNextObsPrefix, key), column, start + 1);
    }
  }

  void CheckMasks() {
    const std::string mask_path = Slash(schema::kMaskGroup);
    if (file_->KindOf(schema::kMaskGroup) != h5::ObjectKind::kGroup) {
      report_.Add(mask_path, "missing");
      return;
    }
    std::map<std::string, std::string> owner;  // demo name -> mask listing it
    for (const std::string_view mask : {schema::kMaskTrain, schema::kMaskValid}) {
      const std::string path = fmt::format("{}/{}", schema::kMaskGroup, mask);
      const std::string where = Slash(path);
      if (file_->KindOf(path) != h5::ObjectKind::kDataset) {
        report_.Add(where, "missing");
        continue;
      }
      Guard(where, [&] {
        const h5::Dataset dataset = file_->OpenDataset(path);
        const h5::Datatype type = dataset.datatype();
        const std::vector<hsize_t> dims = dataset.dims();
        if (!type.is_string() || type.is_variable_string() || dims.size() != 1) {
          report_.Add(where, fmt::format("is {} {}, expected a 1-D array of fixed-width byte "
                                         "strings (numpy 'S')",
                                         type.Describe(), Shape(dims)));
          return;
        }
        const size_t width = type.size();
        std::vector<char> bytes(static_cast<size_t>(dims[0]) * width);
        if (!bytes.empty()) dataset.ReadAll(type, bytes.data());
        for (size_t i = 0; i < dims[0]; ++i) {
          const char* begin = bytes.data() + i * width;
          const std::string name(begin, strnlen(begin, width));
          const std::string entry = fmt::format("{}[{}]", where, i);
          if (demo_names_.count(name) == 0) {
            report_.AddCapped(
                "mask entry", entry,
                fmt::format("names '{}', which is not a demo in /{}", name, schema::kViewsGroup));
            continue;
          }
          const auto [it, inserted] = owner.emplace(name, std::string(mask));
          if (!inserted) {
            report_.AddCapped(
                "mask entry", entry,
                it->second == mask
                    ? fmt::format("'{}' is listed twice", name)
                    : fmt::format("'{}' is in both mask/{} and mask/{}", name, it->second, mask));
          }
        }
      });
    }
    for (int64_t i = 0; i < committed_.episodes; ++i) {
      const std::string name = schema::DemoName(i);
      if (demo_names_.count(name) > 0 && owner.count(name) == 0) {
        report_.AddCapped(Slash(schema::kMaskGroup),
                          fmt::format("/{}/{}", schema::kViewsGroup, name),
                          fmt::format("is in neither /{}/{} nor /{}/{}", schema::kMaskGroup,
                                      schema::kMaskTrain, schema::kMaskGroup, schema::kMaskValid));
      }
    }
  }

  std::filesystem::path path_;
  std::optional<h5::File> file_;
  Report report_;
  StoreLayout layout_;
  internal::CommittedCounts committed_;
  std::optional<std::vector<int64_t>> start_step_;
  std::optional<std::vector<int64_t>> length_;
  std::optional<std::vector<int64_t>> start_obs_;
  std::optional<std::vector<int64_t>> seed_;
  std::optional<std::vector<uint8_t>> success_;
  bool index_usable_ = false;
  std::set<std::string> demo_names_;
};

}  // namespace

std::vector<Problem> ValidateDataset(const std::filesystem::path& path) {
  return Validator(path).Run();
}

std::string FormatProblems(const std::vector<Problem>& problems) {
  std::string text;
  for (const Problem& p : problems) text += fmt::format("{}: {}\n", p.path_in_file, p.message);
  return text;
}

}  // namespace simscale::io
