#include "common/rl/checkpoint.h"

#include <algorithm>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/checkpoint.h"

namespace simscale::rl {
namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

namespace {

constexpr int kFormatVersion = 2;  // 2: envs, nonfinite, wall_seconds, reward returns (resume)
constexpr const char* kActorDirectory = "actor";  // a policy actor's own checkpoint

Json MomentsJson(const RunningMoments& moments) {
  return {{"count", moments.count()}, {"mean", moments.mean()}, {"var", moments.var()}};
}

void RestoreMoments(const nlohmann::json& stats, RunningMoments* moments, const fs::path& dir) {
  const auto mean = stats.at("mean").get<std::vector<double>>();
  if (static_cast<int64_t>(mean.size()) != moments->dim()) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}': state.json: statistics of {} dimensions, expected {}",
                    dir.string(), mean.size(), moments->dim()));
  }
  moments->Restore(stats.at("count").get<double>(), mean,
                   stats.at("var").get<std::vector<double>>());
}

Json EnvsJson(const std::vector<EnvState>& envs) {
  Json out = Json::array();
  for (const auto& e : envs) {
    out.push_back({{"env", e.progress.env},
                   {"episodes_started", e.progress.episodes_started},
                   {"discounted_return", e.discounted_return},
                   {"actions", e.progress.actions},
                   {"observation", e.progress.observation}});
  }
  return out;
}

std::vector<EnvState> EnvsFromJson(const nlohmann::json& envs) {
  std::vector<EnvState> out;
  for (const auto& e : envs) {
    EnvState s;
    s.progress.env = e.at("env").get<int64_t>();
    s.progress.episodes_started = e.at("episodes_started").get<int64_t>();
    s.progress.actions = e.at("actions").get<std::vector<double>>();
    s.progress.observation = e.at("observation").get<std::vector<double>>();
    s.discounted_return = e.at("discounted_return").get<double>();
    out.push_back(std::move(s));
  }
  return out;
}

CheckpointState StateFromJson(const nlohmann::json& meta) {
  CheckpointState s;
  s.update = meta.at("update").get<int64_t>();
  s.global_step = meta.at("global_step").get<int64_t>();
  s.env = meta.at("env").get<std::string>();
  s.observation_keys = meta.at("observation_keys").get<std::vector<std::string>>();
  s.wall_seconds = meta.value("wall_seconds", 0.0);
  if (meta.contains("nonfinite")) {
    s.nonfinite.skipped = meta["nonfinite"].at("skipped").get<int64_t>();
    s.nonfinite.in_a_row = meta["nonfinite"].at("in_a_row").get<int64_t>();
  }
  return s;
}

ActorCriticOptions ModelOptionsFromJson(const nlohmann::json& meta) {
  ActorCriticOptions options;
  options.observation_size = meta.at("model").at("observation_size").get<int64_t>();
  options.action_size = meta.at("model").at("action_size").get<int64_t>();
  options.hidden = meta.at("model").at("hidden").get<std::vector<int64_t>>();
  return options;
}

// The checkpoint's policy actor, if its actor is one.
PolicyActor SavedPolicyActor(const fs::path& dir, const nlohmann::json& meta) {
  PolicyActor actor;
  const auto& saved = meta.value("actor", nlohmann::json());
  if (saved.is_null()) return actor;
  actor.policy = models::LoadCheckpoint(dir / saved.at("checkpoint").get<std::string>());
  actor.state_columns = saved.at("state_columns").get<std::vector<int64_t>>();
  return actor;
}

nlohmann::json ReadState(const fs::path& dir) {
  if (!models::IsCompleteCheckpoint(dir)) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}' is missing or incomplete (no COMPLETE)", dir.string()));
  }
  try {
    return nlohmann::json::parse(ReadFile(dir / "state.json"));
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}': state.json: {}", dir.string(), e.what()));
  }
}

// Runs `load`, turning JSON and LibTorch errors into InvalidArgumentErrors naming the checkpoint.
template <typename F>
void LoadNamingErrors(const fs::path& dir, const F& load) {
  try {
    load();
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}': state.json: {}", dir.string(), e.what()));
  } catch (const c10::Error& e) {
    throw InvalidArgumentError(fmt::format("PPO checkpoint '{}': model.pt or optimizer.pt: {}",
                                           dir.string(), e.what_without_backtrace()));
  }
}

