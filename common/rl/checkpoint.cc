#include "common/rl/checkpoint.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/checkpoint_layout.h"

namespace simscale::rl {
namespace fs = std::filesystem;

namespace {

nlohmann::ordered_json MomentsJson(const RunningMoments& moments) {
  return {{"count", moments.count()}, {"mean", moments.mean()}, {"var", moments.var()}};
}

}  // namespace

fs::path SaveCheckpoint(const fs::path& run_dir, ActorCritic model,
                        torch::optim::Optimizer& optimizer,
                        const ObservationNormalizer& observations, const RewardScaler& rewards,
                        const CheckpointState& state, const std::string& config_yaml) {
  const fs::path dir =
      models::CheckpointDirectory(run_dir, state.update, models::kPpoCheckpointPrefix);
  const fs::path temporary = TemporarySibling(dir);
  fs::remove_all(temporary);
  fs::create_directories(temporary);
  torch::save(model, (temporary / "model.pt").string());
  torch::save(optimizer, (temporary / "optimizer.pt").string());
  const ActorCriticOptions& o = model->options();
  const nlohmann::ordered_json meta = {
      {"format_version", 1},
      {"update", state.update},
      {"global_step", state.global_step},
      {"env", state.env},
      {"observation_keys", state.observation_keys},
      {"model",
       {{"observation_size", o.observation_size},
        {"action_size", o.action_size},
        {"hidden", o.hidden}}},
      {"observation_normalization",
       observations.enabled() ? MomentsJson(observations.moments()) : nlohmann::ordered_json()},
      {"reward_scaling",
       rewards.enabled() ? MomentsJson(rewards.moments()) : nlohmann::ordered_json()},
      {"config", config_yaml}};
  WriteFileAtomic(temporary / "state.json", meta.dump(2) + "\n");
  WriteFileAtomic(temporary / "COMPLETE", "");
  fs::remove_all(dir);
  RenameDurable(temporary, dir);
  return dir;
}

PolicyCheckpoint LoadPolicyCheckpoint(const fs::path& dir) {
  if (!models::IsCompleteCheckpoint(dir)) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}' is missing or incomplete (no COMPLETE)", dir.string()));
  }
  PolicyCheckpoint c;
  try {
    const auto meta = nlohmann::json::parse(ReadFile(dir / "state.json"));
    c.state.update = meta.at("update").get<int64_t>();
    c.state.global_step = meta.at("global_step").get<int64_t>();
    c.state.env = meta.at("env").get<std::string>();
    c.state.observation_keys = meta.at("observation_keys").get<std::vector<std::string>>();
    ActorCriticOptions options;
    options.observation_size = meta.at("model").at("observation_size").get<int64_t>();
    options.action_size = meta.at("model").at("action_size").get<int64_t>();
    options.hidden = meta.at("model").at("hidden").get<std::vector<int64_t>>();
    c.model = ActorCritic(options);
    torch::load(c.model, (dir / "model.pt").string());
    const auto& stats = meta.at("observation_normalization");
    c.observations = ObservationNormalizer(options.observation_size, !stats.is_null());
    if (!stats.is_null()) {
      c.observations.moments().Restore(stats.at("count").get<double>(),
                                       stats.at("mean").get<std::vector<double>>(),
                                       stats.at("var").get<std::vector<double>>());
    }
  } catch (const nlohmann::json::exception& e) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}': state.json: {}", dir.string(), e.what()));
  } catch (const c10::Error& e) {
    throw InvalidArgumentError(
        fmt::format("PPO checkpoint '{}': model.pt: {}", dir.string(), e.what_without_backtrace()));
  }
  c.model->eval();
  return c;
}

}  // namespace simscale::rl
