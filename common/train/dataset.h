#pragma once

#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace simscale::train {

// Reads images on demand (defined in dataset.cc).
class ImageSource;

struct DatasetOptions {
  // Observation keys concatenated (in this order) into the state; empty: every low-dimensional
  // observation key of the file, in the file's order.
  std::vector<std::string> state_keys;
  // Cameras whose obs/<camera>_image are loaded (uint8 HxWx3).
  std::vector<std::string> cameras;
  int64_t history = 1;         // frames of state per sample (oldest first; repeats the first frame)
  int64_t action_horizon = 1;  // actions per sample (repeats the last action past the end)
  bool language = false;       // load each episode's instruction
  // Which episodes: "train" (mask/train), "valid" (mask/valid) or "all".
  std::string split = "train";
  // Verify what is read from a SimScale store against its per-episode checksums (a damaged
  // file stops training with the file, column and episode named). Robomimic files carry none.
  bool verify_checksums = true;
  // Observation keys loaded as each sample's auxiliary training target, concatenated in this
  // order, at the sample's own step: what a model learns to predict from its inputs (e.g. where the
  // named cube is), never one of those inputs.
  std::vector<std::string> target_keys;
};

// One batch in plain host buffers (filled by the loader thread, turned into tensors later).
struct HostBatch {
  int64_t size = 0;
  std::vector<float> state;                            // size x state_dim
  std::vector<float> actions;                          // size x action_horizon x action_dim
  std::map<std::string, std::vector<uint8_t>> images;  // camera -> size x H x W x 3
  std::vector<std::string> language;                   // size (when loaded)
  std::vector<float> targets;                          // size x target_dim (when loaded)
};

// Per-dimension first and second moments and extremes, mergeable across ranks.
struct Moments {
  double count = 0;
  std::vector<double> sum, sum_squares, min, max;
  explicit Moments(size_t dims = 0);
  void Add(const float* row);
  void Merge(const Moments& other);
  std::vector<double> Mean() const;
  std::vector<double> Std() const;  // population std
};

// Samples of a trajectory dataset: one per step of the selected episodes, each a window of
// `history` states and `action_horizon` actions inside one episode. Reads SimScale stores
// (episodes/ store, the fast path) and any robomimic-layout file (data/demo_<i>); low-dimensional
// data is held in memory, images are read on demand (datasets larger than RAM stream).
// Gather() may be called from one loader thread while another thread uses the object.
class TrajectoryDataset {
 public:
  TrajectoryDataset(const std::filesystem::path& path, DatasetOptions options);
  ~TrajectoryDataset();

  int64_t num_samples() const { return static_cast<int64_t>(sample_episode_.size()); }
  int64_t num_episodes() const { return static_cast<int64_t>(episodes_.size()); }
  int64_t state_dim() const { return frame_dim_ * options_.history; }
  int64_t frame_dim() const { return frame_dim_; }
  int64_t action_dim() const { return action_dim_; }
  int64_t target_dim() const { return target_dim_; }
  int64_t image_height() const { return image_height_; }
  int64_t image_width() const { return image_width_; }
  const std::vector<std::string>& state_keys() const { return state_keys_; }
  const DatasetOptions& options() const { return options_; }
  const std::string& env_name() const { return env_name_; }
  // "store" or "robomimic".
  const std::string& format() const { return format_; }

  // Writes samples[0..count) into `out` (resized as needed).
  void Gather(const int64_t* samples, int64_t count, HostBatch* out) const;

  // Moments of the state frames and of the actions over the steps of episodes [first, last)
  // (an index range into this dataset's episodes), for normalisation statistics computed in
  // parallel over ranks.
  Moments StateMoments(int64_t first_episode, int64_t last_episode) const;
  Moments ActionMoments(int64_t first_episode, int64_t last_episode) const;
  Moments TargetMoments(int64_t first_episode, int64_t last_episode) const;

 private:
  struct Episode {
    int64_t file_episode = 0;  // row in the store / demo number
    int64_t length = 0;
    int64_t first_obs_row = 0;   // store: row of its first observation
    std::vector<float> frames;   // (length + 1) x frame_dim
    std::vector<float> actions;  // length x action_dim
    std::vector<float> targets;  // (length + 1) x target_dim
    std::string language;
  };
  // Moments of `width`-wide rows of one Episode member, one row per step.
  Moments RowMoments(int64_t first_episode, int64_t last_episode, std::vector<float> Episode::*rows,
                     int64_t width) const;
  void LoadStore(const std::filesystem::path& path);
  void LoadRobomimic(const std::filesystem::path& path);
  // Throws InvalidArgumentError naming the episode and step of the first NaN or infinite value.
  void CheckFinite(const std::filesystem::path& path) const;

  DatasetOptions options_;
  std::string format_;
  std::string env_name_;
  std::vector<std::string> state_keys_;
  int64_t frame_dim_ = 0;
  int64_t action_dim_ = 0;
  int64_t target_dim_ = 0;
  int64_t image_height_ = 0, image_width_ = 0;
  std::vector<Episode> episodes_;
  std::vector<int32_t> sample_episode_;  // per sample: index into episodes_
  std::vector<int32_t> sample_step_;     // per sample: step within the episode
  std::unique_ptr<ImageSource> images_;
  mutable std::mutex image_mutex_;  // HDF5 is not thread-safe
};

}  // namespace simscale::train