// Flattened per env: global index, episodes started, discounted return, action count, actions,
// observation (its size is the env's).
void AppendFlat(const EnvState& s, std::vector<double>* out) {
  out->push_back(static_cast<double>(s.progress.env));
  out->push_back(static_cast<double>(s.progress.episodes_started));
  out->push_back(s.discounted_return);
  out->push_back(static_cast<double>(s.progress.actions.size()));
  out->insert(out->end(), s.progress.actions.begin(), s.progress.actions.end());
  out->insert(out->end(), s.progress.observation.begin(), s.progress.observation.end());
}

}  // namespace

std::vector<EnvState> GatherEnvStates(const mpi::Communicator& comm, const rollout::VectorEnv& env,
                                      const RewardScaler& rewards) {
  std::vector<double> flat;
  const std::vector<rollout::EnvProgress> progress = env.Progress();
  for (size_t k = 0; k < progress.size(); ++k) {
    AppendFlat({progress[k], rewards.returns()[k]}, &flat);
  }
  const std::vector<double> all = comm.AllGatherV(flat);
  std::vector<EnvState> out;
  const auto obs = static_cast<size_t>(env.observation_size());
  for (size_t i = 0; i < all.size();) {
    EnvState s;
    s.progress.env = static_cast<int64_t>(all[i]);
    s.progress.episodes_started = static_cast<int64_t>(all[i + 1]);
    s.discounted_return = all[i + 2];
    const auto actions = static_cast<size_t>(all[i + 3]);
    const auto begin = all.begin() + static_cast<std::ptrdiff_t>(i + 4);
    s.progress.actions.assign(begin, begin + static_cast<std::ptrdiff_t>(actions));
    s.progress.observation.assign(begin + static_cast<std::ptrdiff_t>(actions),
                                  begin + static_cast<std::ptrdiff_t>(actions + obs));
    out.push_back(std::move(s));
    i += 4 + actions + obs;
  }
  std::sort(out.begin(), out.end(),
            [](const EnvState& a, const EnvState& b) { return a.progress.env < b.progress.env; });
  return out;
}

void RestoreEnvStates(const std::vector<EnvState>& all, rollout::VectorEnv* env,
                      RewardScaler* rewards) {
  const std::vector<rollout::EnvProgress> now = env->Progress();
  const int64_t first = now.front().env, last = now.back().env;
  if (static_cast<int64_t>(all.size()) <= last) {
    throw InvalidArgumentError(fmt::format(
        "the checkpoint holds {} envs; this run has more (env {} on this rank): resume with the "
        "same total number of envs (ranks x ppo.num_envs)",
        all.size(), last));
  }
  std::vector<rollout::EnvProgress> mine;
  for (int64_t g = first; g <= last; ++g) {
    mine.push_back(all[static_cast<size_t>(g)].progress);
    rewards->returns()[static_cast<size_t>(g - first)] =
        all[static_cast<size_t>(g)].discounted_return;
  }
  env->Restore(mine);
}

fs::path SaveCheckpoint(const fs::path& run_dir, ActorCritic model,
                        const torch::optim::Optimizer& optimizer, const TrainingState& t) {
  const CheckpointState& state = t.state;
  const fs::path dir =
      models::CheckpointDirectory(run_dir, state.update, models::kPpoCheckpointPrefix);
  const fs::path temporary = TemporarySibling(dir);
  fs::remove_all(temporary);
  fs::create_directories(temporary);
  torch::save(model, (temporary / "model.pt").string());
  torch::save(optimizer, (temporary / "optimizer.pt").string());
  const PolicyActor& actor = model->policy_actor();
  if (actor.policy) {
    // The actor is also a toolkit checkpoint of its own: it rebuilds this actor-critic, and
    // evaluate/datagen can play it like any train_ddp checkpoint.
    models::CheckpointMetadata actor_meta;
    actor_meta.step = state.update;
    actor_meta.resolved_config = t.config_yaml;
    models::SaveCheckpoint(temporary / kActorDirectory, *actor.policy, nullptr, actor_meta);
  }
  const ActorCriticOptions& o = model->options();
  const auto moments = [](bool enabled, const RunningMoments& m) {
    return enabled ? MomentsJson(m) : Json();
  };
  const Json meta = {
      {"format_version", kFormatVersion},
      {"update", state.update},
      {"global_step", state.global_step},
      {"wall_seconds", state.wall_seconds},
      {"env", state.env},
      {"observation_keys", state.observation_keys},
      {"model",
       {{"observation_size", o.observation_size},
        {"action_size", o.action_size},
        {"hidden", o.hidden}}},
      {"actor", actor.policy
                    ? Json{{"checkpoint", kActorDirectory}, {"state_columns", actor.state_columns}}
                    : Json()},
      {"observation_normalization", moments(t.observations->enabled(), t.observations->moments())},
      {"reward_scaling", moments(t.rewards->enabled(), t.rewards->moments())},
      {"nonfinite", {{"skipped", state.nonfinite.skipped}, {"in_a_row", state.nonfinite.in_a_row}}},
      {"envs", EnvsJson(t.envs)},
      {"config", t.config_yaml}};
  WriteFileAtomic(temporary / "state.json", meta.dump(1) + "\n");
  WriteFileAtomic(temporary / models::kCheckpointMarker, "");
  fs::remove_all(dir);
  RenameDurable(temporary, dir);
  return dir;
}

