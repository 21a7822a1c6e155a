#include "common/models/checkpoint_metadata.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/models/checkpoint_layout.h"

namespace simscale::models {
namespace fs = std::filesystem;

namespace {

constexpr const char* kMetadataFile = kCheckpointMetadataFile;
// Far above any real meta.yaml (a few KiB plus the resolved config); refused before parsing.
constexpr size_t kMaxMetadataBytes = size_t{16} << 20;

[[noreturn]] void Fail(const fs::path& dir, const std::string& what) {
  throw InvalidArgumentError(fmt::format("checkpoint '{}': {}", dir.string(), what));
}

std::vector<double> ReadVector(const YAML::Node& node) {
  std::vector<double> values;
  if (!node) return values;
  for (const auto& item : node) values.push_back(item.as<double>());
  return values;
}

// Format 1 kept the policy contract in two places: cameras, image size, language and horizon
// among the model options, and the rest as the trainer's "interface" inside `extra`.
void ReadVersion1Policy(const YAML::Node& root, const fs::path& dir, ModelOptions* options) {
  if (!root["extra"]) return;
  const YAML::Node interface = YAML::Load(root["extra"].as<std::string>())["interface"];
  if (!interface) return;  // not written by train_ddp: the policy cannot be bound to an env
  policies::PolicySpec& p = options->spec.policy;
  p.env = interface["env"].as<std::string>();
  p.state_keys = interface["state_keys"].as<std::vector<std::string>>();
  p.history = interface["history"].as<int64_t>();
  const int64_t recorded = interface["image_size"].as<int64_t>();
  p.render_size = recorded == p.image_size ? 0 : recorded;
  policies::ValidatePolicySpec(p, (dir / kMetadataFile).string() + ": extra.interface");
}

YAML::Node LoadRoot(const std::string& text, const fs::path& dir) {
  if (text.size() > kMaxMetadataBytes) {
    Fail(dir, fmt::format("{} is {} bytes, more than the {} a checkpoint's metadata may have",
                          kMetadataFile, text.size(), kMaxMetadataBytes));
  }
  try {
    YAML::Node root = YAML::Load(text);
    if (!root.IsMap()) Fail(dir, fmt::format("{} is not a YAML map", kMetadataFile));
    return root;
  } catch (const YAML::Exception& e) {
    Fail(dir,
         fmt::format("{}: invalid YAML at line {}: {}", kMetadataFile, e.mark.line + 1, e.msg));
  }
}

}  // namespace

CheckpointMetadata ParseCheckpointMetadata(const std::string& text, const fs::path& dir) {
  const YAML::Node root = LoadRoot(text, dir);
  CheckpointMetadata meta;
  try {
    meta.format_version = root["format_version"].as<int>();
    if (meta.format_version < 1 || meta.format_version > kCheckpointFormatVersion) {
      Fail(dir, fmt::format("format version {} is not supported (this build reads versions 1 to "
                            "{}; version 2 moved the policy contract into its own 'policy' "
                            "section)",
                            meta.format_version, kCheckpointFormatVersion));
    }
    meta.model_name = root["model_name"].as<std::string>();
    meta.step = root["step"].as<int64_t>();
    meta.world_size = root["world_size"].as<int64_t>();
    if (root["torch_version"]) meta.torch_version = root["torch_version"].as<std::string>();
    if (root["config"]) meta.resolved_config = root["config"].as<std::string>();
    if (root["extra"]) meta.extra = root["extra"].as<std::string>();
    YAML::Node wrapped;
    wrapped["model"] = root["model"];
    const std::string source = (dir / kMetadataFile).string();
    const bool version1 = meta.format_version == 1;
    meta.model_options = ModelOptionsFromYaml(YAML::Dump(wrapped), source, version1);
    if (version1) {
      ReadVersion1Policy(root, dir, &meta.model_options);
    } else {
      meta.model_options.spec.policy = policies::PolicySpecFromYaml(root["policy"], source);
    }
    if (const auto n = root["normalization"]) {
      meta.normalization.state_mean = ReadVector(n["state_mean"]);
      meta.normalization.state_std = ReadVector(n["state_std"]);
      meta.normalization.action_mean = ReadVector(n["action_mean"]);
      meta.normalization.action_std = ReadVector(n["action_std"]);
      meta.normalization.target_mean = ReadVector(n["target_mean"]);
      meta.normalization.target_std = ReadVector(n["target_std"]);
    }
  } catch (const YAML::Exception& e) {
    Fail(dir, fmt::format("{}: missing or malformed field: {}", kMetadataFile, e.msg));
  }
  return meta;
}

CheckpointMetadata ReadCheckpointMetadata(const fs::path& dir) {
  if (!IsCompleteCheckpoint(dir)) {
    Fail(dir, fs::exists(dir) ? fmt::format("incomplete (no '{}' marker)", kCheckpointMarker)
                              : std::string("no such directory"));
  }
  return ParseCheckpointMetadata(ReadFile(dir / kMetadataFile), dir);
}

}  // namespace simscale::models
