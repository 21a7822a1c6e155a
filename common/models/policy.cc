#include "common/models/policy.h"

#include <algorithm>
#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/models/bc.h"
#include "common/models/vla.h"

namespace simscale::models {
namespace {

constexpr double kMinScale = 1e-6;

torch::Tensor ToTensor(const std::vector<double>& values) {
  return torch::tensor(std::vector<float>(values.begin(), values.end()), torch::kFloat);
}

std::vector<double> ToVector(const torch::Tensor& tensor) {
  const auto cpu = tensor.detach().to(torch::kCPU, torch::kDouble).contiguous();
  return std::vector<double>(cpu.data_ptr<double>(), cpu.data_ptr<double>() + cpu.numel());
}

// Scales below kMinScale (constant dimensions) become 1.
torch::Tensor GuardScale(const torch::Tensor& scale) {
  return torch::where(scale.abs() < kMinScale, torch::ones_like(scale), scale);
}

std::string Shape(const torch::Tensor& t) { return ShapeString(t); }

}  // namespace

// --- Batch
// ----------------------------------------------------------------------------------------

Batch Batch::To(const torch::Device& device) const {
  auto move = [&](const torch::Tensor& t) { return t.defined() ? t.to(device) : t; };
  Batch out;
  out.state = move(state);
  for (const auto& [camera, image] : images) out.images[camera] = move(image);
  out.language_tokens = move(language_tokens);
  out.language_mask = move(language_mask);
  out.actions = move(actions);
  out.targets = move(targets);
  return out;
}

int64_t Batch::size() const {
  if (state.defined()) return state.size(0);
  for (const auto& [camera, image] : images) {
    if (image.defined()) return image.size(0);
  }
  if (language_tokens.defined()) return language_tokens.size(0);
  if (actions.defined()) return actions.size(0);
  return 0;
}

// --- Normalizer
// -----------------------------------------------------------------------------------

NormalizerImpl::NormalizerImpl(const ModelSpec& spec) {
  const int64_t s = spec.state_dim, a = spec.action_dim;
  state_mean_ = register_buffer("state_mean", torch::zeros({s}));
  state_std_ = register_buffer("state_std", torch::ones({s}));
  action_offset_ = register_buffer("action_offset", torch::zeros({a}));
  action_scale_ = register_buffer("action_scale", torch::ones({a}));
  action_low_ = register_buffer("action_low", ToTensor(spec.ResolvedActionLow()));
  action_high_ = register_buffer("action_high", ToTensor(spec.ResolvedActionHigh()));
  if (spec.target_dim > 0) {
    target_mean_ = register_buffer("target_mean", torch::zeros({spec.target_dim}));
    target_std_ = register_buffer("target_std", torch::ones({spec.target_dim}));
  }
}

void NormalizerImpl::Set(const NormalizationStats& stats) {
  const auto s = static_cast<size_t>(state_mean_.size(0));
  const auto a = static_cast<size_t>(action_offset_.size(0));
  auto check = [](const std::vector<double>& v, size_t n, const char* what) {
    CheckArgument(v.size() == n, fmt::format("normalization {}", what),
                  fmt::format("{} values", v.size()), fmt::format("{} values", n));
  };
  torch::NoGradGuard no_grad;
  if (!stats.state_mean.empty() || !stats.state_std.empty()) {
    check(stats.state_mean, s, "state_mean");
    check(stats.state_std, s, "state_std");
    state_mean_.copy_(ToTensor(stats.state_mean));
    state_std_.copy_(GuardScale(ToTensor(stats.state_std)));
  }
  if (!stats.action_min.empty() || !stats.action_max.empty()) {
    check(stats.action_min, a, "action_min");
    check(stats.action_max, a, "action_max");
    const auto low = ToTensor(stats.action_min), high = ToTensor(stats.action_max);
    action_offset_.copy_((high + low) / 2);
    action_scale_.copy_(GuardScale((high - low) / 2));
  } else if (!stats.action_mean.empty() || !stats.action_std.empty()) {
    check(stats.action_mean, a, "action_mean");
    check(stats.action_std, a, "action_std");
    action_offset_.copy_(ToTensor(stats.action_mean));
    action_scale_.copy_(GuardScale(ToTensor(stats.action_std)));
  }
  if (!stats.target_mean.empty() || !stats.target_std.empty()) {
    const auto t = target_mean_.defined() ? static_cast<size_t>(target_mean_.size(0)) : 0;
    check(stats.target_mean, t, "target_mean");
    check(stats.target_std, t, "target_std");
    target_mean_.copy_(ToTensor(stats.target_mean));
    target_std_.copy_(GuardScale(ToTensor(stats.target_std)));
  }
}

NormalizationStats NormalizerImpl::Get() const {
  NormalizationStats stats;
  stats.state_mean = ToVector(state_mean_);
  stats.state_std = ToVector(state_std_);
  stats.action_mean = ToVector(action_offset_);
  stats.action_std = ToVector(action_scale_);
  if (target_mean_.defined()) {
    stats.target_mean = ToVector(target_mean_);
    stats.target_std = ToVector(target_std_);
  }
  return stats;
}

torch::Tensor NormalizerImpl::NormalizeState(const torch::Tensor& state) const {
  return (state - state_mean_) / state_std_;
}
torch::Tensor NormalizerImpl::NormalizeActions(const torch::Tensor& actions) const {
  return (actions - action_offset_) / action_scale_;
}
torch::Tensor NormalizerImpl::DenormalizeActions(const torch::Tensor& actions) const {
  return actions * action_scale_ + action_offset_;
}
torch::Tensor NormalizerImpl::ClampActions(const torch::Tensor& raw_actions) const {
  return torch::max(torch::min(raw_actions, action_high_), action_low_);
}
torch::Tensor NormalizerImpl::NormalizeTargets(const torch::Tensor& targets) const {
  return (targets - target_mean_) / target_std_;
}
torch::Tensor NormalizerImpl::NormalizedLow() const { return NormalizeActions(action_low_); }
torch::Tensor NormalizerImpl::NormalizedHigh() const { return NormalizeActions(action_high_); }

// --- Policy
// ---------------------------------------------------------------------------------------

Policy::Policy(std::string name, ModelOptions options)
    : name_(std::move(name)), options_(std::move(options)) {
  normalizer_ = register_module("normalizer", Normalizer(options_.spec));
}

void Policy::SetHead(std::shared_ptr<ActionHead> head, int64_t feature_dim) {
  head_ = register_module("head", std::move(head));
  if (spec().target_dim > 0) {
    target_head_ =
        register_module("target_head", torch::nn::Linear(feature_dim, spec().target_dim));
  }
}

void Policy::SetNormalization(const NormalizationStats& stats) { normalizer_->Set(stats); }
NormalizationStats Policy::normalization() const { return normalizer_->Get(); }

torch::Device Policy::device() const {
  const auto params = parameters();
  if (!params.empty()) return params.front().device();
  const auto bufs = buffers();
  return bufs.empty() ? torch::Device(torch::kCPU) : bufs.front().device();
}

int64_t Policy::ParameterCount() const {
  int64_t count = 0;
  for (const auto& p : parameters()) count += p.numel();
  return count;
}

void Policy::ValidateBatch(const Batch& batch, bool require_actions) const {
  const ModelSpec& s = spec();
  std::vector<std::string> problems;
  const int64_t b = batch.size();
  auto expect = [&](bool ok, const std::string& what) {
    if (!ok) problems.push_back(what);
  };
  if (s.state_dim > 0) {
    const auto& t = batch.state;
    expect(t.defined() && t.dim() == 2 && t.size(0) == b && t.size(1) == s.state_dim &&
               t.is_floating_point(),
           fmt::format("state: expected float (B={}, {}), got {}", b, s.state_dim, Shape(t)));
  }
  for (const auto& camera : s.policy.cameras) {
    const auto it = batch.images.find(camera);
    if (it == batch.images.end()) {
      std::vector<std::string> present;
      for (const auto& [name, image] : batch.images) present.push_back(name);
      problems.push_back(fmt::format("images: camera '{}' missing (batch has [{}])", camera,
                                     fmt::join(present, ", ")));
      continue;
    }
    const auto& t = it->second;
    expect(t.defined() && t.dim() == 4 && t.size(0) == b && t.size(1) == 3 &&
               t.size(2) == s.policy.image_size && t.size(3) == s.policy.image_size &&
               t.is_floating_point(),
           fmt::format("images['{}']: expected float (B={}, 3, {}, {}), got {}", camera, b,
                       s.policy.image_size, s.policy.image_size, Shape(t)));
  }
  if (s.policy.uses_language) {
    const auto& t = batch.language_tokens;
    expect(t.defined() && t.dim() == 2 && t.size(0) == b && t.size(1) >= 1 &&
               t.scalar_type() == torch::kInt64,
           fmt::format("language_tokens: expected int64 (B={}, L), got {}", b, Shape(t)));
    const auto& m = batch.language_mask;
    expect(
        !m.defined() || (t.defined() && m.sizes() == t.sizes() && m.scalar_type() == torch::kBool),
        fmt::format("language_mask: expected bool shaped like the tokens {}, got {}", Shape(t),
                    Shape(m)));
  }
  const auto& a = batch.actions;
  if (a.defined()) {
    const bool single = a.dim() == 2 && s.policy.action_horizon == 1 && a.size(1) == s.action_dim;
    const bool chunk =
        a.dim() == 3 && a.size(1) == s.policy.action_horizon && a.size(2) == s.action_dim;
    expect(a.size(0) == b && (single || chunk) && a.is_floating_point(),
           fmt::format("actions: expected float (B={}, {}, {}){}, got {}", b,
                       s.policy.action_horizon, s.action_dim,
                       s.policy.action_horizon == 1 ? fmt::format(" or (B, {})", s.action_dim) : "",
                       Shape(a)));
  } else if (require_actions) {
    problems.push_back("actions: undefined, but the training pass needs targets");
  }
  const auto& t = batch.targets;
  if (t.defined()) {
    expect(s.target_dim > 0, "targets: given, but the model predicts none (model.target_keys)");
    expect(s.target_dim == 0 || (t.dim() == 2 && t.size(0) == b && t.size(1) == s.target_dim &&
                                 t.is_floating_point()),
           fmt::format("targets: expected float (B={}, {}), got {}", b, s.target_dim, Shape(t)));
  }
  if (b == 0) problems.push_back("batch: empty (no defined tensor, or B = 0)");
  if (!problems.empty()) {
    throw InvalidArgumentError(fmt::format("{} batch: {}", name_, fmt::join(problems, "; ")));
  }
}

ForwardOutput Policy::Forward(const Batch& batch, bool with_metrics) {
  ValidateBatch(batch, /*require_actions=*/false);
  const ModelSpec& s = spec();
  const int64_t b = batch.size();
  const auto state = s.state_dim > 0 ? normalizer_->NormalizeState(batch.state) : torch::Tensor();
  const auto features = Encode(batch, state);
  ForwardOutput out;
  if (!batch.actions.defined()) {
    const auto sampled =
        head_->Sample(features, normalizer_->NormalizedLow(), normalizer_->NormalizedHigh());
    out.predicted_actions =
        normalizer_->ClampActions(normalizer_->DenormalizeActions(sampled)).detach();
    return out;
  }
  const auto targets_raw = batch.actions.reshape({b, s.policy.action_horizon, s.action_dim});
  const auto head_out = head_->Loss(features, normalizer_->NormalizeActions(targets_raw));
  out.loss = head_out.loss;
  if (batch.targets.defined()) {
    out.target_loss = torch::mse_loss(target_head_(features).to(torch::kFloat32),
                                      normalizer_->NormalizeTargets(batch.targets));
    out.loss = out.loss + options_.target_weight * out.target_loss;
  }
  torch::NoGradGuard no_grad;
  const auto predicted =
      normalizer_->ClampActions(normalizer_->DenormalizeActions(head_out.prediction));
  out.predicted_actions = predicted.view(batch.actions.sizes());
  if (with_metrics) {
    const auto error = (predicted - targets_raw).to(torch::kFloat);
    const auto summary =
        torch::stack({error.pow(2).mean(), error.abs().mean()}).to(torch::kCPU, torch::kDouble);
    out.metrics["action_mse"] = summary[0].item<double>();
    out.metrics["action_mae"] = summary[1].item<double>();
  }
  return out;
}

torch::Tensor Policy::Predict(const Batch& batch) {
  // Eval mode for the call, then back to what it was.
  struct ModeRestorer {
    Policy* policy;
    bool was_training;
    ~ModeRestorer() { policy->train(was_training); }
  } restorer{this, is_training()};
  eval();
  torch::NoGradGuard no_grad;

  torch::Device out_device = torch::kCPU;
  if (batch.state.defined()) {
    out_device = batch.state.device();
  } else if (!batch.images.empty()) {
    out_device = batch.images.begin()->second.device();
  }
  const torch::Device model_device = device();
  const Batch local = model_device == out_device ? batch : batch.To(model_device);
  ValidateBatch(local, /*require_actions=*/false);
  const auto state =
      spec().state_dim > 0 ? normalizer_->NormalizeState(local.state) : torch::Tensor();
  const auto features = Encode(local, state);
  const auto sampled =
      head_->Sample(features, normalizer_->NormalizedLow(), normalizer_->NormalizedHigh());
  return normalizer_->ClampActions(normalizer_->DenormalizeActions(sampled)).to(out_device);
}

torch::Tensor Policy::ActionMean(const Batch& batch) {
  ValidateBatch(batch, /*require_actions=*/false);
  const auto state =
      spec().state_dim > 0 ? normalizer_->NormalizeState(batch.state) : torch::Tensor();
  return normalizer_->DenormalizeActions(head_->Mean(Encode(batch, state)));
}

std::shared_ptr<ActionHead> MakeActionHead(const ModelOptions& options, int64_t feature_dim,
                                           const MlpHeadOptions& mlp) {
  const ModelSpec& s = options.spec;
  if (options.head.type == "diffusion") {
    return std::make_shared<DiffusionActionHead>(feature_dim, options.head, s.policy.action_horizon,
                                                 s.action_dim);
  }
  CheckArgument(options.head.type == "mlp", "model.head.type", options.head.type,
                "one of mlp, diffusion");
  return std::make_shared<MlpActionHead>(mlp, s.policy.action_horizon, s.action_dim);
}

// --- Registry
// -------------------------------------------------------------------------------------

namespace {

struct Registry {
  std::mutex mutex;
  std::map<std::string, ModelFactory> factories;
};

// The built-in models, registered explicitly here: a static initialiser in bc.cc or vla.cc would be
// dropped by the linker from a static library that nothing else references.
void RegisterBuiltinModels(Registry* registry) {
  registry->factories["bc"] = [](const ModelOptions& o) {
    return std::make_shared<BcPolicy>(o, "bc");
  };
  registry->factories["vla"] = [](const ModelOptions& o) {
    return std::make_shared<VlaPolicy>(o, "vla");
  };
}

Registry& GetRegistry() {
  static Registry* registry = [] {
    auto* r = new Registry;  // never destroyed: factories may be used until exit
    RegisterBuiltinModels(r);
    return r;
  }();
  return *registry;
}

}  // namespace

std::vector<std::string> ListModels() {
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  std::vector<std::string> names;
  for (const auto& [name, factory] : registry.factories) names.push_back(name);
  return names;  // std::map: sorted
}

std::shared_ptr<Policy> MakeModel(const std::string& name, const ModelOptions& options) {
  ModelFactory factory;
  {
    Registry& registry = GetRegistry();
    std::lock_guard<std::mutex> lock(registry.mutex);
    const auto it = registry.factories.find(name);
    if (it == registry.factories.end()) {
      std::vector<std::string> names;
      for (const auto& [known, f] : registry.factories) names.push_back(known);
      throw InvalidArgumentError(
          fmt::format("unknown model '{}'; valid models: {}", name, fmt::join(names, ", ")));
    }
    factory = it->second;
  }
  ValidateModelOptions(name, options);
  return factory(options);
}

void RegisterModel(const std::string& name, ModelFactory factory) {
  CheckArgument(!name.empty(), "model name", name, "a non-empty name");
  Registry& registry = GetRegistry();
  std::lock_guard<std::mutex> lock(registry.mutex);
  CheckArgument(registry.factories.count(name) == 0, "model name", name,
                "a name not registered yet");
  registry.factories[name] = std::move(factory);
}

}  // namespace simscale::models
