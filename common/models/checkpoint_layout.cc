#include "common/models/checkpoint_layout.h"

#include <algorithm>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale::models {
namespace fs = std::filesystem;
namespace {

constexpr std::string_view kEmaPrefix = "ema_";

std::optional<int64_t> StepOf(const fs::path& path, const std::string& prefix) {
  const std::string name = path.filename().string();
  if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) {
    return std::nullopt;
  }
  const std::string digits = name.substr(prefix.size());
  if (digits.size() > 18 ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

// Complete checkpoints under <run_dir>/checkpoints, oldest first.
std::vector<std::pair<int64_t, fs::path>> CompleteCheckpoints(const fs::path& run_dir,
                                                              const char* prefix) {
  std::vector<std::pair<int64_t, fs::path>> found;
  const fs::path root = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return found;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (!entry.is_directory()) continue;
    if (const auto step = StepOf(entry.path(), prefix);
        step && IsCompleteCheckpoint(entry.path())) {
      found.emplace_back(*step, entry.path());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

}  // namespace

bool IsCompleteCheckpoint(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / kCheckpointMarker, ec);
}

fs::path CheckpointDirectory(const fs::path& run_dir, int64_t step, const char* prefix) {
  return run_dir / "checkpoints" / fmt::format("{}{:09d}", prefix, step);
}

fs::path EmaCheckpointDirectory(const fs::path& checkpoint) {
  return checkpoint.parent_path() / (std::string(kEmaPrefix) + checkpoint.filename().string());
}

std::optional<fs::path> FindLatestCompleteCheckpoint(const fs::path& run_dir, const char* prefix) {
  const auto found = CompleteCheckpoints(run_dir, prefix);
  if (found.empty()) return std::nullopt;
  return found.back().second;
}

std::vector<fs::path> PartialCheckpoints(const fs::path& run_dir, const char* prefix) {
  std::vector<fs::path> partial;
  const fs::path root = run_dir / "checkpoints";
  std::error_code ec;
  if (!fs::is_directory(root, ec)) return partial;
  const std::string main_prefix = prefix;
  const std::string ema_prefix = std::string(kEmaPrefix) + main_prefix;
  for (const auto& entry : fs::directory_iterator(root)) {
    const std::string name = entry.path().filename().string();
    const bool ema = name.rfind(ema_prefix, 0) == 0;
    if (!ema && name.rfind(main_prefix, 0) != 0) continue;
    const std::string base = ema ? name.substr(kEmaPrefix.size()) : name;
    // A temporary (or set-aside) name, or a checkpoint without its marker.
    if (!StepOf(base, main_prefix) || !IsCompleteCheckpoint(entry.path()) ||
        (ema && !IsCompleteCheckpoint(root / base))) {
      partial.push_back(entry.path());
    }
  }
  std::sort(partial.begin(), partial.end());
  return partial;
}

std::vector<fs::path> PruneCheckpoints(const fs::path& run_dir, int64_t keep_last,
                                       const char* prefix) {
  CheckArgument(keep_last >= 1, "checkpoints to keep", keep_last, "an integer >= 1");
  const auto found = CompleteCheckpoints(run_dir, prefix);
  std::vector<fs::path> removed;
  const auto excess = static_cast<int64_t>(found.size()) - keep_last;
  for (int64_t i = 0; i < excess; ++i) {
    const fs::path& path = found[static_cast<size_t>(i)].second;
    // Drop the marker first: a crash part-way leaves an incomplete checkpoint, never a
    // "complete" one with missing files.
    fs::remove(path / kCheckpointMarker);
    fs::remove_all(path);
    const fs::path ema = EmaCheckpointDirectory(path);
    fs::remove(ema / kCheckpointMarker);
    fs::remove_all(ema);
    removed.push_back(path);
  }
  return removed;
}

}  // namespace simscale::models
