#include "common/policies/checkpoint_policy.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/envs/registry.h"

namespace simscale::policies {
namespace fs = std::filesystem;

std::string InputAblation::Describe() const {
  std::vector<std::string> parts;
  if (blank_instruction) parts.emplace_back("blank instruction");
  if (swap_instruction) parts.emplace_back("another task's instruction");
  for (const auto& camera : blackout_cameras) parts.push_back("black " + camera);
  return parts.empty() ? "none" : fmt::format("{}", fmt::join(parts, ", "));
}

CheckpointPolicy::CheckpointPolicy(fs::path checkpoint, std::unique_ptr<ActionModel> model,
                                   sim::GlBackend gl_backend, InputAblation ablation)
    : checkpoint_(std::move(checkpoint)),
      model_(std::move(model)),
      gl_backend_(gl_backend),
      ablation_(std::move(ablation)) {
  const PolicySpec& policy = model_->spec().policy;
  if ((ablation_.blank_instruction || ablation_.swap_instruction) && !policy.uses_language) {
    throw InvalidArgumentError(fmt::format(
        "policy {}: an instruction ablation needs a policy that reads its instruction; this one "
        "does not",
        checkpoint_.string()));
  }
  CheckArgument(!(ablation_.blank_instruction && ablation_.swap_instruction),
                "instruction ablation", "blank and swap", "one of them");
  for (const auto& camera : ablation_.blackout_cameras) {
    if (std::find(policy.cameras.begin(), policy.cameras.end(), camera) == policy.cameras.end()) {
      throw InvalidArgumentError(
          fmt::format("policy {}: cannot black out camera '{}': the policy sees [{}]",
                      checkpoint_.string(), camera, fmt::join(policy.cameras, ", ")));
    }
  }
  for (const auto& camera : policy.cameras) {
    blacked_out_.push_back(std::find(ablation_.blackout_cameras.begin(),
                                     ablation_.blackout_cameras.end(),
                                     camera) != ablation_.blackout_cameras.end());
  }
}

std::string CheckpointPolicy::name() const {
  return fmt::format("checkpoint:{}", checkpoint_.string());
}

void CheckpointPolicy::Bind(const sim::RobotEnv& env) {
  const models::ModelSpec& spec = model_->spec();
  const PolicySpec& policy = spec.policy;
  if (policy.state_keys.empty() && spec.state_dim > 0) {
    throw InvalidArgumentError(fmt::format(
        "policy {}: the checkpoint records no observation keys (not written by train_ddp)",
        checkpoint_.string()));
  }
  if (!policy.env.empty() && policy.env != env.name()) {
    throw InvalidArgumentError(fmt::format("policy {} was trained on env '{}', not '{}'",
                                           checkpoint_.string(), policy.env, env.name()));
  }
  CheckArgument(spec.action_dim == env.action_spec().size(), "policy action size", spec.action_dim,
                fmt::format("the env's {}", env.action_spec().size()));
  for (const auto& key : policy.state_keys) {
    offsets_.push_back(env.observation_spec().Offset(key));
    sizes_.push_back(env.observation_spec().SizeOf(key));
    frame_dim_ += sizes_.back();
  }
  CheckArgument(frame_dim_ * policy.history == spec.state_dim, "policy state size",
                frame_dim_ * policy.history,
                fmt::format("the model's state_dim {}", spec.state_dim));
  if (!policy.cameras.empty()) {
    sim::RenderOptions render;
    render.width = render.height = static_cast<int>(policy.ResolvedRenderSize());
    render.backend = gl_backend_;
    renderer_ = std::make_unique<sim::Renderer>(env.model(), render);
    for (const auto& camera : policy.cameras) camera_ids_.push_back(renderer_->CameraId(camera));
    images_.resize(policy.cameras.size());
  }
  chunk_.resize(static_cast<size_t>(policy.action_horizon * spec.action_dim));
  bound_ = true;
}

void CheckpointPolicy::Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) {
  if (!bound_) Bind(env);
  frames_.clear();
  chunks_.clear();
  ChooseInstruction(env, seed, episode_index);
}

void CheckpointPolicy::ChooseInstruction(const sim::RobotEnv& env, uint64_t seed,
                                         uint64_t episode_index) {
  instruction_ = env.instruction();
  if (ablation_.blank_instruction) instruction_ = " ";
  if (!ablation_.swap_instruction) return;
  if (!donor_) donor_ = envs::MakeEnv(env.name(), sim::EnvOptions{});
  const auto& spec = env.observation_spec();
  const bool has_task = spec.Has("task");
  const int offset = has_task ? spec.Offset("task") : 0;
  const int size = has_task ? spec.SizeOf("task") : 0;
  const double* task = env.observation() + offset;
  // One-hot task codes: a difference above 0.5 is another task, whatever the sensor noise.
  auto other_task = [&](const double* candidate) {
    for (int i = 0; i < size; ++i) {
      if (std::abs(candidate[i] - task[i]) > 0.5) return true;
    }
    return size == 0;
  };
  for (uint64_t k = 1; k <= 64; ++k) {
    donor_->Reset(seed, episode_index + k);
    instruction_ = donor_->instruction();
    if (other_task(donor_->observation() + offset)) return;
  }
}

void CheckpointPolicy::Act(const sim::RobotEnv& env, double* action) {
  const PolicySpec& policy = model_->spec().policy;
  std::vector<float> frame;
  frame.reserve(static_cast<size_t>(frame_dim_));
  for (size_t k = 0; k < offsets_.size(); ++k) {
    for (int i = 0; i < sizes_[k]; ++i) {
      frame.push_back(static_cast<float>(env.observation()[offsets_[k] + i]));
    }
  }
  if (frames_.empty()) {
    frames_.assign(static_cast<size_t>(policy.history), frame);
  } else {
    frames_.push_back(std::move(frame));
    frames_.pop_front();
  }
  state_.clear();
  for (const auto& f : frames_) state_.insert(state_.end(), f.begin(), f.end());

  ModelInputs inputs;
  inputs.state = state_.data();
  for (size_t c = 0; c < camera_ids_.size(); ++c) {
    sim::CameraImage& image = images_[c];
    renderer_->Render(env.model(), env.data(), camera_ids_[c], &image);
    if (blacked_out_[c]) std::fill(image.rgb.begin(), image.rgb.end(), uint8_t{0});
    inputs.images.push_back(image.rgb.data());
    inputs.image_height = image.height;
    inputs.image_width = image.width;
  }
  if (policy.uses_language) inputs.instruction = &instruction_;
  model_->Predict(inputs, chunk_.data());
  const int64_t action_dim = model_->spec().action_dim;
  if (ensemble_decay_ < 0) {
    for (int64_t i = 0; i < action_dim; ++i) action[i] = chunk_[static_cast<size_t>(i)];
    return;
  }
  chunks_.push_back(chunk_);
  if (static_cast<int64_t>(chunks_.size()) > policy.action_horizon) chunks_.pop_front();
  // chunks_[k] was predicted (size - 1 - k) steps ago: its entry for now is at that offset.
  const size_t count = chunks_.size();
  double total = 0.0;
  std::fill_n(action, action_dim, 0.0);
  for (size_t k = 0; k < count; ++k) {
    const double weight = std::exp(-ensemble_decay_ * static_cast<double>(k));
    const auto* predicted = chunks_[k].data() + (count - 1 - k) * static_cast<size_t>(action_dim);
    for (int64_t i = 0; i < action_dim; ++i) action[i] += weight * predicted[i];
    total += weight;
  }
  for (int64_t i = 0; i < action_dim; ++i) action[i] /= total;
}

}  // namespace simscale::policies
