#include "bin/ppo_vec/ppo.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/app/plots.h"
#include "common/core/atomic_file.h"
#include "common/core/hash.h"
#include "common/core/log.h"
#include "common/core/preemption.h"
#include "common/models/checkpoint_layout.h"
#include "common/rl/checkpoint.h"
#include "common/rl/collector.h"
#include "common/rl/normalizer.h"
#include "common/rollout/vector_env.h"

namespace simscale::ppo {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// What one update's metrics line holds besides the learner's numbers.
struct Progress {
  int64_t update = 0, updates = 0, global_step = 0;
  double lr = 0, seconds = 0, steps_per_second = 0;
  double collect_seconds = 0, learn_seconds = 0;  // this update's
  rl::EpisodeStats episodes;                      // every rank's, this update
};

// One JSON line per update in <run_dir>/metrics.jsonl (rank 0), CleanRL's charts.
void WriteMetrics(std::ofstream* file, const Progress& p, const rl::UpdateMetrics& m) {
  const double n = p.episodes.episodes;
  const auto per_episode = [n](double sum) { return n > 0 ? sum / n : std::nan(""); };
  const nlohmann::ordered_json line = {{"update", p.update},
                                       {"global_step", p.global_step},
                                       {"wall_s", p.seconds},
                                       {"sps", p.steps_per_second},
                                       {"collect_s", p.collect_seconds},
                                       {"learn_s", p.learn_seconds},
                                       {"allreduce_s", m.allreduce_seconds},
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
                                       {"grad_norm", m.grad_norm},
                                       {"nonfinite_skipped", m.nonfinite_skipped},
                                       {"epochs", m.epochs}};
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
  o.env_options.reward = c.reward;
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

// A run directory that holds a run is continued only with --resume or replaced (checkpoints
// removed) with --overwrite, never trained over by accident. Rank 0 looks; the returned
// checkpoint to resume from (if any) is every rank's.
std::optional<fs::path> PrepareRunDirectory(const PpoConfig& c, const mpi::Communicator& comm) {
  const fs::path run_dir = c.run.output;
  std::string resume_from;
  mpi::RunAgreed(comm, [&] {
    if (!comm.is_root()) return;
    // A train_ddp run is not a PPO run: neither continued nor (without --overwrite) cleared.
    const auto trained = models::FindLatestCompleteCheckpoint(run_dir);
    if (trained && !c.run.overwrite) {
      throw InvalidArgumentError(fmt::format(
          "run directory '{}' holds a train_ddp run ({}), not a PPO run; choose another --output",
          run_dir.string(), trained->filename().string()));
    }
    const auto latest = models::FindLatestCompleteCheckpoint(run_dir, models::kPpoCheckpointPrefix);
    const bool has_run = latest || fs::exists(run_dir / "metrics.jsonl");
    if (has_run && !c.run.resume && !c.run.overwrite) {
      throw InvalidArgumentError(fmt::format(
          "run directory '{}' already holds a PPO run; pass --resume to continue it, --overwrite "
          "to replace it, or choose another --output",
          run_dir.string()));
    }
    if (c.run.resume && latest) {
      resume_from = latest->string();
    } else if (has_run) {
      fs::remove_all(run_dir / "checkpoints");
    }
  });
  comm.Broadcast(&resume_from, 0);
  if (resume_from.empty()) return std::nullopt;
  return fs::path(resume_from);
}

// Keys a resumed run may change besides the run's own (app::RunKeyMayChangeOnResume): how it
// runs, not what it computes. ppo.num_envs may change with the rank count as long as the total
// number of envs stays (checked on restore).
bool MayChangeOnResume(const std::string& key) {
  static const char* const kKeys[] = {"ppo.threads", "ppo.num_envs", "ppo.checkpoint_every",
                                      "ppo.keep_checkpoints", "ppo.max_nonfinite"};
  return std::find(std::begin(kKeys), std::end(kKeys), key) != std::end(kKeys);
}

// The resumed run's settings must be those the checkpoint was trained with; only ppo_vec's own
// keys are compared (not those a wrapping tool adds).
void CheckResumedConfig(const config::Schema& now, const std::string& saved_yaml,
                        const fs::path& checkpoint) {
  PpoConfig declared_config;
  config::Schema declared("ppo_vec", "");
  DeclareOptions(&declared, &declared_config);
  app::CheckResumedConfig(now, declared, saved_yaml, "the checkpoint " + checkpoint.string(),
                          MayChangeOnResume);
}

// Drops the metrics lines of updates after `update` (they are trained again).
void TruncateMetrics(const fs::path& path, int64_t update) {
  if (!fs::exists(path)) return;
  std::ifstream in(path);
  std::string line, kept;
  while (std::getline(in, line)) {
    const auto entry = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (entry.is_discarded() || entry.value("update", int64_t{0}) > update) continue;
    kept += line + "\n";
  }
  WriteFileAtomic(path, kept);
}

// FNV-1a over the bytes of every parameter: equal on every rank unless DD-PPO desynchronised.
uint64_t ParameterFingerprint(rl::ActorCritic& model) {
  uint64_t hash = kFnvOffset;
  for (const auto& p : model->parameters()) {
    const torch::Tensor t = p.detach().contiguous();
    hash = Fnv1a(t.data_ptr(), t.nbytes(), hash);
  }
  return hash;
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

// One PPO run: the vector env, the actor-critic, its statistics, learner and collector.
class Training {
 public:
  // `resume_from`: the checkpoint Resume() will continue from (it rebuilds a policy actor).
  Training(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm,
           const PpoHooks& hooks, const std::optional<fs::path>& resume_from);

  // Continues from `checkpoint`: model, optimizer, statistics, envs, counters.
  void Resume(const fs::path& checkpoint);
  // Collective: trains the remaining updates; returns the exit code.
  int Loop();

 private:
  rl::ActorCriticOptions ModelOptions(const rl::PolicyActor& actor) const;
  rl::PolicyActor InitialActor(const std::optional<fs::path>& resume_from) const;
  bool StopRequested(int64_t update) const;
  void TrainUpdate();
  // Collective: checkpoint of the last finished update (rank 0 writes it).
  void Checkpoint();

  const PpoConfig& config_;
  const config::Schema& schema_;
  const mpi::Communicator& comm_;
  const PpoHooks& hooks_;
  fs::path run_dir_;
  int64_t total_envs_, first_env_;
  rollout::VectorEnv env_;
  rl::ActorCritic model_{nullptr};
  rl::ObservationNormalizer observations_;
  rl::RewardScaler rewards_;
  rl::PpoOptions ppo_;
  std::unique_ptr<rl::PpoLearner> learner_;
  std::unique_ptr<rl::RolloutCollector> collector_;
  rl::RolloutBuffer buffer_;
  std::vector<std::string> observation_keys_;
  Progress progress_;
  double seconds_before_ = 0;  // training time of the runs this one continues
  Clock::time_point start_ = Clock::now();
  std::ofstream metrics_;
};

Training::Training(const PpoConfig& config, const config::Schema& schema,
                   const mpi::Communicator& comm, const PpoHooks& hooks,
                   const std::optional<fs::path>& resume_from)
    : config_(config),
      schema_(schema),
      comm_(comm),
      hooks_(hooks),
      run_dir_(config.run.output),
      total_envs_(config.num_envs * comm.size()),
      first_env_(config.num_envs * comm.rank()),
      env_(EnvOptions(config, comm)),
      observations_(env_.observation_size(), config.norm_obs),
      rewards_(config.num_envs, config.ppo.gamma, config.norm_reward),
      ppo_(config.ppo),
      buffer_(config.rollout_steps, config.num_envs, env_.observation_size(), env_.action_size()) {
  env_.Reset();
  for (const auto& field : env_.env(0).observation_spec().fields()) {
    observation_keys_.push_back(field.name);
  }
  rl::PolicyActor actor;
  mpi::RunAgreed(comm, [&] { actor = InitialActor(resume_from); });
  model_ = rl::ActorCritic(ModelOptions(actor), actor);
  ppo_.seed = static_cast<uint64_t>(config.run.seed);
  learner_ = std::make_unique<rl::PpoLearner>(model_, ppo_, comm, first_env_, config.num_envs,
                                              total_envs_, hooks.learner);
  collector_ = std::make_unique<rl::RolloutCollector>(&env_, model_, &observations_, &rewards_,
                                                      ppo_.seed, first_env_, total_envs_);
  progress_.updates = NumUpdates(config, comm);
}

rl::ActorCriticOptions Training::ModelOptions(const rl::PolicyActor& actor) const {
  rl::ActorCriticOptions o;
  o.observation_size = env_.observation_size();
  o.action_size = env_.action_size();
  o.hidden.assign(static_cast<size_t>(config_.hidden_layers), config_.hidden_size);
  o.initial_log_std = config_.initial_log_std;
  if (actor.policy) {
    // Explore at a fraction of the spread of the demonstrated actions, per dimension: the
    // policy's precision survives the noise (a resumed run loads its own log-std anyway).
    for (const double s : actor.policy->normalization().action_std) {
      o.initial_std.push_back(config_.init_std_scale * s);
    }
  }
  return o;
}

// A train_ddp checkpoint directory, or the newest one of a train_ddp run directory.
fs::path TrainCheckpoint(const fs::path& path) {
  if (fs::exists(path / "meta.yaml")) return path;
  if (const auto latest = models::FindLatestCompleteCheckpoint(path)) return *latest;
  throw InvalidArgumentError(fmt::format(
      "ppo.init_actor '{}': neither a train_ddp checkpoint nor a run directory with one",
      path.string()));
}

rl::PolicyActor Training::InitialActor(const std::optional<fs::path>& resume_from) const {
  std::optional<fs::path> dir;
  if (resume_from) {
    dir = rl::PolicyActorCheckpoint(*resume_from);
  } else if (!config_.init_actor.empty()) {
    dir = TrainCheckpoint(config_.init_actor);
  }
  if (!dir) return {};
  std::vector<int64_t> sizes;
  for (const auto& field : env_.env(0).observation_spec().fields()) sizes.push_back(field.size());
  rl::PolicyActor actor = rl::LoadPolicyActor(*dir, config_.env, observation_keys_, sizes);
  if (actor.policy->spec().action_dim != env_.action_size()) {
    throw InvalidArgumentError(fmt::format("ppo.init_actor '{}': {} actions, env '{}' takes {}",
                                           dir->string(), actor.policy->spec().action_dim,
                                           config_.env, env_.action_size()));
  }
  log::Info("ppo_vec: the actor is the policy of {}", dir->string());
  return actor;
}

void Training::Resume(const fs::path& checkpoint) {
  rl::ResumedTraining resumed;
  mpi::RunAgreed(comm_, [&] {
    resumed = rl::LoadTrainingCheckpoint(checkpoint, model_, &learner_->optimizer(), &observations_,
                                         &rewards_);
    CheckResumedConfig(schema_, resumed.config_yaml, checkpoint);
    if (static_cast<int64_t>(resumed.envs.size()) != total_envs_) {
      throw InvalidArgumentError(fmt::format(
          "--resume: the checkpoint {} holds {} envs, this run has {} (ranks x ppo.num_envs); "
          "resume with the same total",
          checkpoint.string(), resumed.envs.size(), total_envs_));
    }
    rl::RestoreEnvStates(resumed.envs, &env_, &rewards_);
  });
  learner_->nonfinite().Restore(resumed.state.nonfinite);
  learner_->set_last_checkpoint(checkpoint);
  progress_.update = resumed.state.update;
  progress_.global_step = resumed.state.global_step;
  seconds_before_ = resumed.state.wall_seconds;
  if (comm_.is_root()) TruncateMetrics(run_dir_ / "metrics.jsonl", progress_.update);
  log::Info("ppo_vec: resumed from {} (update {}, {} env steps)", checkpoint.string(),
            progress_.update, progress_.global_step);
}

void Training::Checkpoint() {
  const std::vector<rl::EnvState> envs = rl::GatherEnvStates(comm_, env_, rewards_);
  const auto fingerprints = comm_.AllGather<uint64_t>(ParameterFingerprint(model_));
  if (std::adjacent_find(fingerprints.begin(), fingerprints.end(), std::not_equal_to<>()) !=
      fingerprints.end()) {
    throw Error(
        fmt::format("after update {} the ranks hold different parameters", progress_.update));
  }
  fs::path dir;
  if (comm_.is_root()) {
    rl::TrainingState t;
    t.state = {progress_.update,  progress_.global_step, config_.env,
               observation_keys_, progress_.seconds,     learner_->nonfinite().counts()};
    t.observations = &observations_;
    t.rewards = &rewards_;
    t.envs = envs;
    t.config_yaml = schema_.ToYaml();
    dir = rl::SaveCheckpoint(run_dir_, model_, learner_->optimizer(), t);
    models::PruneCheckpoints(run_dir_, config_.keep_checkpoints, models::kPpoCheckpointPrefix);
  }
  std::string path = dir.string();
  comm_.Broadcast(&path, 0);
  learner_->set_last_checkpoint(path);
}

bool Training::StopRequested(int64_t update) const {
  const bool stop =
      preemption::Requested() || (hooks_.stop_before_update && hooks_.stop_before_update(update));
  // Any rank's signal stops every rank.
  return comm_.AllReduce<int>(stop ? 1 : 0, mpi::ReduceOp::kMax) != 0;
}

void Training::TrainUpdate() {
  Progress& p = progress_;
  const double frac = 1.0 - static_cast<double>(p.update - 1) / static_cast<double>(p.updates);
  p.lr = config_.anneal_lr ? frac * ppo_.lr : ppo_.lr;
  rl::EpisodeStats local;
  const auto collect_start = Clock::now();
  collector_->Collect(comm_, p.update, &buffer_, &local);
  if (hooks_.after_collect) hooks_.after_collect(p.update);
  const auto learn_start = Clock::now();
  const rl::UpdateMetrics m = learner_->Update(&buffer_, p.update, p.lr);
  const auto end = Clock::now();
  p.collect_seconds = std::chrono::duration<double>(learn_start - collect_start).count();
  p.learn_seconds = std::chrono::duration<double>(end - learn_start).count();
  p.global_step += config_.rollout_steps * total_envs_;
  p.seconds = seconds_before_ + std::chrono::duration<double>(end - start_).count();
  p.steps_per_second = static_cast<double>(config_.rollout_steps * total_envs_) /
                       (p.collect_seconds + p.learn_seconds);
  p.episodes = ReduceEpisodes(comm_, local);
  if (comm_.is_root()) WriteMetrics(&metrics_, p, m);
  LogProgress(p, m);
}

int Training::Loop() {
  // A run continued from a checkpoint appends (its metrics were cut back to the checkpoint).
  if (comm_.is_root()) {
    metrics_.open(run_dir_ / "metrics.jsonl",
                  progress_.update > 0 ? std::ios::app : std::ios::trunc);
  }
  log::Info("ppo_vec: {} ranks x {} envs of '{}', {} updates of {} steps -> {}", comm_.size(),
            config_.num_envs, config_.env, progress_.updates, config_.rollout_steps * total_envs_,
            run_dir_.string());
  if (progress_.update >= progress_.updates) {
    log::Info("ppo_vec: the run already finished its {} updates", progress_.updates);
    return 0;
  }
  while (progress_.update < progress_.updates) {
    if (StopRequested(progress_.update + 1)) {
      Checkpoint();
      log::Warn(
          "ppo_vec: {} after update {}: checkpoint written, exiting {}; continue with "
          "--resume",
          preemption::Requested() ? preemption::SignalName() : "stop requested", progress_.update,
          kPreemptedExitCode);
      return kPreemptedExitCode;
    }
    ++progress_.update;
    TrainUpdate();
    const bool last = progress_.update == progress_.updates;
    if (last ||
        (config_.checkpoint_every > 0 && progress_.update % config_.checkpoint_every == 0)) {
      Checkpoint();
    }
  }
  return 0;
}

}  // namespace

int Run(const PpoConfig& config, const config::Schema& schema, const mpi::Communicator& comm,
        const PpoHooks& hooks) {
  NumUpdates(config, comm);  // a config error before anything is written
  const std::optional<fs::path> resume_from = PrepareRunDirectory(config, comm);
  // PPO's networks are tiny: one intra-op thread per rank; the cores go to the envs and ranks.
  torch::set_num_threads(1);
  torch::manual_seed(config.run.seed);
  Training training(config, schema, comm, hooks, resume_from);
  if (resume_from) {
    training.Resume(*resume_from);
  } else if (config.run.resume) {
    log::Info("--resume: no complete checkpoint under {}; starting at update 1", config.run.output);
  }
  // After the resume checks: a refused --resume leaves the run's config.yaml as it was.
  app::WriteResolvedConfig(schema, comm, fs::path(config.run.output) / "config.yaml");
  const int code = training.Loop();
  if (code == 0) {
    // <run_dir>/curves.png: return, success, length, entropy, KL, SPS against env steps.
    app::DrawFigures("ppo", {fs::path(config.run.output).string()}, config.run, comm);
  }
  return code;
}

}  // namespace simscale::ppo
