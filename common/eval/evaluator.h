#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "common/eval/episode_record.h"
#include "common/mpi/mpi.h"
#include "common/policies/factory.h"

namespace simscale::eval {

struct EvalOptions {
  std::string env = "reach";
  std::string policy = "scripted";
  int64_t episodes = 100;  // per condition, over all ranks
  int64_t max_steps = 0;   // 0: the env's default
  std::vector<std::string> conditions = {"clean"};
  uint64_t seed = 0;
  policies::PolicyOptions policy_options;
  // Episodes of each condition (the first ones) drawn as a PNG grid of frames; written into
  // output_dir by rank 0.
  int64_t frame_episodes = 0;
  int64_t frames_per_episode = 6;
  // An MP4 of episode 0 of each condition (needs ffmpeg on PATH: checked before any episode).
  bool video = false;
  std::string camera = "agentview";
  std::filesystem::path output_dir;
  // Episodes an interrupted evaluation finished (ReadEpisodeRecords): taken as recorded, not
  // played again. Those drawn as frames or video are replayed for the pictures only.
  FinishedEpisodes finished;
  // This rank's episode record (EpisodeRecordWriter); empty: none.
  std::filesystem::path record_file;
};

struct ConditionResult {
  std::string condition;
  int64_t episodes = 0;
  int64_t successes = 0;
  double success_rate = 0.0;
  double ci_low = 0.0, ci_high = 0.0;  // 95% Wilson interval
  double return_mean = 0.0, return_std = 0.0, return_min = 0.0, return_max = 0.0;
  double length_mean = 0.0;
  int64_t diverged = 0;
  std::vector<EpisodeOutcome> outcomes;  // in episode order (rank 0 only)
};

// The 95% Wilson score interval of `successes` out of `n`.
std::pair<double, double> WilsonInterval(int64_t successes, int64_t n);

// Runs options.episodes seeded episodes per condition, split over ranks (episode i has the same
// task layout under every condition and for every policy). Collective; the full results are on
// rank 0 (other ranks get the aggregates).
std::vector<ConditionResult> Evaluate(const EvalOptions& options, const mpi::Communicator& comm);

// results.json: for one condition its metrics at the top level (success_rate, ...); for several,
// "conditions": {name: metrics}. Per-episode outcomes under "episodes_detail".
std::string ResultsJson(const EvalOptions& options, const std::vector<ConditionResult>& results);
std::string ResultsCsv(const std::vector<ConditionResult>& results);
// A readable table: one row per condition.
std::string ResultsTable(const EvalOptions& options, const std::vector<ConditionResult>& results);

}  // namespace simscale::eval
