#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace YAML {
class Node;
}

namespace simscale::policies {

// The contract between a trained policy and an env: how an env observation becomes the model's
// input and what the model returns. It is part of the model's spec (models::ModelSpec::policy),
// filled by train_ddp from the dataset and the config, saved in every checkpoint and checked when
// a policy is bound to an env. Training and evaluation read it; nobody re-derives it.
struct PolicySpec {
  std::string env;                      // the env the policy was trained in ("": not recorded)
  std::vector<std::string> state_keys;  // observation slices concatenated into the state, in order
  int64_t history = 1;                  // frames stacked into the state, oldest first
  std::vector<std::string> cameras;     // camera images the model sees (empty: none)
  int64_t image_size = 64;              // the model's square input image side, in pixels
  int64_t render_size = 0;              // side the images are rendered (and were recorded) at,
                                        // area-resampled to image_size; 0: image_size
  bool uses_language = false;           // the episode's instruction is an input
  int64_t action_horizon = 1;           // actions predicted per observation (a chunk)

  int64_t ResolvedRenderSize() const { return render_size > 0 ? render_size : image_size; }
  bool operator==(const PolicySpec& other) const;
  bool operator!=(const PolicySpec& other) const { return !(*this == other); }
};

// Throws InvalidArgumentError naming the first field that is out of range (`what` prefixes the
// field names, e.g. "checkpoint x: policy").
void ValidatePolicySpec(const PolicySpec& spec, const std::string& what);

// A YAML map with every field, and back. Reading is strict: unknown keys, missing keys and wrong
// types are InvalidArgumentErrors naming `source` and the key.
YAML::Node PolicySpecToYaml(const PolicySpec& spec);
PolicySpec PolicySpecFromYaml(const YAML::Node& node, const std::string& source);

// The observation keys of proprioception, what the robot senses of itself: end-effector position,
// gripper (opening, finger speed), joint positions and velocities. A vision policy's state is
// made of these only: object and target positions are the simulator's ground truth, and a policy
// given them could succeed without looking at its cameras or reading its instruction.
const std::vector<std::string>& ProprioceptiveStateKeys();
// Throws InvalidArgumentError for the first of `keys` that is not proprioceptive, naming
// `what` (the config key), the key, and why.
void CheckProprioceptiveStateKeys(const std::vector<std::string>& keys, const std::string& what);

// One line for logs: "env reach, state [ee_pos, joint_pos] x1, cameras [agentview] 128->64 px,
// language, horizon 4".
std::string DescribePolicySpec(const PolicySpec& spec);

}  // namespace simscale::policies
