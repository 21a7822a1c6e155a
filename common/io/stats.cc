#include "common/io/stats.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/io/episode_store.h"

namespace simscale::io {
namespace {

// Welford's running mean and variance, with extremes.
struct Accumulator {
  int64_t count = 0;
  double mean = 0.0;
  double m2 = 0.0;
  double min = std::numeric_limits<double>::infinity();
  double max = -std::numeric_limits<double>::infinity();

  void Add(double x) {
    ++count;
    const double delta = x - mean;
    mean += delta / static_cast<double>(count);
    m2 += delta * (x - mean);
    min = std::min(min, x);
    max = std::max(max, x);
  }
  double stddev() const { return count > 0 ? std::sqrt(m2 / static_cast<double>(count)) : 0.0; }
  double lowest() const { return count > 0 ? min : 0.0; }
  double highest() const { return count > 0 ? max : 0.0; }
};

// Actions are read this many rows at a time, so memory stays bounded for any store.
constexpr int64_t kBlockRows = 65536;

}  // namespace

DatasetStats ComputeStats(const std::filesystem::path& path) {
  StoreReaderOptions options;
  options.allow_incomplete = true;
  const EpisodeStoreReader reader(path, options);
  const StoreIndex& index = reader.index();
  DatasetStats stats;
  stats.path = path.string();
  stats.complete = reader.complete();
  stats.episodes = reader.num_episodes();
  stats.steps = reader.num_steps();

  Accumulator length;
  Accumulator episode_return;
  for (int64_t e = 0; e < stats.episodes; ++e) {
    const size_t i = static_cast<size_t>(e);
    length.Add(static_cast<double>(index.length[i]));
    episode_return.Add(index.episode_return[i]);
    stats.successes += index.success[i] != 0 ? 1 : 0;
    stats.diverged += index.diverged[i] != 0 ? 1 : 0;
  }
  stats.success_rate = stats.episodes > 0 ? static_cast<double>(stats.successes) /
                                                static_cast<double>(stats.episodes)
                                          : 0.0;
  stats.length_mean = length.mean;
  stats.length_std = length.stddev();
  stats.length_min = static_cast<int64_t>(length.lowest());
  stats.length_max = static_cast<int64_t>(length.highest());
  stats.return_mean = episode_return.mean;
  stats.return_std = episode_return.stddev();
  stats.return_min = episode_return.lowest();
  stats.return_max = episode_return.highest();

  const ColumnSpec& actions = reader.column(schema::kActions);
  const size_t dims = static_cast<size_t>(actions.row_elements());
  std::vector<Accumulator> per_dim(dims);
  for (int64_t first = 0; first < stats.steps; first += kBlockRows) {
    const int64_t rows = std::min(kBlockRows, stats.steps - first);
    const std::vector<uint8_t> block = reader.ReadRows(actions.name, first, rows);
    for (int64_t r = 0; r < rows; ++r) {
      for (size_t d = 0; d < dims; ++d) {
        per_dim[d].Add(
            ElementAsDouble(actions.dtype, block.data(), static_cast<size_t>(r) * dims + d));
      }
    }
  }
  for (const Accumulator& a : per_dim) {
    stats.action_mean.push_back(a.mean);
    stats.action_std.push_back(a.stddev());
    stats.action_min.push_back(a.lowest());
    stats.action_max.push_back(a.highest());
  }
  return stats;
}

std::string FormatStatsTable(const DatasetStats& s) {
  std::string out = fmt::format("dataset        {}{}\n", s.path, s.complete ? "" : " (INCOMPLETE)");
  out += fmt::format("episodes       {}\n", s.episodes);
  out += fmt::format("steps          {}\n", s.steps);
  out += fmt::format("success rate   {:.4f} ({} of {})\n", s.success_rate, s.successes, s.episodes);
  out += fmt::format("diverged       {}\n", s.diverged);
  out += fmt::format("length         mean {:.2f}  std {:.2f}  min {}  max {}\n", s.length_mean,
                     s.length_std, s.length_min, s.length_max);
  out += fmt::format("return         mean {:.4f}  std {:.4f}  min {:.4f}  max {:.4f}\n",
                     s.return_mean, s.return_std, s.return_min, s.return_max);
  out += fmt::format("{:<14} {:>12} {:>12} {:>12} {:>12}\n", "action dim", "mean", "std", "min",
                     "max");
  for (size_t d = 0; d < s.action_mean.size(); ++d) {
    out += fmt::format("{:<14} {:>12.5g} {:>12.5g} {:>12.5g} {:>12.5g}\n", d, s.action_mean[d],
                       s.action_std[d], s.action_min[d], s.action_max[d]);
  }
  return out;
}

std::string StatsToJson(const DatasetStats& s) {
  // Members in the order of the table; non-finite numbers (no episodes) are written as null.
  const nlohmann::ordered_json stats = {{"path", s.path},
                                        {"complete", s.complete},
                                        {"episodes", s.episodes},
                                        {"steps", s.steps},
                                        {"successes", s.successes},
                                        {"success_rate", s.success_rate},
                                        {"diverged", s.diverged},
                                        {"length",
                                         {{"mean", s.length_mean},
                                          {"std", s.length_std},
                                          {"min", s.length_min},
                                          {"max", s.length_max}}},
                                        {"return",
                                         {{"mean", s.return_mean},
                                          {"std", s.return_std},
                                          {"min", s.return_min},
                                          {"max", s.return_max}}},
                                        {"action",
                                         {{"mean", s.action_mean},
                                          {"std", s.action_std},
                                          {"min", s.action_min},
                                          {"max", s.action_max}}}};
  return stats.dump();
}

}  // namespace simscale::io
