#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>

#include "common/train/trainer_options.h"

namespace simscale::train {

// One line of the metrics file: the means over the steps of one logging window.
struct MetricsLine {
  int64_t step = 0;
  double loss = 0.0;
  double lr = 0.0;
  double grad_norm = 0.0;
  double samples_per_s = 0.0;
  double data_wait_share = 0.0;  // of the window's wall time
  double allreduce_share = 0.0;
  int64_t skipped = 0;  // non-finite steps so far
  // Loss on the validation split at this step, when one was computed (eval_every, the last
  // step); NaN otherwise: then the JSON line has no valid_loss and the CSV cell is empty.
  double valid_loss = std::numeric_limits<double>::quiet_NaN();
  // Its auxiliary part (model.target_keys: the target loss before model.target_weight), when the
  // model has one; NaN otherwise, like valid_loss.
  double valid_target_loss = std::numeric_limits<double>::quiet_NaN();
};

// The run's metrics file, <run_dir>/metrics.jsonl or metrics.csv, written by one rank. A resumed
// run drops the lines after its checkpoint's step, so the file reads as one uninterrupted run.
class MetricsWriter {
 public:
  // Rewrites the file keeping the lines of steps <= resumed_step (none when 0). A disabled writer
  // (on ranks other than 0) touches no file.
  MetricsWriter(const std::filesystem::path& run_dir, MetricsFormat format, int64_t resumed_step,
                bool enabled);

  // Appends and flushes one line; throws IoError naming the file if it cannot (a full disk).
  void Write(const MetricsLine& line);

  static const char* FileName(MetricsFormat format);

 private:
  void CheckWritten();

  std::filesystem::path path_;
  MetricsFormat format_;
  bool enabled_;
  std::ofstream file_;
};

// Accumulates the steps between two metrics lines (a window) and the totals over the run.
class MetricsWindow {
 public:
  using Clock = std::chrono::steady_clock;

  explicit MetricsWindow(int64_t batch_size);

  // Where the loader adds the seconds it made the trainer wait.
  double* data_wait_seconds() { return &data_wait_; }
  void AddAllReduceSeconds(double seconds) { allreduce_ += seconds; }
  // An applied step (skipped ones count in the times but not in the means).
  void AddStep(double loss, double grad_norm);

  // The window's line (without `step`, `lr` and `skipped`, which the trainer knows); starts the
  // next window.
  MetricsLine Close();

  double last_loss() const { return last_loss_; }
  // Over the closed windows.
  double total_data_wait() const { return total_data_wait_; }
  double total_allreduce() const { return total_allreduce_; }

 private:
  int64_t batch_size_;
  Clock::time_point start_ = Clock::now();
  double loss_ = 0.0, grad_norm_ = 0.0, data_wait_ = 0.0, allreduce_ = 0.0;
  int64_t steps_ = 0;
  double last_loss_ = 0.0;
  double total_data_wait_ = 0.0, total_allreduce_ = 0.0;
};

}  // namespace simscale::train
