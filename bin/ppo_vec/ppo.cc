#include "bin/ppo_vec/ppo.h"

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/log.h"
#include "common/core/preemption.h"
#include "common/rl/checkpoint.h"
#include "common/rl/collector.h"
#include "common/rl/normalizer.h"
#include "common/rl/ppo.h"
#include "common/rollout/vector_env.h"

namespace simscale::ppo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// What one update's metrics line holds besides the learner's numbers.
struct Progress {
  int64_t update = 0, updates = 0, global_step = 0;
  double lr = 0, seconds = 0, steps_per_second = 0;
  rl::EpisodeStats episodes;  // every rank's, this update
};

// One JSON line per update in <run_dir>/metrics.jsonl (rank 0), CleanRL's charts.
void WriteMetrics(std::ofstream* file, const Progress& p, const rl::UpdateMetrics& m) {
  const double n = p.episodes.episodes;
  const auto per_episode = [n](double sum) { return n > 0 ? sum / n : std::nan(""); };
  const nlohmann::ordered_json line = {{"update", p.update},
                                       {"global_step", p.global_step},
                                       {"wall_s", p.seconds},
                                       {"sps", p.steps_per_second},
                                       {"lr", p.lr},
                                       {"episodes", static_cast<int64_t>(n)},
                                       {"episode_return", per_episode(p.episodes.return_sum)},
                                       {"episode_length", per_episode(p.episodes.length_sum)},
                                       {"success_rate", per_episode(p.episodes.successes)},
                                       {"policy_loss", m.policy_loss},
                                       {"value_loss", m.value_loss},
                                       {"entropy", m.entropy},
                                       {"approx_kl", m.approx_kl},
                                       {"clip_fraction", m.clip_fraction},
                                       {"explained_variance", m.explained_variance},
                                       {"grad_norm", m.grad_norm}};
  *file << line.dump() << "\n";
  file->flush();
}

rl::EpisodeStats ReduceEpisodes(const mpi::Communicator& comm, const rl::EpisodeStats& local) {
  double sums[4] = {local.episodes, local.return_sum, local.length_sum, local.successes};
  comm.AllReduceInPlace(sums, 4, mpi::ReduceOp::kSum);
  return {sums[0], sums[1], sums[2], sums[3]};
}

rollout::VectorEnvOptions EnvOptions(const PpoConfig& c, const mpi::Communicator& comm) {
  rollout::VectorEnvOptions o;
  o.env = c.env;
  o.env_options.max_episode_steps = c.max_steps;
  o.num_envs = c.num_envs;
  o.first_env_index = c.num_envs * comm.rank();
  o.seed = static_cast<uint64_t>(c.run.seed);
  o.threads = c.threads;
  return o;
}

int64_t NumUpdates(const PpoConfig& c, const mpi::Communicator& comm) {
  const int64_t per_update = c.rollout_steps * c.num_envs * comm.size();
  const int64_t updates = c.total_steps / per_update;
  if (updates < 1) {
    config::Fail(
        "ppo.total_steps",
        fmt::format("at least one rollout (rollout_steps x num_envs x ranks = {})", per_update),
        fmt::format("{}", c.total_steps));
  }
  return updates;
}

// --resume is not implemented yet: refuse it rather than start over silently; an existing run is
// replaced only with --overwrite.
void CheckRunDirectory(const PpoConfig& c) {
  if (c.run.resume) {
    throw InvalidArgumentError(
        "ppo_vec --resume: continuing a PPO run is not implemented yet; start a new run (another "
        "--output, or --overwrite)");
  }
  const fs::path run_dir = c.run.output;
  if (!c.run.overwrite && fs::exists(run_dir / "metrics.jsonl")) {
    throw InvalidArgumentError(fmt::format(
        "run directory '{}' already holds a PPO run; pass --overwrite to replace it or choose "
        "another --output",
        run_dir.string()));
  }
}

void LogProgress(const Progress& p, const rl::UpdateMetrics& m) {
  const double n = p.episodes.episodes;
  log::Info(
      "update {}/{}  steps {}  {:.0f} SPS  return {:.2f}  success {:.0f}%  (episodes {})  "
      "kl {:.4f}  ev {:.2f}",
      p.update, p.updates, p.global_step, p.steps_per_second,
      n > 0 ? p.episodes.return_sum / n : 0.0, n > 0 ? 100 * p.episodes.successes / n : 0.0,
      static_cast<int64_t>(n), m.approx_kl, m.explained_variance);
}

}  // namespace

