#include "common/models/model_options.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/config/config.h"
#include "common/core/error.h"

namespace simscale::models {
namespace {

std::vector<double> Resolved(const std::vector<double>& bounds, int64_t action_dim, double fill) {
  if (!bounds.empty()) return bounds;
  return std::vector<double>(static_cast<size_t>(std::max<int64_t>(action_dim, 0)), fill);
}

// Checks shared by the schema (as a cross-key check) and ValidateModelOptions.
void ValidateShared(const ModelOptions& o) {
  const ModelSpec& s = o.spec;
  CheckArgument(s.action_low.size() == s.action_high.size(), "model.action_low/action_high",
                fmt::format("{} and {} values", s.action_low.size(), s.action_high.size()),
                "the same number of lower and upper bounds");
  for (size_t i = 0; i < s.action_low.size(); ++i) {
    CheckArgument(s.action_low[i] < s.action_high[i], fmt::format("model.action_low[{}]", i),
                  s.action_low[i], fmt::format("< action_high[{}] = {}", i, s.action_high[i]));
  }
  CheckArgument(!o.vision || !s.policy.cameras.empty(), "model.vision", "true",
                "false, or at least one camera in model.cameras (a vision policy sees)");
  CheckArgument(o.head.inference_steps <= o.head.diffusion_steps, "model.head.inference_steps",
                o.head.inference_steps,
                fmt::format("<= model.head.diffusion_steps = {}", o.head.diffusion_steps));
  CheckArgument(o.vla.embed_dim % o.vla.num_heads == 0, "model.vla.embed_dim", o.vla.embed_dim,
                fmt::format("a multiple of model.vla.num_heads = {}", o.vla.num_heads));
}

}  // namespace

std::vector<double> ModelSpec::ResolvedActionLow() const {
  return Resolved(action_low, action_dim, -1.0);
}
std::vector<double> ModelSpec::ResolvedActionHigh() const {
  return Resolved(action_high, action_dim, 1.0);
}

int64_t VlaOptions::ResolvedFusionLayers() const {
  return fusion_layers > 0 ? fusion_layers : std::max<int64_t>(num_layers / 2, 2);
}

void ValidateModelOptions(const std::string& model_name, const ModelOptions& o) {
  const ModelSpec& s = o.spec;
  const policies::PolicySpec& p = s.policy;
  CheckArgument(s.action_dim >= 1, "model.action_dim", s.action_dim,
                "an integer >= 1 (set it, or let the dataset fill it)");
  CheckArgument(p.action_horizon >= 1, "model.action_horizon", p.action_horizon, "an integer >= 1");
  CheckArgument(s.state_dim >= 0, "model.state_dim", s.state_dim, "an integer >= 0");
  CheckArgument(s.target_dim >= 1 || o.target_keys.empty(), "model.target_dim", s.target_dim,
                "an integer >= 1 with model.target_keys (set it, or let the dataset fill it)");
  CheckArgument(s.target_dim == 0 || !o.target_keys.empty(), "model.target_dim", s.target_dim,
                "0 without model.target_keys");
  CheckArgument(s.action_low.empty() || static_cast<int64_t>(s.action_low.size()) == s.action_dim,
                "model.action_low", fmt::format("{} values", s.action_low.size()),
                fmt::format("empty or model.action_dim = {} values", s.action_dim));
  ValidateShared(o);
  std::vector<std::string> seen;
  for (const auto& camera : p.cameras) {
    CheckArgument(!camera.empty(), "model.cameras", camera, "non-empty camera names");
    CheckArgument(std::find(seen.begin(), seen.end(), camera) == seen.end(), "model.cameras",
                  camera, "distinct camera names");
    seen.push_back(camera);
  }
  policies::ValidatePolicySpec(p, "model.policy");
  CheckArgument(o.head.type == "mlp" || o.head.type == "diffusion", "model.head.type", o.head.type,
                "one of mlp, diffusion");
  CheckArgument(o.head.schedule == "linear" || o.head.schedule == "cosine", "model.head.schedule",
                o.head.schedule, "one of linear, cosine");

  if (model_name == "bc") {
    CheckArgument(s.state_dim >= 1 || !p.cameras.empty(), "model.state_dim", s.state_dim,
                  "an integer >= 1 for a bc model without cameras");
    CheckArgument(!p.uses_language, "model.uses_language", p.uses_language,
                  "false for a bc model (use vla for language)");
    CheckArgument(p.cameras.empty() || p.image_size >= 32, "model.image_size", p.image_size,
                  ">= 32 for the bc image encoder");
    CheckArgument(o.bc.loss == "mse" || o.bc.loss == "l1", "model.bc.loss", o.bc.loss,
                  "one of mse, l1");
  } else if (model_name == "vla") {
    CheckArgument(!p.cameras.empty(), "model.cameras", "[]", "at least one camera for a vla model");
    CheckArgument(p.image_size % o.vla.patch_size == 0, "model.image_size", p.image_size,
                  fmt::format("a multiple of model.vla.patch_size = {}", o.vla.patch_size));
    CheckArgument(o.vla.stem != "conv" ||
                      (o.vla.patch_size >= 2 && (o.vla.patch_size & (o.vla.patch_size - 1)) == 0),
                  "model.vla.patch_size", o.vla.patch_size,
                  "a power of two >= 2 with model.vla.stem = conv");
    CheckArgument(!o.vla.state_skip || o.vla.state_token, "model.vla.state_skip", "true",
                  "false when model.vla.state_token is false");
    CheckArgument(!o.vla.keypoint_skip || o.vla.stem == "keypoints", "model.vla.keypoint_skip",
                  "true", "false unless model.vla.stem is keypoints");
    CheckArgument(!o.vla.film || (p.uses_language && o.vla.stem == "keypoints"), "model.vla.film",
                  "true",
                  "false unless model.uses_language is true and model.vla.stem is keypoints");
    CheckArgument(o.vla.pointers == 0 || o.vla.film, "model.vla.pointers", o.vla.pointers,
                  "0 unless model.vla.film is true (the pointers read the instruction's words)");
    CheckArgument(!o.vla.state_token || s.state_dim >= 1, "model.state_dim", s.state_dim,
                  "an integer >= 1 when model.vla.state_token is true");
    CheckArgument(o.vla.vocab_size >= 44, "model.vla.vocab_size", o.vla.vocab_size,
                  ">= 44 (the character tokenizer's ids 0..43)");
  }
}

namespace {

// The options of the policy contract that are also model options of a tool's config.
void DeclarePolicyKeys(config::Schema* schema, policies::PolicySpec* p) {
  schema->Add("model.action_horizon", &p->action_horizon, "actions predicted per observation")
      .Min(1)
      .Max(1024);
  schema->Add("model.cameras", &p->cameras, "camera images the model sees (empty: none)");
  schema->Add("model.image_size", &p->image_size, "square image side in pixels").Min(8).Max(1024);
  schema->Add("model.uses_language", &p->uses_language, "condition on a language instruction");
}

void DeclareVlaOptions(config::Schema* schema, VlaOptions* vla) {
  schema
      ->Add("model.vla.stem", &vla->stem,
            "image tokens: linear patches, convolutions or spatial-softmax keypoints")
      .OneOf({"patch", "conv", "keypoints"});
  schema->Add("model.vla.keypoints", &vla->keypoints, "keypoint tokens per camera (stem keypoints)")
      .Min(1)
      .Max(1024);
  schema->Add("model.vla.patch_size", &vla->patch_size, "vision patch side").Min(1).Max(256);
  schema->Add("model.vla.embed_dim", &vla->embed_dim, "transformer width").Min(8).Max(65536);
  schema->Add("model.vla.num_heads", &vla->num_heads, "attention heads").Min(1).Max(256);
  schema->Add("model.vla.num_layers", &vla->num_layers, "vision transformer layers")
      .Min(1)
      .Max(256);
  schema->Add("model.vla.language_layers", &vla->language_layers, "language transformer layers")
      .Min(1)
      .Max(256);
  schema
      ->Add("model.vla.fusion_layers", &vla->fusion_layers,
            "fusion transformer layers (0: max(num_layers/2, 2))")
      .Min(0)
      .Max(256);
  schema->Add("model.vla.mlp_ratio", &vla->mlp_ratio, "feed-forward width / embed_dim")
      .GreaterThan(0)
      .Max(64);
  schema->Add("model.vla.dropout", &vla->dropout, "vla dropout probability").Min(0).Max(0.99);
  schema->Add("model.vla.vocab_size", &vla->vocab_size, "token embedding rows")
      .Min(44)
      .Max(1 << 20);
  schema->Add("model.vla.max_text_len", &vla->max_text_len, "instruction length in characters")
      .Min(1)
      .Max(4096);
  schema->Add("model.vla.state_token", &vla->state_token, "add a state token to the fusion");
  schema->Add("model.vla.state_skip", &vla->state_skip,
              "also give the action head the state embedding (needs model.vla.state_token)");
  schema->Add("model.vla.keypoint_skip", &vla->keypoint_skip,
              "also give the action head every camera's keypoint coordinates (needs "
              "model.vla.stem keypoints)");
  schema->Add("model.vla.film", &vla->film,
              "the instruction's words modulate the keypoint stem's convolutions (FiLM; needs "
              "model.uses_language and model.vla.stem keypoints)");
  schema
      ->Add("model.vla.word_buckets", &vla->word_buckets,
            "film: rows of the hashed word-vector table")
      .Min(1)
      .Max(1 << 20);
  schema
      ->Add("model.vla.pointers", &vla->pointers,
            "keypoints per image whose maps the instruction's words choose (needs model.vla.film)")
      .Min(0)
      .Max(1024);
}

void DeclareModelOptions(config::Schema* schema, ModelOptions* options, bool policy_keys) {
  ModelSpec& s = options->spec;
  schema->Add("model.state_dim", &s.state_dim, "flattened state size (0: from the dataset)").Min(0);
  schema->Add("model.action_dim", &s.action_dim, "action size (0: from the dataset)").Min(0);
  if (policy_keys) {
    DeclarePolicyKeys(schema, &s.policy);
    schema->Add("model.vision", &options->vision,
                "vision policy: its state is proprioception only (ee_pos, gripper_state, "
                "joint_pos, joint_vel; the default data.state_keys), never object or target "
                "positions");
  }
  schema
      ->Add("model.target_dim", &s.target_dim,
            "auxiliary target size (0: from the dataset's model.target_keys)")
      .Min(0);
  schema->Add("model.target_keys", &options->target_keys,
              "observation keys the model learns to predict as an auxiliary loss (training "
              "only, never inputs; e.g. object_pos, target_pos)");
  schema->Add("model.target_weight", &options->target_weight, "weight of the auxiliary target loss")
      .Min(0)
      .Max(1e6);
  schema->Add("model.action_low", &s.action_low, "lower action bounds (empty: -1 per dimension)");
  schema->Add("model.action_high", &s.action_high, "upper action bounds (empty: 1 per dimension)");

  BcOptions& bc = options->bc;
  schema->Add("model.bc.hidden_dim", &bc.hidden_dim, "bc MLP width").Min(1).Max(65536);
  schema->Add("model.bc.num_layers", &bc.num_layers, "bc action MLP hidden layers").Min(1).Max(64);
  schema->Add("model.bc.image_embed_dim", &bc.image_embed_dim, "bc CNN embedding per camera")
      .Min(1)
      .Max(65536);
  schema->Add("model.bc.dropout", &bc.dropout, "bc dropout probability").Min(0).Max(0.99);
  schema->Add("model.bc.loss", &bc.loss, "bc regression loss").OneOf({"mse", "l1"});

  DeclareVlaOptions(schema, &options->vla);

  ActionHeadOptions& head = options->head;
  schema->Add("model.head.type", &head.type, "action head").OneOf({"mlp", "diffusion"});
  schema->Add("model.head.hidden_dim", &head.hidden_dim, "diffusion head width").Min(2).Max(65536);
  schema->Add("model.head.num_layers", &head.num_layers, "diffusion head residual blocks")
      .Min(1)
      .Max(256);
  schema->Add("model.head.diffusion_steps", &head.diffusion_steps, "DDPM training steps T")
      .Min(2)
      .Max(100000);
  schema->Add("model.head.schedule", &head.schedule, "noise schedule").OneOf({"linear", "cosine"});
  schema->Add("model.head.beta_start", &head.beta_start, "linear schedule first beta")
      .GreaterThan(0)
      .Max(0.5);
  schema->Add("model.head.beta_end", &head.beta_end, "linear schedule last beta")
      .GreaterThan(0)
      .Max(0.999);
  schema->Add("model.head.inference_steps", &head.inference_steps, "DDIM sampling steps")
      .Min(1)
      .Max(100000);
  schema->AddCheck([options] {
    try {
      ValidateShared(*options);
    } catch (const InvalidArgumentError& e) {
      throw config::ConfigError(e.what());
    }
  });
}

}  // namespace

void DeclareModelOptions(config::Schema* schema, ModelOptions* options) {
  DeclareModelOptions(schema, options, /*policy_keys=*/true);
}

std::string ModelOptionsToYaml(const ModelOptions& options) {
  ModelOptions copy = options;
  config::Schema schema("model", "model options");
  DeclareModelOptions(&schema, &copy, /*policy_keys=*/false);
  std::string text = schema.ToYaml();
  // Drop the schema's "# <tool> resolved configuration" comment line.
  if (!text.empty() && text.front() == '#') text.erase(0, text.find('\n') + 1);
  return text;
}

ModelOptions ModelOptionsFromYaml(const std::string& yaml_text, const std::string& source,
                                  bool with_policy_keys) {
  ModelOptions options;
  config::Schema schema("model", "model options");
  DeclareModelOptions(&schema, &options, with_policy_keys);
  schema.ApplyYaml(yaml_text, source);
  ValidateShared(options);
  return options;
}

}  // namespace simscale::models
