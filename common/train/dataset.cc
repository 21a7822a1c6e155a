#include "common/train/dataset.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/io/episode_store.h"
#include "common/io/hdf5.h"
#include "common/io/open_file.h"
#include "common/io/robomimic_reader.h"
#include "common/io/schema.h"

namespace simscale::train {
namespace fs = std::filesystem;

Moments::Moments(size_t dims)
    : sum(dims, 0.0),
      sum_squares(dims, 0.0),
      min(dims, std::numeric_limits<double>::infinity()),
      max(dims, -std::numeric_limits<double>::infinity()) {}

void Moments::Add(const float* row) {
  count += 1;
  for (size_t i = 0; i < sum.size(); ++i) {
    const double x = row[i];
    sum[i] += x;
    sum_squares[i] += x * x;
    min[i] = std::min(min[i], x);
    max[i] = std::max(max[i], x);
  }
}

void Moments::Merge(const Moments& other) {
  SIMSCALE_CHECK(other.sum.size() == sum.size(), "merging moments of {} and {} dims", sum.size(),
                 other.sum.size());
  count += other.count;
  for (size_t i = 0; i < sum.size(); ++i) {
    sum[i] += other.sum[i];
    sum_squares[i] += other.sum_squares[i];
    min[i] = std::min(min[i], other.min[i]);
    max[i] = std::max(max[i], other.max[i]);
  }
}

std::vector<double> Moments::Mean() const {
  std::vector<double> mean(sum.size(), 0.0);
  if (count > 0) {
    for (size_t i = 0; i < sum.size(); ++i) mean[i] = sum[i] / count;
  }
  return mean;
}

std::vector<double> Moments::Std() const {
  std::vector<double> std(sum.size(), 0.0);
  if (count > 0) {
    for (size_t i = 0; i < sum.size(); ++i) {
      const double mean = sum[i] / count;
      std[i] = std::sqrt(std::max(0.0, sum_squares[i] / count - mean * mean));
    }
  }
  return std;
}

// Where images come from: a store's obs/<camera>_image column, or robomimic demo datasets.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  // The H x W x 3 image of camera number `camera` at observation `step` (0..length) of an
  // episode given by its file episode number and first observation row.
  virtual void Read(size_t camera, int64_t file_episode, int64_t first_obs_row, int64_t step,
                    uint8_t* out) = 0;
};

namespace {

std::string ImageKey(const std::string& camera) { return camera + "_image"; }

bool IsLowDim(const std::string& key, const std::vector<uint64_t>& row_shape) {
  const bool image_like = key.size() > 6 && (key.rfind("_image") == key.size() - 6 ||
                                             key.rfind("_depth") == key.size() - 6);
  return !image_like && row_shape.size() <= 1;
}

class StoreImages : public ImageSource {
 public:
  StoreImages(const fs::path& path, std::vector<std::string> columns, bool verify)
      : reader_(path, ReaderOptions(verify)), columns_(std::move(columns)), verify_(verify) {}
  void Read(size_t camera, int64_t file_episode, int64_t first_obs_row, int64_t step,
            uint8_t* out) override {
    // Images are read a row at a time; a row cannot be checked alone, so the first read of an
    // (episode, camera) reads and verifies the episode's whole block once.
    if (verify_ && verified_.insert({camera, file_episode}).second) {
      const auto [first, rows] = reader_.EpisodeRows(columns_[camera], file_episode);
      scratch_.resize(static_cast<size_t>(rows) * reader_.column(columns_[camera]).row_bytes());
      reader_.ReadRows(columns_[camera], first, rows, scratch_.data());
    }
    reader_.ReadRows(columns_[camera], first_obs_row + step, 1, out);
  }

 private:
  static io::StoreReaderOptions ReaderOptions(bool verify) {
    io::StoreReaderOptions options;
    options.verify_checksums = verify;
    return options;
  }
  io::EpisodeStoreReader reader_;
  std::vector<std::string> columns_;
  bool verify_;
  std::set<std::pair<size_t, int64_t>> verified_;
  std::vector<uint8_t> scratch_;
};

class RobomimicImages : public ImageSource {
 public:
  RobomimicImages(const fs::path& path, std::vector<std::string> keys)
      : reader_(path), keys_(std::move(keys)) {}
  void Read(size_t camera, int64_t file_episode, int64_t, int64_t step, uint8_t* out) override {
    const int64_t length = reader_.NumSamples(file_episode);
    // The final observation (step == length) lives in next_obs.
    if (step < length) {
      reader_.ReadRows(file_episode, "obs/" + keys_[camera], step, 1, io::DType::kUInt8, out);
    } else {
      const std::string next = "next_obs/" + keys_[camera];
      reader_.ReadRows(file_episode,
                       reader_.Has(file_episode, next) ? next : "obs/" + keys_[camera], length - 1,
                       1, io::DType::kUInt8, out);
    }
  }

