#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/models/action_heads.h"
#include "common/models/model_options.h"

// The contract every policy network follows, and the registry that builds them by name.
namespace simscale::models {

// One batch of observations (and, for training, target actions), in raw units.
struct Batch {
  torch::Tensor state;                          // (B, S) float32, raw
  std::map<std::string, torch::Tensor> images;  // camera -> (B, 3, H, W) float32 in [0, 1]
  torch::Tensor language_tokens;                // (B, L) int64, 0 = padding; may be undefined
  torch::Tensor language_mask;                  // (B, L) bool, true = real token; may be undefined
  torch::Tensor actions;  // (B, A) or (B, H, A) raw targets; undefined at inference
  // (B, spec.target_dim) raw auxiliary targets (model.target_keys at the sample's step), training
  // only; undefined otherwise (and always at inference).
  torch::Tensor targets;

  // A copy with every defined tensor on `device`.
  Batch To(const torch::Device& device) const;
  int64_t size() const;  // B, from the first defined tensor
};

struct ForwardOutput {
  torch::Tensor loss;  // scalar, what training minimises; undefined when the batch has no actions
  // The auxiliary part: mean squared error of the predicted targets in normalised units (loss
  // holds it times model.target_weight). Undefined when the batch has no targets.
  torch::Tensor target_loss;
  torch::Tensor predicted_actions;  // raw units, detached; shaped like batch.actions if given,
                                    // else (B, H, A)
  std::map<std::string, double> metrics;  // action_mse, action_mae (raw units), if requested
};

// Per-dimension affine maps that put states and actions in normalised units, and the action
// bounds. Buffers, so they are saved and loaded with the parameters and follow .to(device).
class NormalizerImpl : public torch::nn::Module {
 public:
  explicit NormalizerImpl(const ModelSpec& spec);
  void Set(const NormalizationStats& stats);
  NormalizationStats Get() const;

  torch::Tensor NormalizeState(const torch::Tensor& state) const;
  torch::Tensor NormalizeActions(const torch::Tensor& actions) const;
  torch::Tensor DenormalizeActions(const torch::Tensor& actions) const;
  torch::Tensor ClampActions(const torch::Tensor& raw_actions) const;
  torch::Tensor NormalizeTargets(const torch::Tensor& targets) const;
  // The raw action bounds in normalised units, (A) each.
  torch::Tensor NormalizedLow() const;
  torch::Tensor NormalizedHigh() const;

 private:
  torch::Tensor state_mean_, state_std_;
  torch::Tensor action_offset_, action_scale_;
  torch::Tensor action_low_, action_high_;
  torch::Tensor target_mean_, target_std_;  // registered when spec.target_dim > 0
};
TORCH_MODULE(Normalizer);

// A policy: encodes an observation into features, and an action head turns features into a chunk
// of actions. Subclasses provide Encode() and the head; the base class validates batches,
// normalises inputs and targets, and implements Forward and Predict.
class Policy : public torch::nn::Module {
 public:
  Policy(std::string name, ModelOptions options);
  ~Policy() override = default;

  // Training pass: loss (in normalised action units) against batch.actions, plus
  // model.target_weight times the auxiliary target loss when the batch has targets; predicted
  // actions (raw units) and metrics. Runs in the module's current mode (train/eval) and grad mode.
  // Metrics cost a device-to-host copy (a synchronisation on CUDA); with_metrics = false skips
  // them, e.g. on steps that are not logged.
  ForwardOutput Forward(const Batch& batch, bool with_metrics = true);
  // Inference: raw actions (B, H, A), clamped to the action bounds, on the device of
  // batch.state (or of the first image). Runs in eval mode without gradients, then restores the
  // previous train/eval mode. The batch may live on any device.
  torch::Tensor Predict(const Batch& batch);
  // The head's deterministic action chunk (B, H, A) in raw units, unclamped and differentiable,
  // in the module's current mode, on the model's device: what RL fine-tuning (ppo_vec) takes as
  // the mean of its Gaussian policy. InvalidArgumentError for heads without one (diffusion).
  torch::Tensor ActionMean(const Batch& batch);

  const std::string& name() const { return name_; }
  const ModelSpec& spec() const { return options_.spec; }
  const ModelOptions& options() const { return options_; }

  // Dataset statistics; empty vectors leave that part as it is (identity by default).
  void SetNormalization(const NormalizationStats& stats);
  // The normalisation currently held (actions as mean/std form: offset and scale).
  NormalizationStats normalization() const;

  ActionHead& head() { return *head_; }
  torch::Device device() const;
  int64_t ParameterCount() const;

  // Throws InvalidArgumentError describing every problem with the batch's shapes and types.
  void ValidateBatch(const Batch& batch, bool require_actions) const;

 protected:
  // Features (B, F) from an observation whose state is already normalised.
  virtual torch::Tensor Encode(const Batch& batch, const torch::Tensor& normalized_state) = 0;
  // The action head, for features of width `feature_dim`; with spec.target_dim > 0 also a linear
  // map from the features to the auxiliary targets (trained by Forward, never used by Predict).
  void SetHead(std::shared_ptr<ActionHead> head, int64_t feature_dim);

 private:
  std::string name_;
  ModelOptions options_;
  Normalizer normalizer_{nullptr};
  std::shared_ptr<ActionHead> head_;
  torch::nn::Linear target_head_{nullptr};
};

// Builds the action head named by options.head for features of width `feature_dim`. `mlp` is
// used when head.type is "mlp".
std::shared_ptr<ActionHead> MakeActionHead(const ModelOptions& options, int64_t feature_dim,
                                           const MlpHeadOptions& mlp);

// --- Registry
// -------------------------------------------------------------------------------------

using ModelFactory = std::function<std::shared_ptr<Policy>(const ModelOptions&)>;

// Registered model names, sorted ("bc", "vla", and any added with RegisterModel).
std::vector<std::string> ListModels();
// Validates `options` for `name` and builds the model (on the CPU). Unknown names throw an
// InvalidArgumentError that lists the valid ones.
std::shared_ptr<Policy> MakeModel(const std::string& name, const ModelOptions& options);
// Adds a model; the built-in ones are registered explicitly on first use of the registry (no
// static initialisers, which static libraries would drop). Throws if `name` is taken.
void RegisterModel(const std::string& name, ModelFactory factory);

}  // namespace simscale::models
