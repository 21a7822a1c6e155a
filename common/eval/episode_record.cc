#include "common/eval/episode_record.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"

namespace simscale::eval {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

json OutcomeJson(const std::string& condition, const EpisodeOutcome& o) {
  // Doubles are written with the shortest representation that reads back to the same value, so
  // a resumed evaluation aggregates exactly what an uninterrupted one would.
  return {{"condition", condition}, {"episode", o.episode},       {"success", o.success},
          {"diverged", o.diverged}, {"return", o.episode_return}, {"length", o.length}};
}

EpisodeOutcome OutcomeFromJson(const json& j) {
  EpisodeOutcome o;
  o.episode = j.at("episode").get<int64_t>();
  o.success = j.at("success").get<bool>();
  o.diverged = j.at("diverged").get<bool>();
  o.episode_return = j.at("return").get<double>();
  o.length = j.at("length").get<int64_t>();
  if (o.episode < 0) throw std::out_of_range("negative episode");
  return o;
}

bool SameOutcome(const EpisodeOutcome& a, const EpisodeOutcome& b) {
  return a.episode == b.episode && a.success == b.success && a.diverged == b.diverged &&
         a.episode_return == b.episode_return && a.length == b.length;
}

// The record files under `dir`, named <attempt>-<rank>.jsonl.
std::vector<fs::path> RecordFiles(const fs::path& dir) {
  std::vector<fs::path> files;
  if (!fs::is_directory(dir)) return files;
  for (const auto& entry : fs::directory_iterator(dir)) {
    if (entry.path().extension() == ".jsonl") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

// Adds the outcomes of one record file to `by_episode`.
void ReadRecordFile(const fs::path& file,
                    std::map<std::string, std::map<int64_t, EpisodeOutcome>>* by_episode) {
  std::ifstream in(file);
  if (!in) throw IoError(fmt::format("cannot read the episode record '{}'", file.string()));
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string condition;
    EpisodeOutcome outcome;
    try {
      const json j = json::parse(lines[i]);
      condition = j.at("condition").get<std::string>();
      outcome = OutcomeFromJson(j);
    } catch (const std::exception& e) {
      if (i + 1 == lines.size()) break;  // torn by a kill while it was written
      throw InvalidArgumentError(fmt::format(
          "episode record '{}' line {} is not an episode outcome ({}); remove the output "
          "directory's episodes/ folder and evaluate again with --overwrite",
          file.string(), i + 1, e.what()));
    }
    auto& slot = (*by_episode)[condition];
    const auto [it, inserted] = slot.emplace(outcome.episode, outcome);
    if (!inserted && !SameOutcome(it->second, outcome)) {
      throw InvalidArgumentError(fmt::format(
          "episode record '{}' line {}: episode {} of condition '{}' was recorded before with "
          "another outcome; the records come from different evaluations, evaluate again with "
          "--overwrite",
          file.string(), i + 1, outcome.episode, condition));
    }
  }
}

}  // namespace

FinishedEpisodes ReadEpisodeRecords(const fs::path& dir) {
  std::map<std::string, std::map<int64_t, EpisodeOutcome>> by_episode;
  for (const fs::path& file : RecordFiles(dir)) ReadRecordFile(file, &by_episode);
  FinishedEpisodes finished;
  for (auto& [condition, episodes] : by_episode) {
    auto& list = finished[condition];
    for (auto& [episode, outcome] : episodes) list.push_back(outcome);
  }
  return finished;
}

int64_t NextRecordAttempt(const fs::path& dir) {
  int64_t next = 0;
  for (const fs::path& file : RecordFiles(dir)) {
    const std::string stem = file.stem().string();
    const auto dash = stem.find('-');
    try {
      next = std::max<int64_t>(next, std::stoll(stem.substr(0, dash)) + 1);
    } catch (const std::exception&) {
      // not one of ours; ignored
    }
  }
  return next;
}

std::string FinishedToJson(const FinishedEpisodes& finished) {
  json lines = json::array();
  for (const auto& [condition, outcomes] : finished) {
    for (const auto& o : outcomes) lines.push_back(OutcomeJson(condition, o));
  }
  return lines.dump();
}

FinishedEpisodes FinishedFromJson(const std::string& text) {
  FinishedEpisodes finished;
  for (const json& j : json::parse(text)) {
    finished[j.at("condition").get<std::string>()].push_back(OutcomeFromJson(j));
  }
  return finished;
}

EpisodeRecordWriter::EpisodeRecordWriter(const fs::path& path) : path_(path) {
  file_ = std::fopen(path.c_str(), "a");
  if (file_ == nullptr) {
    throw IoError(fmt::format("cannot create the episode record '{}': {}", path.string(),
                              std::strerror(errno)));
  }
}

EpisodeRecordWriter::~EpisodeRecordWriter() {
  if (file_ != nullptr) std::fclose(file_);
}

void EpisodeRecordWriter::Append(const std::string& condition, const EpisodeOutcome& outcome) {
  const std::string line = OutcomeJson(condition, outcome).dump() + "\n";
  if (std::fwrite(line.data(), 1, line.size(), file_) != line.size() || std::fflush(file_) != 0) {
    throw IoError(fmt::format("cannot write the episode record '{}': {}", path_.string(),
                              std::strerror(errno)));
  }
}

}  // namespace simscale::eval
