#include "tests/io/synthetic_episodes.h"

#include <fmt/format.h>

#include "common/core/hash.h"
#include "common/io/store_format.h"

namespace simscale::io::testing {

StoreLayout SyntheticLayout(bool images) {
  StoreLayout layout;
  layout.step_columns = {
      ColumnSpec::LowDim("actions", DType::kFloat32, {4}),
      ColumnSpec::LowDim("rewards", DType::kFloat32, {}),
      ColumnSpec::LowDim("dones", DType::kUInt8, {}),
      ColumnSpec::LowDim("states", DType::kFloat64, {5}),
  };
  // Filtered and unfiltered columns: both write paths are covered.
  layout.step_columns[0].gzip_level = 4;  // actions: gzip + shuffle
  layout.step_columns[2].gzip_level = 1;  // dones
  layout.obs_columns = {
      ColumnSpec::LowDim("obs/ee_pos", DType::kFloat32, {3}),
      ColumnSpec::LowDim("obs/gripper", DType::kFloat64, {2}),
  };
  layout.obs_columns[0].gzip_level = 4;
  // Small chunks, so that a few hundred rows span several chunks shared between ranks.
  layout.obs_columns[0].chunk_rows = 64;
  if (images) {
    layout.obs_columns.push_back(ColumnSpec::Image("obs/agentview_image", 8, 8, 3));
    layout.obs_columns.push_back(ColumnSpec::Image("obs/wrist_image", 4, 4, 3, /*gzip_level=*/1));
  }
  layout.dr_value_names = {"friction", "mass_scale"};
  layout.env_name = "SyntheticReach";
  layout.env_kwargs_json = R"({"control_freq": 20, "camera": "agentview"})";
  layout.resolved_config_yaml = "datagen:\n  episodes: 40\n";
  layout.git_sha = "0123456789ab";
  return layout;
}

int64_t SyntheticLength(int64_t episode) { return 1 + (episode * 37 + 11) % 50; }

std::string SyntheticLanguage(int64_t episode) {
  if (episode % 11 == 4) return std::string(schema::kLanguageBytes, 'x');  // full width
  if (episode % 13 == 5) return "";
  return fmt::format("pick up the red cube and place it on target {}", episode);
}

namespace {

template <typename T, typename Fn>
std::vector<uint8_t> Fill(int64_t rows, uint64_t row_elements, Fn value) {
  std::vector<T> values;
  for (int64_t t = 0; t < rows; ++t) {
    for (uint64_t j = 0; j < row_elements; ++j) values.push_back(value(t, j));
  }
  return ToBytes(values);
}

}  // namespace

EpisodeRecord SyntheticEpisode(const StoreLayout& layout, int64_t e) {
  EpisodeRecord r;
  r.episode_index = e;
  r.seed = 1000 + 3 * e;
  r.length = SyntheticLength(e);
  r.success = e % 3 == 0;
  r.diverged = e % 7 == 3;
  r.language = SyntheticLanguage(e);
  r.dr_values = {0.5 + 0.01 * static_cast<double>(e), 1.0 + 0.125 * static_cast<double>(e)};
  const int64_t T = r.length;
  r.episode_return = 0.0;
  for (int64_t t = 0; t < T; ++t) r.episode_return += 0.25 * static_cast<double>(t);
  for (const ColumnSpec& c : layout.step_columns) {
    const uint64_t n = c.row_elements();
    if (c.name == "actions") {
      r.step_data.push_back(Fill<float>(T, n, [&](int64_t t, uint64_t j) {
        return 0.5f * static_cast<float>(e * 1000 + t * 10 + static_cast<int64_t>(j));
      }));
    } else if (c.name == "rewards") {
      r.step_data.push_back(
          Fill<float>(T, n, [](int64_t t, uint64_t) { return 0.25f * static_cast<float>(t); }));
    } else if (c.name == "dones") {
      r.step_data.push_back(Fill<uint8_t>(
          T, n, [&](int64_t t, uint64_t) { return static_cast<uint8_t>(t == T - 1 ? 1 : 0); }));
    } else {
      r.step_data.push_back(Fill<double>(T, n, [&](int64_t t, uint64_t j) {
        return 100.0 * static_cast<double>(e) + static_cast<double>(t) +
               0.5 * static_cast<double>(j);
      }));
    }
  }
  for (const ColumnSpec& c : layout.obs_columns) {
    const uint64_t n = c.row_elements();
    if (c.dtype == DType::kUInt8) {
      r.obs_data.push_back(Fill<uint8_t>(T + 1, n, [&](int64_t t, uint64_t j) {
        return static_cast<uint8_t>((e * 7 + t * 3 + static_cast<int64_t>(j)) % 256);
      }));
    } else if (c.dtype == DType::kFloat32) {
      r.obs_data.push_back(Fill<float>(T + 1, n, [&](int64_t t, uint64_t j) {
        return static_cast<float>(e) + 0.25f * static_cast<float>(t) +
               0.125f * static_cast<float>(j);
      }));
    } else {
      r.obs_data.push_back(Fill<double>(T + 1, n, [&](int64_t t, uint64_t j) {
        return -static_cast<double>(e) - 0.5 * static_cast<double>(t) - static_cast<double>(j);
      }));
    }
  }
  return r;
}

int64_t RoundSize(int64_t round) {
  static constexpr int64_t kSizes[] = {5, 1, 7, 0, 3, 9, 2, 6};
  return kSizes[round % 8];
}

void WriteSyntheticRounds(EpisodeStoreWriter& writer, const mpi::Communicator& comm,
                          int64_t total) {
  int64_t begin = writer.committed_episodes();
  for (int64_t round = 0; begin < total; ++round) {
    const int64_t end = std::min(total, begin + RoundSize(round));
    const mpi::Range mine = mpi::SplitEvenly(mpi::Range{begin, end}, comm.size(), comm.rank());
    std::vector<EpisodeRecord> records;
    for (int64_t e = mine.begin; e < mine.end; ++e) {
      records.push_back(SyntheticEpisode(writer.layout(), e));
    }
    writer.AppendRound(records);
    begin = end;
  }
}

namespace {

struct Digest {
  uint64_t hash = kFnvOffset;
  void Add(const void* data, size_t bytes) { hash = Fnv1a(data, bytes, hash); }
  template <typename T>
  void Add(const T& value) {
    Add(&value, sizeof(T));
  }
  void Add(const std::string& text) {
    Add(static_cast<uint64_t>(text.size()));
    Add(text.data(), text.size());
  }
};

void AddLayout(Digest& d, const StoreLayout& layout) {
  d.Add(LayoutColumnsToJson(layout));
  d.Add(layout.env_name);
  d.Add(layout.env_kwargs_json);
}

void AddEpisode(Digest& d, const EpisodeRecord& r) {
  d.Add(r.episode_index);
  d.Add(r.seed);
  d.Add(r.length);
  d.Add(static_cast<uint8_t>(r.success));
  d.Add(static_cast<uint8_t>(r.diverged));
  d.Add(r.episode_return);
  d.Add(r.language);
  for (double v : r.dr_values) d.Add(v);
  for (const auto& bytes : r.step_data) d.Add(bytes.data(), bytes.size());
  for (const auto& bytes : r.obs_data) d.Add(bytes.data(), bytes.size());
}

}  // namespace

uint64_t StoreDigest(const EpisodeStoreReader& reader) {
  Digest d;
  AddLayout(d, reader.layout());
  for (int64_t e = 0; e < reader.num_episodes(); ++e) AddEpisode(d, reader.ReadEpisode(e));
  return d.hash;
}

uint64_t ExpectedDigest(const StoreLayout& layout, int64_t total) {
  Digest d;
  AddLayout(d, layout);
  for (int64_t e = 0; e < total; ++e) AddEpisode(d, SyntheticEpisode(layout, e));
  return d.hash;
}

}  // namespace simscale::io::testing
