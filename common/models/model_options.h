#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/policies/policy_spec.h"

// Plain, torch-free descriptions of a model: what it sees and emits (ModelSpec), how it is built
// (ModelOptions), and the dataset statistics it normalises with (NormalizationStats). Config code
// and tools include this header without paying for LibTorch.
namespace simscale::config {
class Schema;
}

namespace simscale::models {

// What a policy consumes and produces. Filled from the dataset (state/action sizes, observation
// keys, cameras), the config and the environment (action bounds); stored in checkpoints so a loaded
// policy knows its interface.
struct ModelSpec {
  // Observation keys, history, cameras and image sizes, language, action horizon, env: the
  // policy contract (common/policies), saved in its own section of a checkpoint.
  policies::PolicySpec policy;
  int64_t state_dim = 0;   // flattened proprioceptive state (state_keys x history)
  int64_t action_dim = 0;  // one action
  // Auxiliary targets predicted from the features during training (ModelOptions::target_keys
  // concatenated); 0: none.
  int64_t target_dim = 0;
  // Raw action bounds per dimension; predictions are clamped to them. Empty means [-1, 1].
  std::vector<double> action_low;
  std::vector<double> action_high;

  // The bounds with the [-1, 1] default applied (action_dim entries each).
  std::vector<double> ResolvedActionLow() const;
  std::vector<double> ResolvedActionHigh() const;
};

// Behaviour cloning: an MLP over the (normalised) state, optionally concatenated with a CNN
// embedding of each camera image. Defaults follow the Python original (seed-spec §6.2).
struct BcOptions {
  int64_t hidden_dim = 256;
  int64_t num_layers = 3;  // hidden layers of the action MLP (the state encoder has two)
  int64_t image_embed_dim = 128;
  double dropout = 0.1;
  std::string loss = "mse";  // mse | l1 (the MLP head's regression loss)
};

// Vision-language-action transformer. The defaults are the Python original's 1.4M-parameter
// train_vla model (image 64, patch 8, width 128, 4 heads, 2 layers, state token).
struct VlaOptions {
  // Image tokens: "patch" embeds non-overlapping patches linearly (ViT, the original); "conv" runs
  // log2(patch_size) stride-2 3x3 convolutions (ConvStem): the same token grid, better at small
  // objects and with few demonstrations.
  // "keypoints": a small CNN whose feature maps become keypoint coordinates by spatial softmax,
  // one token per keypoint (KeypointStem).
  std::string stem = "patch";
  int64_t keypoints = 32;  // stem "keypoints": tokens per camera
  int64_t patch_size = 8;
  int64_t embed_dim = 128;
  int64_t num_heads = 4;
  int64_t num_layers = 2;       // vision transformer layers
  int64_t language_layers = 2;  // language transformer layers
  int64_t fusion_layers = 0;    // 0: max(num_layers / 2, 2), as in the original
  double mlp_ratio = 4.0;
  double dropout = 0.1;
  // Embedding rows. The character tokenizer uses ids 0..43; 1000 keeps the original's parameter
  // count (the unused rows are never read).
  int64_t vocab_size = 1000;
  int64_t max_text_len = 64;
  bool state_token = true;  // add a token for the state (needs spec.state_dim > 0)
  // Also hand the state token's embedding straight to the action head, beside the fused feature
  // (needs state_token): the head reads proprioception directly, the fusion adds what it sees and
  // reads.
  bool state_skip = false;
  // Also hand the action head every camera's keypoint coordinates (K x 2 per camera, in [-1, 1]),
  // beside the fused feature: robomimic's spatial-softmax path, a direct route from where the
  // stem's feature maps fire to the action, which the fusion cannot dilute. Needs stem keypoints.
  bool keypoint_skip = false;
  // Condition the keypoint stem on the instruction (FiLM on its hidden convolutions, from a bag of
  // hashed words of the instruction, WordBag), so that its keypoints can fire on the cube and pad
  // the instruction names. Needs uses_language and stem keypoints.
  bool film = false;
  int64_t word_buckets = 2048;  // film: the word vectors' table rows
  // Conditioned keypoints per image, after the K fixed ones (needs film): each one's map is a
  // filter over the stem's last features and the pixel position computed from the instruction's
  // words, so it can point at the named cube or pad (KeypointStem). Their coordinates join the
  // keypoint tokens and, with keypoint_skip, the head's input.
  int64_t pointers = 0;

  int64_t ResolvedFusionLayers() const;
};

// The action head turns a feature vector into a chunk of H actions.
struct ActionHeadOptions {
  std::string type = "mlp";  // mlp | diffusion
  // Diffusion head (DDPM training, DDIM sampling).
  int64_t hidden_dim = 256;
  int64_t num_layers = 4;  // residual blocks
  int64_t diffusion_steps = 100;
  std::string schedule = "linear";  // linear | cosine
  double beta_start = 1e-4;         // linear schedule
  double beta_end = 0.02;
  int64_t inference_steps = 10;  // DDIM steps at inference, <= diffusion_steps
};

struct ModelOptions {
  ModelSpec spec;
  // A vision policy: its state input is proprioception only (policies::ProprioceptiveStateKeys,
  // also the default state keys); asking for another key is a config error. A training-time
  // constraint, not saved in the model's options (the saved state keys show it).
  bool vision = false;
  // Observation keys the model learns to predict from its features as an auxiliary loss (e.g.
  // object_pos and target_pos: where the named cube and pad are), weighted by target_weight. A
  // training signal only: they are never inputs, and inference does not compute them.
  std::vector<std::string> target_keys;
  double target_weight = 1.0;
  BcOptions bc;
  VlaOptions vla;
  ActionHeadOptions head;
};

// Throws InvalidArgumentError naming the first inconsistent field of `options` for `model_name`.
void ValidateModelOptions(const std::string& model_name, const ModelOptions& options);

// Declares every option under "model." (model.state_dim, model.cameras, model.bc.hidden_dim,
// model.vla.embed_dim, model.head.type, ...) with its range; values land in *options. state_dim
// and action_dim default to 0, meaning "from the dataset". model.cameras, model.image_size,
// model.uses_language and model.action_horizon set fields of spec.policy.
void DeclareModelOptions(config::Schema* schema, ModelOptions* options);

// Nested YAML text ("model: {state_dim: ..., bc: {...}, ...}") with every option except the policy
// contract (spec.policy, saved beside it by the checkpoint), and back. Reading is strict: unknown
// keys and wrong types are errors; missing keys keep their defaults. `with_policy_keys` reads the
// layout of checkpoint format 1, where cameras, image_size, uses_language and action_horizon were
// model options.
std::string ModelOptionsToYaml(const ModelOptions& options);
ModelOptions ModelOptionsFromYaml(const std::string& yaml_text, const std::string& source,
                                  bool with_policy_keys = false);

// Dataset statistics for normalisation, per dimension. States are standardised with mean/std.
// Actions are standardised with mean/std, or mapped to [-1, 1] with min/max when `action_min` and
// `action_max` are given (min/max wins if both are present). Standard deviations (and ranges)
// below 1e-6 count as 1 so constant dimensions do not blow up.
struct NormalizationStats {
  std::vector<double> state_mean;
  std::vector<double> state_std;
  std::vector<double> action_mean;
  std::vector<double> action_std;
  std::vector<double> action_min;
  std::vector<double> action_max;
  std::vector<double> target_mean;  // auxiliary targets (spec.target_dim > 0): standardised
  std::vector<double> target_std;
};

}  // namespace simscale::models
