#include "common/rl/checkpoint.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"

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
  const fs::path dir = run_dir / "checkpoints" / fmt::format("update_{:09d}", state.update);
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

}  // namespace simscale::rl