std::optional<fs::path> PolicyActorCheckpoint(const fs::path& dir) {
  const nlohmann::json meta = ReadState(dir);
  const auto& saved = meta.value("actor", nlohmann::json());
  if (saved.is_null()) return std::nullopt;
  return dir / saved.value("checkpoint", std::string(kActorDirectory));
}

PolicyCheckpoint LoadPolicyCheckpoint(const fs::path& dir) {
  const nlohmann::json meta = ReadState(dir);
  PolicyCheckpoint c;
  LoadNamingErrors(dir, [&] {
    c.state = StateFromJson(meta);
    const ActorCriticOptions options = ModelOptionsFromJson(meta);
    c.model = ActorCritic(options, SavedPolicyActor(dir, meta));
    torch::load(c.model, (dir / "model.pt").string());
    const auto& stats = meta.at("observation_normalization");
    c.observations = ObservationNormalizer(options.observation_size, !stats.is_null());
    if (!stats.is_null()) RestoreMoments(stats, &c.observations.moments(), dir);
  });
  c.model->eval();
  return c;
}

ResumedTraining LoadTrainingCheckpoint(const fs::path& dir, ActorCritic model,
                                       torch::optim::Optimizer* optimizer,
                                       ObservationNormalizer* observations, RewardScaler* rewards) {
  const nlohmann::json meta = ReadState(dir);
  ResumedTraining r;
  LoadNamingErrors(dir, [&] {
    if (meta.value("format_version", 1) < kFormatVersion) {
      throw InvalidArgumentError(fmt::format(
          "PPO checkpoint '{}' (format {}) can be evaluated but not resumed: it predates exact "
          "resume (format {})",
          dir.string(), meta.value("format_version", 1), kFormatVersion));
    }
    const ActorCriticOptions saved = ModelOptionsFromJson(meta);
    const ActorCriticOptions& now = model->options();
    if (saved.observation_size != now.observation_size || saved.action_size != now.action_size ||
        saved.hidden != now.hidden) {
      throw InvalidArgumentError(
          fmt::format("PPO checkpoint '{}' holds a network of other sizes than this run's config",
                      dir.string()));
    }
    r.state = StateFromJson(meta);
    r.envs = EnvsFromJson(meta.at("envs"));
    r.config_yaml = meta.at("config").get<std::string>();
    const auto& obs = meta.at("observation_normalization");
    const auto& rew = meta.at("reward_scaling");
    if (obs.is_null() == observations->enabled() || rew.is_null() == rewards->enabled()) {
      throw InvalidArgumentError(fmt::format(
          "PPO checkpoint '{}' was trained with other ppo.norm_obs / ppo.norm_reward settings",
          dir.string()));
    }
    if (!obs.is_null()) RestoreMoments(obs, &observations->moments(), dir);
    if (!rew.is_null()) RestoreMoments(rew, &rewards->moments(), dir);
    torch::load(model, (dir / "model.pt").string());
    torch::load(*optimizer, (dir / "optimizer.pt").string());
  });
  return r;
}

}  // namespace simscale::rl