 private:
  io::RobomimicReader reader_;
  std::vector<std::string> keys_;
};

// The dataset's episodes for `split`, from the file's masks (falling back to the same split the
// views would have used when a store has none).
std::vector<int64_t> SelectEpisodes(const fs::path& path, const std::string& split,
                                    const std::vector<int64_t>& available) {
  if (split == "all") return available;
  CheckArgument(split == "train" || split == "valid", "dataset split", split,
                "one of train, valid, all");
  if (auto mask = io::ReadMask(path, split)) return *mask;
  log::Warn("{} has no mask/{}; using all {} episodes", path.string(), split, available.size());
  return split == "valid" ? std::vector<int64_t>{} : available;
}

// The store's image column of `camera`, checked to be uint8 (H, W, 3).
const io::ColumnSpec& StoreImageColumn(const fs::path& path, const io::StoreLayout& layout,
                                       const std::string& camera) {
  const io::ColumnSpec* column = layout.FindColumn("obs/" + ImageKey(camera));
  if (column == nullptr) {
    throw InvalidArgumentError(
        fmt::format("train.cameras: '{}' has no obs/{}_image (record it with datagen --cameras {})",
                    path.string(), camera, camera));
  }
  if (column->row_shape.size() != 3 || column->row_shape[2] != 3 ||
      column->dtype != io::DType::kUInt8) {
    throw InvalidArgumentError(fmt::format("{}: obs/{} is {}, expected uint8 (H, W, 3)",
                                           path.string(), ImageKey(camera), column->Describe()));
  }
  return *column;
}

// Whole observation columns of the store as float, each (steps + episodes) x width.
std::vector<std::vector<float>> ReadObservationColumns(
    const io::EpisodeStoreReader& reader,
    const std::vector<std::pair<std::string, int64_t>>& keys) {
  const int64_t obs_rows = reader.num_steps() + reader.num_episodes();
  std::vector<std::vector<float>> columns;
  for (const auto& [key, width] : keys) {
    std::vector<float> values(static_cast<size_t>(obs_rows * width));
    const io::ColumnSpec& spec = reader.column("obs/" + key);
    const std::vector<uint8_t> raw = reader.ReadRows("obs/" + key, 0, obs_rows);
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = static_cast<float>(io::ElementAsDouble(spec.dtype, raw.data(), i));
    }
    columns.push_back(std::move(values));
  }
  return columns;
}

// Rows first_row .. first_row + length of `columns` (one per key), side by side: the episode's
// (length + 1) x dim frames of those keys.
std::vector<float> EpisodeRows(const std::vector<std::vector<float>>& columns,
                               const std::vector<std::pair<std::string, int64_t>>& keys,
                               int64_t dim, int64_t first_row, int64_t length) {
  std::vector<float> rows(static_cast<size_t>((length + 1) * dim));
  for (int64_t t = 0; t <= length; ++t) {
    int64_t offset = 0;
    for (size_t k = 0; k < keys.size(); ++k) {
      const int64_t width = keys[k].second;
      const float* src = columns[k].data() + (first_row + t) * width;
      std::copy(src, src + width, rows.begin() + t * dim + offset);
      offset += width;
    }
  }
  return rows;
}

// Throws InvalidArgumentError unless `key` is one of the file's low-dimensional observations.
void CheckLowDimKey(const std::string& option, const std::string& key,
                    const std::vector<std::string>& available, const fs::path& path) {
  if (std::find(available.begin(), available.end(), key) != available.end()) return;
  throw InvalidArgumentError(
      fmt::format("{}: '{}' is not a low-dimensional observation of '{}'; it has: {}", option, key,
                  path.string(), fmt::join(available, ", ")));
}

}  // namespace

