#include "common/policies/policy_spec.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "common/core/error.h"

namespace simscale::policies {
namespace {

const std::vector<std::string> kKeys = {"env",           "state_keys",    "history",
                                        "cameras",       "image_size",    "render_size",
                                        "uses_language", "action_horizon"};

template <typename T>
T Read(const YAML::Node& node, const char* key, const std::string& source) {
  const YAML::Node value = node[key];
  if (!value) {
    throw InvalidArgumentError(fmt::format("{}: policy spec has no '{}'", source, key));
  }
  try {
    return value.as<T>();
  } catch (const YAML::Exception& e) {
    throw InvalidArgumentError(
        fmt::format("{}: policy spec '{}': malformed value: {}", source, key, e.msg));
  }
}

}  // namespace

bool PolicySpec::operator==(const PolicySpec& o) const {
  return env == o.env && state_keys == o.state_keys && history == o.history &&
         cameras == o.cameras && image_size == o.image_size &&
         ResolvedRenderSize() == o.ResolvedRenderSize() && uses_language == o.uses_language &&
         action_horizon == o.action_horizon;
}

void ValidatePolicySpec(const PolicySpec& s, const std::string& what) {
  CheckArgument(s.history >= 1, what + ".history", s.history, "an integer >= 1");
  CheckArgument(s.action_horizon >= 1, what + ".action_horizon", s.action_horizon,
                "an integer >= 1");
  CheckArgument(s.image_size >= 8 && s.image_size <= 1024, what + ".image_size", s.image_size,
                "an integer in [8, 1024]");
  CheckArgument(s.render_size == 0 || (s.render_size >= 8 && s.render_size <= 4096),
                what + ".render_size", s.render_size, "0 or an integer in [8, 4096]");
  std::set<std::string> seen;
  for (const auto& camera : s.cameras) {
    CheckArgument(!camera.empty() && seen.insert(camera).second, what + ".cameras", camera,
                  "distinct, non-empty camera names");
  }
  seen.clear();
  for (const auto& key : s.state_keys) {
    CheckArgument(!key.empty() && seen.insert(key).second, what + ".state_keys", key,
                  "distinct, non-empty observation names");
  }
}

YAML::Node PolicySpecToYaml(const PolicySpec& s) {
  YAML::Node node;
  node["env"] = s.env;
  node["state_keys"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& key : s.state_keys) node["state_keys"].push_back(key);
  node["state_keys"].SetStyle(YAML::EmitterStyle::Flow);
  node["history"] = s.history;
  node["cameras"] = YAML::Node(YAML::NodeType::Sequence);
  for (const auto& camera : s.cameras) node["cameras"].push_back(camera);
  node["cameras"].SetStyle(YAML::EmitterStyle::Flow);
  node["image_size"] = s.image_size;
  node["render_size"] = s.render_size;
  node["uses_language"] = s.uses_language;
  node["action_horizon"] = s.action_horizon;
  return node;
}

PolicySpec PolicySpecFromYaml(const YAML::Node& node, const std::string& source) {
  if (!node || !node.IsMap()) {
    throw InvalidArgumentError(fmt::format("{}: the policy spec is missing or not a map", source));
  }
  for (const auto& item : node) {
    const std::string key = item.first.as<std::string>();
    if (std::find(kKeys.begin(), kKeys.end(), key) == kKeys.end()) {
      throw InvalidArgumentError(
          fmt::format("{}: unknown policy spec key '{}' (expected one of {})", source, key,
                      fmt::join(kKeys, ", ")));
    }
  }
  PolicySpec s;
  s.env = Read<std::string>(node, "env", source);
  s.state_keys = Read<std::vector<std::string>>(node, "state_keys", source);
  s.history = Read<int64_t>(node, "history", source);
  s.cameras = Read<std::vector<std::string>>(node, "cameras", source);
  s.image_size = Read<int64_t>(node, "image_size", source);
  s.render_size = Read<int64_t>(node, "render_size", source);
  s.uses_language = Read<bool>(node, "uses_language", source);
  s.action_horizon = Read<int64_t>(node, "action_horizon", source);
  ValidatePolicySpec(s, source + ": policy");
  return s;
}

std::string DescribePolicySpec(const PolicySpec& s) {
  std::string text = fmt::format("env {}, state [{}] x{}", s.env.empty() ? "(any)" : s.env,
                                 fmt::join(s.state_keys, ", "), s.history);
  if (!s.cameras.empty()) {
    text += fmt::format(", cameras [{}] {}->{} px", fmt::join(s.cameras, ", "),
                        s.ResolvedRenderSize(), s.image_size);
  }
  if (s.uses_language) text += ", language";
  return text + fmt::format(", horizon {}", s.action_horizon);
}

const std::vector<std::string>& ProprioceptiveStateKeys() {
  static const std::vector<std::string> keys = {"ee_pos", "gripper_state", "joint_pos",
                                                "joint_vel"};
  return keys;
}

void CheckProprioceptiveStateKeys(const std::vector<std::string>& keys, const std::string& what) {
  const auto& allowed = ProprioceptiveStateKeys();
  for (const auto& key : keys) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    throw InvalidArgumentError(fmt::format(
        "{}: '{}' is not proprioception; a vision policy (model.vision: true) must find objects "
        "and targets in its cameras and instruction, so its state may hold only: {}",
        what, key, fmt::join(allowed, ", ")));
  }
}

}  // namespace simscale::policies
