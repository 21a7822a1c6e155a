#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

// Summary statistics of a store, for `datagen_mpi --stats` and for checking a dataset before
// training on it. Standard deviations are population ones (numpy's default).
namespace simscale::io {

struct DatasetStats {
  std::string path;
  bool complete = false;
  int64_t episodes = 0;
  int64_t steps = 0;
  int64_t successes = 0;
  double success_rate = 0.0;
  int64_t diverged = 0;
  double length_mean = 0.0;
  double length_std = 0.0;
  int64_t length_min = 0;
  int64_t length_max = 0;
  double return_mean = 0.0;
  double return_std = 0.0;
  double return_min = 0.0;
  double return_max = 0.0;
  // Per action dimension.
  std::vector<double> action_mean;
  std::vector<double> action_std;
  std::vector<double> action_min;
  std::vector<double> action_max;
};

// Reads the committed episodes of a store (also an incomplete one; `complete` says which).
DatasetStats ComputeStats(const std::filesystem::path& path);

// A human-readable table.
std::string FormatStatsTable(const DatasetStats& stats);
// One JSON object with the same fields.
std::string StatsToJson(const DatasetStats& stats);

}  // namespace simscale::io