TrajectoryDataset::TrajectoryDataset(const fs::path& path, DatasetOptions options)
    : options_(std::move(options)) {
  CheckArgument(options_.history >= 1, "train.history", options_.history, "at least 1 frame");
  CheckArgument(options_.action_horizon >= 1, "train.action_horizon", options_.action_horizon,
                "at least 1 action");
  // A SimScale store has episodes/ (read natively, much faster than through the views); any other
  // robomimic-layout file only data/.
  // Opening it first turns a truncated, non-HDF5 or damaged file into one clear sentence.
  if (io::IsEpisodeStore(path)) {
    LoadStore(path);
  } else {
    LoadRobomimic(path);
  }
  CheckFinite(path);
  for (size_t e = 0; e < episodes_.size(); ++e) {
    for (int64_t t = 0; t < episodes_[e].length; ++t) {
      sample_episode_.push_back(static_cast<int32_t>(e));
      sample_step_.push_back(static_cast<int32_t>(t));
    }
  }
  log::Info(
      "dataset {} ({}): {} episodes, {} samples ({} split), state {} = {} x [{}], actions "
      "{} x {}{}",
      path.string(), format_, episodes_.size(), sample_episode_.size(), options_.split, state_dim(),
      options_.history, fmt::join(state_keys_, ", "), options_.action_horizon, action_dim_,
      options_.cameras.empty()
          ? ""
          : fmt::format(", images [{}] {}x{}", fmt::join(options_.cameras, ", "), image_height_,
                        image_width_));
  if (sample_episode_.empty()) {
    throw InvalidArgumentError(
        fmt::format("dataset '{}' has no samples in split '{}'", path.string(), options_.split));
  }
}

TrajectoryDataset::~TrajectoryDataset() = default;

void TrajectoryDataset::CheckFinite(const fs::path& path) const {
  for (const Episode& episode : episodes_) {
    const struct {
      const std::vector<float>& values;
      int64_t width;
      std::string what;
    } parts[] = {
        {episode.actions, action_dim_, "actions"},
        {episode.frames, frame_dim_, fmt::format("state [{}]", fmt::join(state_keys_, ", "))},
        {episode.targets, target_dim_,
         fmt::format("targets [{}]", fmt::join(options_.target_keys, ", "))}};
    for (const auto& part : parts) {
      const auto bad = std::find_if(part.values.begin(), part.values.end(),
                                    [](float x) { return !std::isfinite(x); });
      if (bad == part.values.end()) continue;
      throw InvalidArgumentError(fmt::format(
          "'{}': episode {} has a non-finite value ({}) in its {} at step {}; a policy cannot "
          "learn from it: regenerate the dataset or drop the episode",
          path.string(), episode.file_episode, *bad, part.what,
          (bad - part.values.begin()) / part.width));
    }
  }
}

void TrajectoryDataset::LoadStore(const fs::path& path) {
  format_ = "store";
  io::StoreReaderOptions reader_options;
  reader_options.verify_checksums = options_.verify_checksums;
  // Whole columns are read below, so every selected episode's low-dimensional data is verified.
  io::EpisodeStoreReader reader(path, reader_options);
  env_name_ = reader.layout().env_name;
  const auto& layout = reader.layout();
  // State keys: the requested ones, or every low-dimensional observation column.
  std::vector<std::pair<std::string, int64_t>> keys;  // key, width
  std::vector<std::string> available;
  for (const auto& column : layout.obs_columns) {
    const std::string key = column.name.substr(4);  // drop "obs/"
    if (IsLowDim(key, column.row_shape)) available.push_back(key);
  }
  state_keys_ = options_.state_keys.empty() ? available : options_.state_keys;
  for (const auto& key : state_keys_) {
    CheckLowDimKey("train.state_keys", key, available, path);
    keys.emplace_back(key, static_cast<int64_t>(reader.column("obs/" + key).row_elements()));
    frame_dim_ += keys.back().second;
  }
  std::vector<std::pair<std::string, int64_t>> target_keys;
  for (const auto& key : options_.target_keys) {
    CheckLowDimKey("model.target_keys", key, available, path);
    target_keys.emplace_back(key, static_cast<int64_t>(reader.column("obs/" + key).row_elements()));
    target_dim_ += target_keys.back().second;
  }
  action_dim_ = static_cast<int64_t>(reader.column("actions").row_elements());
  for (const auto& camera : options_.cameras) {
    const io::ColumnSpec& column = StoreImageColumn(path, layout, camera);
    image_height_ = static_cast<int64_t>(column.row_shape[0]);
    image_width_ = static_cast<int64_t>(column.row_shape[1]);
  }

  // Low-dimensional data in memory: whole columns, then split per episode.
  const std::vector<std::vector<float>> columns = ReadObservationColumns(reader, keys);
  const std::vector<std::vector<float>> target_columns =
      ReadObservationColumns(reader, target_keys);
  const io::ColumnSpec& action_spec = reader.column("actions");
  const std::vector<uint8_t> raw_actions = reader.ReadRows("actions", 0, reader.num_steps());

  std::vector<int64_t> all(static_cast<size_t>(reader.num_episodes()));
  for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<int64_t>(i);
  const io::StoreIndex& index = reader.index();
  for (const int64_t row : SelectEpisodes(path, options_.split, all)) {
    CheckArgument(row >= 0 && row < reader.num_episodes(), path.string() + " mask entry", row,
                  fmt::format("a demo number below {}", reader.num_episodes()));
    Episode episode;
    episode.file_episode = row;
    episode.length = index.length[static_cast<size_t>(row)];
    episode.first_obs_row = index.start_obs[static_cast<size_t>(row)];
    episode.language = index.language[static_cast<size_t>(row)];
    episode.frames = EpisodeRows(columns, keys, frame_dim_, episode.first_obs_row, episode.length);
    episode.targets = EpisodeRows(target_columns, target_keys, target_dim_, episode.first_obs_row,
                                  episode.length);
    const int64_t first_step = index.start_step[static_cast<size_t>(row)];
    episode.actions.resize(static_cast<size_t>(episode.length * action_dim_));
    for (size_t i = 0; i < episode.actions.size(); ++i) {
      episode.actions[i] = static_cast<float>(
          io::ElementAsDouble(action_spec.dtype, raw_actions.data(),
                              static_cast<size_t>(first_step * action_dim_) + i));
    }
    episodes_.push_back(std::move(episode));
  }
  if (!options_.cameras.empty()) {
    std::vector<std::string> image_columns;
    for (const auto& camera : options_.cameras) image_columns.push_back("obs/" + ImageKey(camera));
    images_ =
        std::make_unique<StoreImages>(path, std::move(image_columns), options_.verify_checksums);
  }
}

