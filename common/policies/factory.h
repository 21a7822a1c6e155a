#pragma once

#include <filesystem>
#include <memory>
#include <string>

#include "common/core/device.h"
#include "common/envs/policy.h"
#include "common/policies/checkpoint_policy.h"
#include "common/sim/renderer.h"

namespace simscale::policies {

inline constexpr double kAutoTemporalEnsemble = -2.0;
inline constexpr double kDefaultEnsembleDecay = 0.1;

struct PolicyOptions {
  bool prefer_ema = true;  // a run directory's EMA weights, when it saved any
  sim::GlBackend gl_backend = sim::GlBackend::kAuto;
  Device device = Device::kCpu;
  int threads = 1;         // LibTorch intra-op threads of a checkpoint policy
  InputAblation ablation;  // checkpoint policies only
  // Checkpoint policies: -1 executes the first action of each chunk (replanning every step),
  // >= 0 ensembles overlapping chunks with this decay (CheckpointPolicy::SetTemporalEnsemble);
  // kAutoTemporalEnsemble: kDefaultEnsembleDecay for chunk policies (horizon > 1), else -1.
  double temporal_ensemble = kAutoTemporalEnsemble;
};

// Whether `name` names a trained policy (a path) rather than "scripted" or "random".
bool IsCheckpointPolicyName(const std::string& name);

// The checkpoint a path names: a checkpoint directory itself, or a run directory (its newest
// complete checkpoint; with prefer_ema, the EMA weights saved beside it when there are any).
std::filesystem::path ResolveCheckpoint(const std::filesystem::path& path, bool prefer_ema);

// The env a checkpoint (directory, not run directory) was trained in, from its metadata without
// loading the model; "" when it records none.
std::string CheckpointEnvName(const std::filesystem::path& checkpoint);

// The one factory: "scripted" (the env's expert), "random" (seeded uniform actions), or a
// checkpoint / run directory (a trained model driven through its PolicySpec: state from the named
// observation slices with the same history, camera images rendered from the env's state at the
// recorded size, the episode's instruction). Only the last touches model code, and loads LibTorch
// on first use. The policy is checked against the env when first reset.
std::unique_ptr<envs::Policy> MakePolicy(const std::string& name, const std::string& env_name,
                                         const PolicyOptions& options = {});

}  // namespace simscale::policies
