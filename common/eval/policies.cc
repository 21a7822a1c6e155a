#include "common/eval/policies.h"

#include <deque>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>
#include <yaml-cpp/yaml.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/envs/registry.h"
#include "common/models/checkpoint.h"
#include "common/models/tokenizer.h"
#include "common/sim/renderer.h"

namespace simscale::eval {
namespace fs = std::filesystem;

fs::path ResolveCheckpoint(const fs::path& path, bool prefer_ema) {
  fs::path checkpoint = path;
  if (!models::IsCompleteCheckpoint(path)) {
    const auto latest = models::FindLatestCompleteCheckpoint(path);
    if (!latest) {
      throw InvalidArgumentError(fmt::format(
          "policy '{}': expected a complete checkpoint directory or a run directory holding "
          "checkpoints/step_*, found neither",
          path.string()));
    }
    checkpoint = *latest;
  }
  if (prefer_ema) {
    const fs::path ema = checkpoint.parent_path() / ("ema_" + checkpoint.filename().string());
    if (models::IsCompleteCheckpoint(ema)) return ema;
  }
  return checkpoint;
}

PolicyInterface ReadPolicyInterface(const fs::path& checkpoint) {
  const models::CheckpointMetadata meta = models::ReadCheckpointMetadata(checkpoint);
  PolicyInterface interface;
  try {
    const YAML::Node node = YAML::Load(meta.extra)["interface"];
    if (!node) {
      throw InvalidArgumentError(
          fmt::format("checkpoint '{}' has no policy interface (not written by train_ddp)",
                      checkpoint.string()));
    }
    interface.env = node["env"].as<std::string>();
    for (const auto& key : node["state_keys"])
      interface.state_keys.push_back(key.as<std::string>());
    interface.history = node["history"].as<int64_t>();
    for (const auto& camera : node["cameras"])
      interface.cameras.push_back(camera.as<std::string>());
    interface.image_size = node["image_size"].as<int64_t>();
    interface.uses_language = node["uses_language"].as<bool>();
  } catch (const YAML::Exception& e) {
    throw InvalidArgumentError(fmt::format("checkpoint '{}': malformed policy interface: {}",
                                           checkpoint.string(), e.what()));
  }
  return interface;
}

namespace {

// A trained model acting in an env: builds its batch from the env's observation (and renders),
// predicts a chunk of actions and executes the first (receding horizon).
class CheckpointPolicy : public envs::Policy {
 public:
  CheckpointPolicy(const fs::path& checkpoint, const PolicyOptions& options)
      : checkpoint_(checkpoint), interface_(ReadPolicyInterface(checkpoint)), options_(options) {
    torch::Device device = torch::kCPU;
    if (options.device == "cuda" || (options.device == "auto" && torch::cuda::is_available())) {
      device = torch::Device(torch::kCUDA, 0);
    }
    model_ = models::LoadCheckpoint(checkpoint, nullptr, device);
    model_->eval();
    tokenizer_ = std::make_unique<models::CharTokenizer>(model_->options().vla.max_text_len);
  }

  void Reset(const sim::RobotEnv& env, uint64_t, uint64_t) override {
    if (offsets_.empty()) Bind(env);
    frames_.clear();
    if (interface_.uses_language) {
      const models::TokenizedText text = tokenizer_->Encode({env.instruction()});
      tokens_ = text.tokens;
      mask_ = text.mask;
    }
  }