void TrajectoryDataset::LoadRobomimic(const fs::path& path) {
  format_ = "robomimic";
  io::RobomimicReader reader(path);
  env_name_ = reader.env_name();
  std::vector<std::string> available;
  std::map<std::string, int64_t> widths;
  for (const auto& [key, shape] : reader.ObservationKeys()) {
    if (!IsLowDim(key, shape)) continue;
    available.push_back(key);
    widths[key] = shape.empty() ? 1 : static_cast<int64_t>(shape[0]);
  }
  state_keys_ = options_.state_keys.empty() ? available : options_.state_keys;
  for (const auto& key : state_keys_) {
    CheckLowDimKey("train.state_keys", key, available, path);
    frame_dim_ += widths[key];
  }
  for (const auto& key : options_.target_keys) {
    CheckLowDimKey("model.target_keys", key, available, path);
    target_dim_ += widths[key];
  }
  // One demo's (length + 1) x dim frames of `keys`; the final one is the last next_obs (or the
  // last obs, repeated).
  auto read_frames = [&](int64_t demo, int64_t length, const std::vector<std::string>& keys,
                         int64_t dim) {
    std::vector<float> frames(static_cast<size_t>((length + 1) * dim));
    int64_t offset = 0;
    for (const auto& key : keys) {
      const int64_t width = widths[key];
      const std::vector<float> obs = reader.ReadFloat(demo, "obs/" + key);
      const bool has_next = reader.Has(demo, "next_obs/" + key);
      const std::vector<float> next = has_next ? reader.ReadFloat(demo, "next_obs/" + key) : obs;
      for (int64_t t = 0; t <= length; ++t) {
        const float* src = t < length ? obs.data() + t * width : next.data() + (length - 1) * width;
        std::copy(src, src + width, frames.begin() + t * dim + offset);
      }
      offset += width;
    }
    return frames;
  };
  for (const int64_t demo : SelectEpisodes(path, options_.split, reader.demos())) {
    Episode episode;
    episode.file_episode = demo;
    episode.length = reader.NumSamples(demo);
    const std::vector<float> actions = reader.ReadFloat(demo, "actions");
    if (action_dim_ == 0) action_dim_ = static_cast<int64_t>(actions.size()) / episode.length;
    if (static_cast<int64_t>(actions.size()) != episode.length * action_dim_) {
      throw InvalidArgumentError(fmt::format(
          "{}: data/demo_{}/actions has {} values, expected num_samples x {} = {}", path.string(),
          demo, actions.size(), action_dim_, episode.length * action_dim_));
    }
    episode.actions = actions;
    episode.frames = read_frames(demo, episode.length, state_keys_, frame_dim_);
    episode.targets = read_frames(demo, episode.length, options_.target_keys, target_dim_);
    if (auto language = reader.DemoStringAttribute(demo, "language")) episode.language = *language;
    episodes_.push_back(std::move(episode));
  }
  if (!options_.cameras.empty()) {
    std::vector<std::string> keys;
    for (const auto& camera : options_.cameras) {
      keys.push_back(ImageKey(camera));
      if (!reader.Has(reader.demos().front(), "obs/" + keys.back())) {
        throw InvalidArgumentError(
            fmt::format("train.cameras: '{}' has no obs/{}", path.string(), keys.back()));
      }
    }
    for (const auto& [key, shape] : reader.ObservationKeys()) {
      if (key == keys.front() && shape.size() == 3) {
        image_height_ = static_cast<int64_t>(shape[0]);
        image_width_ = static_cast<int64_t>(shape[1]);
      }
    }
    images_ = std::make_unique<RobomimicImages>(path, std::move(keys));
  }
}

