#include "common/policies/factory.h"

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/envs/registry.h"
#include "common/models/checkpoint_layout.h"
#include "common/models/checkpoint_metadata.h"
#include "common/policies/checkpoint_policy.h"

namespace simscale::policies {
namespace fs = std::filesystem;

bool IsCheckpointPolicyName(const std::string& name) {
  return name != "scripted" && name != "random";
}

namespace {

// What `path` is, for the message of a policy that names no usable checkpoint.
std::string DescribeNonPolicy(const fs::path& path) {
  if (!fs::exists(path)) return "it does not exist";
  if (!fs::is_directory(path)) return "it is a file, not a directory";
  if (fs::exists(path / models::kCheckpointMetadataFile)) {
    return fmt::format("it has no {} marker: its write never finished", models::kCheckpointMarker);
  }
  auto partial = models::PartialCheckpoints(path);
  if (partial.empty()) partial = models::PartialCheckpoints(path, models::kPpoCheckpointPrefix);
  if (!partial.empty()) {
    return fmt::format("its checkpoints have no {} marker (e.g. '{}'): their write never finished",
                       models::kCheckpointMarker, partial.front().filename().string());
  }
  return "found none of these";
}

}  // namespace

fs::path ResolveCheckpoint(const fs::path& path, bool prefer_ema) {
  fs::path checkpoint = path;
  if (!models::IsCompleteCheckpoint(path)) {
    // A train_ddp run (step_*) or a ppo_vec run (update_*).
    auto latest = models::FindLatestCompleteCheckpoint(path);
    if (!latest) latest = models::FindLatestCompleteCheckpoint(path, models::kPpoCheckpointPrefix);
    if (!latest) {
      throw InvalidArgumentError(fmt::format(
          "policy '{}': expected scripted, random, a complete checkpoint directory or a run "
          "directory holding checkpoints/step_* (train_ddp) or checkpoints/update_* (ppo_vec); "
          "{}",
          path.string(), DescribeNonPolicy(path)));
    }
    checkpoint = *latest;
  }
  if (prefer_ema) {
    const fs::path ema = models::EmaCheckpointDirectory(checkpoint);
    if (models::IsCompleteCheckpoint(ema)) return ema;
  }
  return checkpoint;
}

std::string CheckpointEnvName(const fs::path& checkpoint) {
  // The one metadata parser (both checkpoint formats), as every checkpoint reader uses it.
  return models::ReadCheckpointMetadata(checkpoint).model_options.spec.policy.env;
}

std::unique_ptr<envs::Policy> MakePolicy(const std::string& name, const std::string& env_name,
                                         const PolicyOptions& options) {
  if (!IsCheckpointPolicyName(name) && options.ablation.any()) {
    throw InvalidArgumentError(
        fmt::format("policy '{}': input ablations ({}) apply to checkpoint policies only", name,
                    options.ablation.Describe()));
  }
  if (!IsCheckpointPolicyName(name) && options.temporal_ensemble >= 0) {
    throw InvalidArgumentError(
        fmt::format("policy '{}': temporal ensembling ({}) applies to checkpoint policies only",
                    name, options.temporal_ensemble));
  }
  if (name == "scripted") return envs::MakeScriptedExpert(env_name);
  if (name == "random") return std::make_unique<envs::RandomPolicy>();
  const fs::path checkpoint = ResolveCheckpoint(name, options.prefer_ema);
  ActionModelOptions model_options;
  model_options.device = options.device;
  model_options.threads = options.threads;
  auto policy = std::make_unique<CheckpointPolicy>(
      checkpoint, LoadActionModel(checkpoint, model_options), options.gl_backend, options.ablation);
  double decay = options.temporal_ensemble;
  if (decay <= kAutoTemporalEnsemble) {
    decay = policy->spec().policy.action_horizon > 1 ? kDefaultEnsembleDecay : -1.0;
  }
  policy->SetTemporalEnsemble(decay);
  log::Info("policy: {} ({}{})", checkpoint.string(), DescribePolicySpec(policy->spec().policy),
            decay >= 0 ? fmt::format(", temporal ensembling, decay {}", decay) : "");
  if (options.ablation.any()) log::Info("policy inputs ablated: {}", options.ablation.Describe());
  return policy;
}

}  // namespace simscale::policies
