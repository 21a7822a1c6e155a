#include "bin/evaluate/evaluate.h"

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>

#include "common/app/plots.h"
#include "common/core/atomic_file.h"
#include "common/core/log.h"
#include "common/eval/evaluator.h"

namespace simscale::eval {
namespace fs = std::filesystem;

namespace {

policies::InputAblation AblationOf(const EvalConfig& config) {
  policies::InputAblation ablation;
  ablation.blank_instruction = config.blank_instruction;
  ablation.swap_instruction = config.swap_instruction;
  ablation.blackout_cameras = config.blackout_cameras;
  return ablation;
}

// eval.env, or (when empty) the env a checkpoint policy was trained in; reach for the others.
std::string ResolveEnvName(const EvalConfig& config) {
  if (!config.env.empty()) return config.env;
  if (!policies::IsCheckpointPolicyName(config.policy)) return "reach";
  const std::string env =
      policies::CheckpointEnvName(policies::ResolveCheckpoint(config.policy, config.prefer_ema));
  if (env.empty()) {
    throw InvalidArgumentError(
        fmt::format("eval.env: policy '{}' does not record the env it was trained in; pass --env",
                    config.policy));
  }
  return env;
}

// Keys an evaluation may change when it resumes: how it runs and what it draws, not what it
// computes.
bool MayChangeOnResume(const std::string& key) {
  static const char* const kKeys[] = {"eval.device", "eval.gl_backend", "eval.threads",
                                      "eval.frame_episodes", "eval.video"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// What rank 0 found in the output directory, for every rank.
struct OutputState {
  bool complete = false;      // --resume of a finished evaluation: nothing to do
  std::string finished_json;  // the episodes an interrupted attempt recorded
  int64_t attempt = 0;        // number of the record files this attempt writes
};

// --resume continues only the evaluation `saved` (its config.yaml) describes.
void CheckSavedConfig(const config::Schema& schema, const fs::path& saved,
                      const std::string& whose) {
  EvalConfig declared_config;
  config::Schema declared("evaluate", "");
  DeclareOptions(&declared, &declared_config);
  app::CheckResumedConfig(schema, declared, ReadFile(saved), whose + saved.string(),
                          MayChangeOnResume);
}

// Rank 0 decides from the output directory whether the evaluation starts, resumes or is done, and
// refuses to replace results or records without --overwrite.
OutputState PrepareOutput(const EvalConfig& config, const config::Schema& schema) {
  const fs::path out_dir = config.run.output;
  const fs::path records = out_dir / "episodes";
  const bool has_results = fs::exists(out_dir / "results.json");
  const bool has_records = fs::exists(records);
  OutputState state;
  if (config.run.overwrite) {
    fs::remove(out_dir / "results.json");
    fs::remove_all(records);
  } else if (config.run.resume && has_results) {
    // A finished evaluation stands for the configuration that made it, not for another one.
    const fs::path saved = out_dir / "config.yaml";
    if (fs::exists(saved)) CheckSavedConfig(schema, saved, "the finished evaluation's ");
    state.complete = true;
  } else if (config.run.resume && has_records) {
    const fs::path saved = out_dir / "config.yaml";
    if (!fs::exists(saved)) {
      throw InvalidArgumentError(fmt::format(
          "--resume: '{}' holds episode records but no config.yaml; evaluate again with "
          "--overwrite",
          out_dir.string()));
    }
    CheckSavedConfig(schema, saved, "the interrupted evaluation's ");
    state.finished_json = FinishedToJson(ReadEpisodeRecords(records));
    state.attempt = NextRecordAttempt(records);
  } else if (has_results) {
    throw InvalidArgumentError(fmt::format(
        "'{}' already holds results.json; pass --overwrite to replace it or choose another "
        "--output",
        out_dir.string()));
  } else if (has_records) {
    throw InvalidArgumentError(fmt::format(
        "'{}' holds an interrupted evaluation (episodes/); pass --resume to continue it or "
        "--overwrite to start again",
        out_dir.string()));
  }
  CreateDirectories(records);
  return state;
}

}  // namespace

int Run(const EvalConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const fs::path out_dir = config.run.output;
  OutputState state;
  mpi::RunAgreed(comm, [&] {
    if (comm.is_root()) state = PrepareOutput(config, schema);
  });
  int complete = state.complete ? 1 : 0;
  comm.Broadcast(&complete, 1, 0);
  if (complete) {
    log::Info("evaluate: '{}' already holds the finished evaluation; nothing to do",
              out_dir.string());
    return 0;
  }
  comm.Broadcast(&state.finished_json, 0);
  comm.Broadcast(&state.attempt, 1, 0);
  app::WriteResolvedConfig(schema, comm, out_dir / "config.yaml");
  EvalOptions options;
  mpi::RunAgreed(comm, [&] { options.env = ResolveEnvName(config); });
  options.policy = config.policy;
  options.episodes = config.episodes;
  options.max_steps = config.max_steps;
  options.conditions = config.conditions;
  options.seed = static_cast<uint64_t>(config.run.seed);
  options.policy_options.prefer_ema = config.prefer_ema;
  options.policy_options.device = ParseDevice(config.device, "eval.device");
  options.policy_options.gl_backend = sim::ParseGlBackend(config.gl_backend);
  options.policy_options.threads = static_cast<int>(config.threads);
  options.policy_options.ablation = AblationOf(config);
  options.policy_options.temporal_ensemble = config.temporal_ensemble;
  options.frame_episodes = config.frame_episodes;
  options.video = config.video;
  options.output_dir = out_dir;
  if (!state.finished_json.empty()) options.finished = FinishedFromJson(state.finished_json);
  options.record_file =
      out_dir / "episodes" / fmt::format("{}-{}.jsonl", state.attempt, comm.rank());
  log::Info("evaluate: {} rank(s), env '{}', policy '{}', {} episodes x {} condition(s) -> {}",
            comm.size(), options.env, config.policy, config.episodes, config.conditions.size(),
            out_dir.string());
  const std::vector<ConditionResult> results = Evaluate(options, comm);
  if (comm.is_root()) {
    WriteFileAtomic(out_dir / "results.json", ResultsJson(options, results));
    WriteFileAtomic(out_dir / "results.csv", ResultsCsv(results));
    std::cout << ResultsTable(options, results) << std::flush;
    // results.json holds every episode: the record of this and earlier attempts is done with.
    fs::remove_all(out_dir / "episodes");
  }
  // success.png, and transfer.png when several conditions were evaluated.
  app::DrawFigures("eval", {out_dir.string()}, config.run, comm);
  return 0;
}

}  // namespace simscale::eval