  void Act(const sim::RobotEnv& env, double* action) override {
    std::vector<float> frame;
    frame.reserve(static_cast<size_t>(frame_dim_));
    for (size_t k = 0; k < offsets_.size(); ++k) {
      for (int i = 0; i < sizes_[k]; ++i)
        frame.push_back(static_cast<float>(env.observation()[offsets_[k] + i]));
    }
    // History: the oldest frames repeat the first one at the start of an episode, as in training.
    if (frames_.empty()) {
      for (int64_t h = 0; h < interface_.history; ++h) frames_.push_back(frame);
    } else {
      frames_.push_back(frame);
      frames_.pop_front();
    }
    std::vector<float> state;
    for (const auto& f : frames_) state.insert(state.end(), f.begin(), f.end());
    models::Batch batch;
    batch.state =
        torch::from_blob(state.data(), {1, static_cast<int64_t>(state.size())}, torch::kFloat32)
            .clone();
    for (size_t c = 0; c < cameras_.size(); ++c) {
      renderer_->Render(env.model(), env.data(), cameras_[c], &image_);
      torch::Tensor image =
          torch::from_blob(image_.rgb.data(), {1, image_.height, image_.width, 3}, torch::kUInt8)
              .permute({0, 3, 1, 2})
              .to(torch::kFloat32)
              .div_(255.0);
      const int64_t size = model_->spec().image_size;
      if (image_.height != size || image_.width != size) {
        namespace F = torch::nn::functional;
        image = F::interpolate(
            image,
            F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kArea));
      }
      batch.images[interface_.cameras[c]] = image.contiguous();
    }
    if (interface_.uses_language) {
      batch.language_tokens = tokens_;
      batch.language_mask = mask_;
    }
    const torch::Tensor actions = model_->Predict(batch).to(torch::kCPU).to(torch::kFloat64);
    const double* first = actions.data_ptr<double>();  // (1, H, A): the chunk's first action
    for (int64_t i = 0; i < model_->spec().action_dim; ++i) action[i] = first[i];
  }

  std::string name() const override { return fmt::format("checkpoint:{}", checkpoint_.string()); }

 private:
  void Bind(const sim::RobotEnv& env) {
    if (!interface_.env.empty() && interface_.env != env.name()) {
      throw InvalidArgumentError(fmt::format("policy {} was trained on env '{}', not '{}'",
                                             checkpoint_.string(), interface_.env, env.name()));
    }
    CheckArgument(model_->spec().action_dim == env.action_spec().size(), "policy action size",
                  model_->spec().action_dim, fmt::format("the env's {}", env.action_spec().size()));
    for (const auto& key : interface_.state_keys) {
      offsets_.push_back(env.observation_spec().Offset(key));
      sizes_.push_back(env.observation_spec().SizeOf(key));
      frame_dim_ += sizes_.back();
    }
    CheckArgument(frame_dim_ * interface_.history == model_->spec().state_dim, "policy state size",
                  frame_dim_ * interface_.history,
                  fmt::format("the model's state_dim {}", model_->spec().state_dim));
    if (!interface_.cameras.empty()) {
      sim::RenderOptions render;
      render.width = render.height = static_cast<int>(interface_.image_size);
      render.backend = sim::ParseGlBackend(options_.gl_backend);
      renderer_ = std::make_unique<sim::Renderer>(env.model(), render);
      for (const auto& camera : interface_.cameras) cameras_.push_back(renderer_->CameraId(camera));
    }
  }

  fs::path checkpoint_;
  PolicyInterface interface_;
  PolicyOptions options_;
  std::shared_ptr<models::Policy> model_;
  std::unique_ptr<models::CharTokenizer> tokenizer_;
  std::vector<int> offsets_, sizes_;
  int64_t frame_dim_ = 0;
  std::deque<std::vector<float>> frames_;
  std::unique_ptr<sim::Renderer> renderer_;
  std::vector<int> cameras_;
  sim::CameraImage image_;
  torch::Tensor tokens_, mask_;
};

}  // namespace

std::unique_ptr<envs::Policy> MakePolicy(const std::string& spec, const std::string& env_name,
                                         const PolicyOptions& options) {
  if (spec == "scripted") return envs::MakeScriptedExpert(env_name);
  if (spec == "random") return std::make_unique<envs::RandomPolicy>();
  const fs::path checkpoint = ResolveCheckpoint(spec, options.prefer_ema);
  log::Info("policy: {}", checkpoint.string());
  return std::make_unique<CheckpointPolicy>(checkpoint, options);
}

}  // namespace simscale::eval
