#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

#include "common/models/model_options.h"

// The metadata of a checkpoint (meta.yaml, see checkpoint.h), read without LibTorch: tools that
// only inspect checkpoints, and the parser's fuzz target, link this alone.
namespace simscale::models {

// 1: the policy contract split between the model options and the trainer's `extra`;
// 2: the policy contract (common/policies) in its own `policy` section. Version 1 is still read.
inline constexpr int kCheckpointFormatVersion = 2;

struct CheckpointMetadata {
  int format_version = kCheckpointFormatVersion;
  // Filled from the model by SaveCheckpoint (whatever the caller put there is ignored).
  std::string model_name;
  ModelOptions model_options;
  NormalizationStats normalization;
  std::string torch_version;
  // Filled by the caller.
  int64_t step = 0;
  int64_t world_size = 1;
  std::string resolved_config;  // YAML text of the run's resolved configuration
  std::string extra;            // opaque YAML text: LR schedule state, RNG state, data position...
};

// The metadata of a complete checkpoint; throws InvalidArgumentError for an incomplete one, an
// unknown format version, or malformed metadata.
CheckpointMetadata ReadCheckpointMetadata(const std::filesystem::path& dir);

// The metadata in `text`, the meta.yaml of checkpoint `dir`. Throws InvalidArgumentError naming
// the checkpoint for malformed YAML, missing or mistyped fields and unknown format versions.
CheckpointMetadata ParseCheckpointMetadata(const std::string& text,
                                           const std::filesystem::path& dir);

}  // namespace simscale::models
