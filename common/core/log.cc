#include "common/core/log.h"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>

#include "common/core/error.h"

namespace simscale::log {
namespace {

struct State {
  std::atomic<int> rank{0};
  std::atomic<int> world_size{1};
  std::atomic<Level> level{Level::kInfo};
  std::atomic<bool> all_ranks{false};
  std::mutex mutex;  // guards sink and serialises lines from several threads
  Sink sink;

  State() {
    if (const char* env = std::getenv("SIMSCALE_LOG_LEVEL"); env != nullptr && *env != '\0') {
      level = ParseLevel(env);
    }
    if (const char* env = std::getenv("SIMSCALE_LOG_ALL_RANKS"); env != nullptr) {
      all_ranks = std::string_view(env) == "1" || std::string_view(env) == "true";
    }
  }
};

State& GetState() {
  static State state;
  return state;
}

const char* LevelName(Level level) {
  switch (level) {
    case Level::kDebug:
      return "debug";
    case Level::kInfo:
      return "info";
    case Level::kWarn:
      return "warn";
    case Level::kError:
      return "error";
    case Level::kOff:
      return "off";
  }
  return "?";
}

void WriteToStderr(Level /*level*/, std::string_view line) {
  std::fwrite(line.data(), 1, line.size(), stderr);
  std::fflush(stderr);
}

}  // namespace

void SetRank(int rank, int world_size) {
  GetState().rank = rank;
  GetState().world_size = world_size;
}
int Rank() { return GetState().rank; }
int WorldSize() { return GetState().world_size; }

void SetLevel(Level level) { GetState().level = level; }
Level GetLevel() { return GetState().level; }
void SetAllRanksVerbose(bool all_ranks) { GetState().all_ranks = all_ranks; }

Level ParseLevel(std::string_view name) {
  if (name == "debug") return Level::kDebug;
  if (name == "info") return Level::kInfo;
  if (name == "warn" || name == "warning") return Level::kWarn;
  if (name == "error") return Level::kError;
  if (name == "off") return Level::kOff;
  throw InvalidArgumentError(
      fmt::format("log level: expected one of debug, info, warn, error, off, got '{}'", name));
}

bool Enabled(Level level) {
  State& s = GetState();
  if (level < s.level.load()) return false;
  if (level >= Level::kWarn) return true;
  return s.rank.load() == 0 || s.all_ranks.load();
}

Sink SetSink(Sink sink) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mutex);
  Sink previous = std::move(s.sink);
  s.sink = std::move(sink);
  return previous;
}

void Write(Level level, std::string_view message) {
  State& s = GetState();
  const auto now = std::chrono::system_clock::now();
  const std::time_t seconds = std::chrono::system_clock::to_time_t(now);
  const auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm local{};
  localtime_r(&seconds, &local);
  std::string line;
  if (s.world_size.load() > 1) {
    line = fmt::format("[{:02}:{:02}:{:02}.{:03} rank {}/{} {}] {}\n", local.tm_hour, local.tm_min,
                       local.tm_sec, millis, s.rank.load(), s.world_size.load(), LevelName(level),
                       message);
  } else {
    line = fmt::format("[{:02}:{:02}:{:02}.{:03} {}] {}\n", local.tm_hour, local.tm_min,
                       local.tm_sec, millis, LevelName(level), message);
  }
  WriteLine(level, line);
}

void WriteLine(Level level, std::string_view line) {
  State& s = GetState();
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.sink) {
    s.sink(level, line);
  } else {
    WriteToStderr(level, line);
  }
}

}  // namespace simscale::log
