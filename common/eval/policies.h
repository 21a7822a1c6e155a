#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/envs/policy.h"

namespace simscale::eval {

// How a trained model reads an env: stored with every checkpoint by train_ddp.
struct PolicyInterface {
  std::string env;
  std::vector<std::string> state_keys;
  int64_t history = 1;
  std::vector<std::string> cameras;
  int64_t image_size = 0;  // the size images were recorded at (rendered at that size)
  bool uses_language = false;
};

// The checkpoint a path names: a checkpoint directory itself, or a run directory (its newest
// complete checkpoint; with prefer_ema, the EMA weights saved beside it when there are any).
std::filesystem::path ResolveCheckpoint(const std::filesystem::path& path, bool prefer_ema);

// Reads the interface stored in a checkpoint's metadata; throws InvalidArgumentError naming the
// checkpoint when it has none (a checkpoint not written by train_ddp).
PolicyInterface ReadPolicyInterface(const std::filesystem::path& checkpoint);

struct PolicyOptions {
  bool prefer_ema = true;
  std::string gl_backend = "auto";
  std::string device = "auto";  // auto | cpu | cuda
};

// Builds the policy named `spec`: "scripted" (the env's expert), "random", or a checkpoint /
// run directory (a BC or VLA model driven through its stored interface: state from the named
// observation slices with the same history, camera images rendered from the env's state,
// the episode's instruction). Checks that the policy fits `env_name`.
std::unique_ptr<envs::Policy> MakePolicy(const std::string& spec, const std::string& env_name,
                                         const PolicyOptions& options = {});

}  // namespace simscale::eval
