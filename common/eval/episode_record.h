#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

// The episode record of an evaluation: each rank appends one JSON line per finished episode to a
// file of its own (episodes/<attempt>-<rank>.jsonl in the output directory), flushed to the kernel
// at once, so that an evaluation killed at any point (SIGKILL included) resumes without playing a
// finished episode again. A line torn by the kill is the last of its file and is ignored.
namespace simscale::eval {

struct EpisodeOutcome {
  int64_t episode = 0;
  bool success = false;
  bool diverged = false;
  double episode_return = 0.0;
  int64_t length = 0;
};

// condition -> its finished episodes in episode order.
using FinishedEpisodes = std::map<std::string, std::vector<EpisodeOutcome>>;

// Reads every record file under `dir` (none: empty). An episode recorded twice must be recorded
// identically; a malformed line other than a file's last is an error naming file and line.
FinishedEpisodes ReadEpisodeRecords(const std::filesystem::path& dir);
// The attempt number for the next record files: one more than the highest under `dir`.
int64_t NextRecordAttempt(const std::filesystem::path& dir);
// Serialises `finished` (for a broadcast from the rank that read the records) and back.
std::string FinishedToJson(const FinishedEpisodes& finished);
FinishedEpisodes FinishedFromJson(const std::string& text);

class EpisodeRecordWriter {
 public:
  // Creates `path` (its directory must exist). Throws IoError naming the path on failure.
  explicit EpisodeRecordWriter(const std::filesystem::path& path);
  ~EpisodeRecordWriter();
  EpisodeRecordWriter(const EpisodeRecordWriter&) = delete;
  EpisodeRecordWriter& operator=(const EpisodeRecordWriter&) = delete;

  // Appends one line and flushes it; throws IoError naming the path when the write fails (e.g. a
  // full disk).
  void Append(const std::string& condition, const EpisodeOutcome& outcome);

 private:
  std::filesystem::path path_;
  std::FILE* file_ = nullptr;
};

}  // namespace simscale::eval
