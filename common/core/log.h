#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <fmt/format.h>

// The one logger of the toolkit. Every line is tagged with the MPI rank; by default rank 0 prints
// info and above while the other ranks print only warnings and errors, so a 64-rank job does not
// print everything 64 times. Lines go to stderr; stdout is kept for results (tables, --help,
// --print-config). Environment overrides: SIMSCALE_LOG_LEVEL=debug|info|warn|error|off and
// SIMSCALE_LOG_ALL_RANKS=1.
namespace simscale::log {

enum class Level { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3, kOff = 4 };

// Called once the rank is known (mpi::Context does it). Before that the process counts as rank 0.
void SetRank(int rank, int world_size);
int Rank();
int WorldSize();

void SetLevel(Level level);
Level GetLevel();
// When true, every rank prints at the configured level (useful when debugging one rank).
void SetAllRanksVerbose(bool all_ranks);
// Parses "debug", "info", "warn", "error", "off"; throws InvalidArgumentError otherwise.
Level ParseLevel(std::string_view name);

// Whether a message at `level` would be printed by this rank.
bool Enabled(Level level);

// Replaces the output (default: stderr, line-buffered). Returns the previous sink. For tests.
using Sink = std::function<void(Level, std::string_view line)>;
Sink SetSink(Sink sink);

void Write(Level level, std::string_view message);
// Passes an already formatted line (tag and newline included) to the sink: for a library that
// carries its own copy of the logger and forwards its lines to the host's.
void WriteLine(Level level, std::string_view line);

template <typename... Args>
void Debug(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kDebug))
    Write(Level::kDebug, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Info(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kInfo)) Write(Level::kInfo, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Warn(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kWarn)) Write(Level::kWarn, fmt::format(format, std::forward<Args>(args)...));
}
template <typename... Args>
void Error(fmt::format_string<Args...> format, Args&&... args) {
  if (Enabled(Level::kError))
    Write(Level::kError, fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace simscale::log