int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  const int64_t updates = NumUpdates(config, comm);
  mpi::RunAgreed(comm, [&] { CheckRunDirectory(config); });
  const fs::path run_dir = config.run.output;
  app::WriteResolvedConfig(schema, comm, run_dir / "config.yaml");
  // PPO's networks are tiny: one intra-op thread per rank; the cores go to the envs and ranks.
  torch::set_num_threads(1);
  torch::manual_seed(config.run.seed);
  rollout::VectorEnv env(EnvOptions(config, comm));
  env.Reset();
  const int64_t total_envs = config.num_envs * comm.size();
  const int64_t first_env = config.num_envs * comm.rank();
  rl::ActorCriticOptions model_options;
  model_options.observation_size = env.observation_size();
  model_options.action_size = env.action_size();
  model_options.hidden.assign(static_cast<size_t>(config.hidden_layers), config.hidden_size);
  model_options.initial_log_std = config.initial_log_std;
  rl::ActorCritic model(model_options);
  rl::ObservationNormalizer observations(env.observation_size(), config.norm_obs);
  rl::RewardScaler rewards(config.num_envs, config.ppo.gamma, config.norm_reward);
  rl::PpoOptions ppo = config.ppo;
  ppo.seed = static_cast<uint64_t>(config.run.seed);
  rl::PpoLearner learner(model, ppo, comm, first_env, config.num_envs, total_envs);
  rl::RolloutCollector collector(&env, model, &observations, &rewards, ppo.seed, first_env,
                                 total_envs);
  rl::RolloutBuffer buffer(config.rollout_steps, config.num_envs, env.observation_size(),
                           env.action_size());
  std::ofstream metrics;
  if (comm.is_root()) metrics.open(run_dir / "metrics.jsonl", std::ios::trunc);
  log::Info("ppo_vec: {} ranks x {} envs of '{}', {} updates of {} steps -> {}", comm.size(),
            config.num_envs, config.env, updates, config.rollout_steps * total_envs,
            run_dir.string());
  const auto start = Clock::now();
  Progress p;
  p.updates = updates;
  std::vector<std::string> observation_keys;
  for (const auto& field : env.env(0).observation_spec().fields()) {
    observation_keys.push_back(field.name);
  }
  const auto checkpoint = [&] {
    if (!comm.is_root()) return;
    rl::SaveCheckpoint(run_dir, model, learner.optimizer(), observations, rewards,
                       {p.update, p.global_step, config.env, observation_keys}, schema.ToYaml());
  };
  for (p.update = 1; p.update <= updates; ++p.update) {
    // Any rank's signal stops every rank, after a checkpoint of the last finished update.
    if (comm.AllReduce<int>(preemption::Requested() ? 1 : 0, mpi::ReduceOp::kMax) != 0) {
      --p.update;
      checkpoint();
      log::Warn("ppo_vec: {} after update {}: checkpoint written, exiting {}",
                preemption::SignalName(), p.update, kPreemptedExitCode);
      return kPreemptedExitCode;
    }
    const double frac = 1.0 - static_cast<double>(p.update - 1) / static_cast<double>(updates);
    p.lr = config.anneal_lr ? frac * ppo.lr : ppo.lr;
    rl::EpisodeStats local;
    collector.Collect(comm, p.update, &buffer, &local);
    const rl::UpdateMetrics m = learner.Update(&buffer, p.update, p.lr);
    p.global_step += config.rollout_steps * total_envs;
    p.seconds = std::chrono::duration<double>(Clock::now() - start).count();
    p.steps_per_second = static_cast<double>(p.global_step) / p.seconds;
    p.episodes = ReduceEpisodes(comm, local);
    if (comm.is_root()) WriteMetrics(&metrics, p, m);
    LogProgress(p, m);
    const bool last = p.update == updates;
    if (last || (config.checkpoint_every > 0 && p.update % config.checkpoint_every == 0)) {
      checkpoint();
    }
  }
  return 0;
}

}  // namespace simscale::ppo
