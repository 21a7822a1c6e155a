#include "bin/evaluate/evaluate.h"

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

}  // namespace

int Run(const EvalConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const fs::path out_dir = config.run.output;
  mpi::RunAgreed(comm, [&] {
    if (fs::exists(out_dir / "results.json") && !config.run.overwrite) {
      throw InvalidArgumentError(fmt::format(
          "'{}' already holds results.json; pass --overwrite to replace it or choose another "
          "--output",
          out_dir.string()));
    }
    fs::create_directories(out_dir);
  });
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
  options.frame_episodes = config.frame_episodes;
  options.video = config.video;
  options.output_dir = out_dir;
  log::Info("evaluate: {} rank(s), env '{}', policy '{}', {} episodes x {} condition(s) -> {}",
            comm.size(), options.env, config.policy, config.episodes, config.conditions.size(),
            out_dir.string());
  const std::vector<ConditionResult> results = Evaluate(options, comm);
  if (comm.is_root()) {
    WriteFileAtomic(out_dir / "results.json", ResultsJson(options, results));
    WriteFileAtomic(out_dir / "results.csv", ResultsCsv(results));
    std::cout << ResultsTable(options, results) << std::flush;
  }
  // success.png, and transfer.png when several conditions were evaluated.
  app::DrawFigures("eval", {out_dir.string()}, config.run, comm);
  return 0;
}

}  // namespace simscale::eval