void TrajectoryDataset::Gather(const int64_t* samples, int64_t count, HostBatch* out) const {
  const int64_t history = options_.history, horizon = options_.action_horizon;
  out->size = count;
  out->state.resize(static_cast<size_t>(count * state_dim()));
  out->actions.resize(static_cast<size_t>(count * horizon * action_dim_));
  out->language.resize(options_.language ? static_cast<size_t>(count) : 0);
  out->targets.resize(static_cast<size_t>(count * target_dim_));
  const size_t image_bytes = static_cast<size_t>(image_height_ * image_width_ * 3);
  for (const auto& camera : options_.cameras) {
    out->images[camera].resize(static_cast<size_t>(count) * image_bytes);
  }
  for (int64_t b = 0; b < count; ++b) {
    const int64_t sample = samples[b];
    SIMSCALE_CHECK(sample >= 0 && sample < num_samples(), "sample {} out of range", sample);
    const Episode& episode =
        episodes_[static_cast<size_t>(sample_episode_[static_cast<size_t>(sample)])];
    const int64_t t = sample_step_[static_cast<size_t>(sample)];
    // History frames t-history+1 .. t, clamped at the episode start.
    for (int64_t h = 0; h < history; ++h) {
      const int64_t frame = std::max<int64_t>(0, t - (history - 1 - h));
      std::copy_n(episode.frames.begin() + frame * frame_dim_, frame_dim_,
                  out->state.begin() + (b * history + h) * frame_dim_);
    }
    // Action chunk t .. t+horizon-1, clamped at the episode end.
    for (int64_t k = 0; k < horizon; ++k) {
      const int64_t step = std::min<int64_t>(episode.length - 1, t + k);
      std::copy_n(episode.actions.begin() + step * action_dim_, action_dim_,
                  out->actions.begin() + (b * horizon + k) * action_dim_);
    }
    std::copy_n(episode.targets.begin() + t * target_dim_, target_dim_,
                out->targets.begin() + b * target_dim_);
    if (options_.language) out->language[static_cast<size_t>(b)] = episode.language;
    if (images_) {
      std::lock_guard<std::mutex> lock(image_mutex_);
      for (size_t c = 0; c < options_.cameras.size(); ++c) {
        images_->Read(
            c, episode.file_episode, episode.first_obs_row, t,
            out->images[options_.cameras[c]].data() + static_cast<size_t>(b) * image_bytes);
      }
    }
  }
}

Moments TrajectoryDataset::RowMoments(int64_t first_episode, int64_t last_episode,
                                      std::vector<float> Episode::*rows, int64_t width) const {
  Moments moments(static_cast<size_t>(width));
  for (int64_t e = first_episode; e < last_episode; ++e) {
    const Episode& episode = episodes_[static_cast<size_t>(e)];
    // One row per step: a state's final frame (after the last action) is left out.
    for (int64_t t = 0; t < episode.length; ++t) moments.Add((episode.*rows).data() + t * width);
  }
  return moments;
}

Moments TrajectoryDataset::StateMoments(int64_t first_episode, int64_t last_episode) const {
  return RowMoments(first_episode, last_episode, &Episode::frames, frame_dim_);
}

Moments TrajectoryDataset::ActionMoments(int64_t first_episode, int64_t last_episode) const {
  return RowMoments(first_episode, last_episode, &Episode::actions, action_dim_);
}

Moments TrajectoryDataset::TargetMoments(int64_t first_episode, int64_t last_episode) const {
  return RowMoments(first_episode, last_episode, &Episode::targets, target_dim_);
}

}  // namespace simscale::train
