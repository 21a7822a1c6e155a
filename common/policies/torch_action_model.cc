// The LibTorch side of checkpoint policies, built as the module library
// libsimscale_action_model.so and opened by LoadActionModel (action_model.cc) on first use.
#include <torch/torch.h>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/models/checkpoint.h"
#include "common/models/model_input.h"
#include "common/models/tokenizer.h"
#include "common/policies/action_model.h"
#include "common/rl/checkpoint.h"

namespace simscale::policies {
namespace {

class TorchActionModel : public ActionModel {
 public:
  TorchActionModel(const std::filesystem::path& checkpoint, const ActionModelOptions& options) {
    at::set_num_threads(options.threads);
    const bool cuda = options.device == Device::kCuda ||
                      (options.device == Device::kAuto && torch::cuda::is_available());
    if (cuda && !torch::cuda::is_available()) {
      throw InvalidArgumentError(
          "device 'cuda' requested but LibTorch sees no CUDA device (this LibTorch build may be "
          "CPU-only)");
    }
    device_ = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
    model_ = models::LoadCheckpoint(checkpoint, nullptr, device_);
    model_->eval();
    spec_ = model_->spec();
    tokenizer_ = std::make_unique<models::CharTokenizer>(model_->options().vla.max_text_len);
  }

  const models::ModelSpec& spec() const override { return spec_; }

  void Predict(const ModelInputs& inputs, double* actions) override {
    torch::NoGradGuard no_grad;
    models::Batch batch;
    batch.state = models::StatesToTensor(inputs.state, 1, spec_.state_dim);
    for (size_t c = 0; c < spec_.policy.cameras.size(); ++c) {
      // The training loader's conversion of recorded frames (common/models/model_input.h).
      batch.images[spec_.policy.cameras[c]] = models::ImagesToTensor(
          inputs.images.at(c), 1, inputs.image_height, inputs.image_width, spec_.policy.image_size);
    }
    if (spec_.policy.uses_language) {
      if (inputs.instruction == nullptr) {
        throw InvalidArgumentError("a language policy was given no instruction");
      }
      if (*inputs.instruction != cached_instruction_ || !tokens_.defined()) {
        const models::TokenizedText text = tokenizer_->Encode({*inputs.instruction});
        tokens_ = text.tokens;
        mask_ = text.mask;
        cached_instruction_ = *inputs.instruction;
      }
      batch.language_tokens = tokens_;
      batch.language_mask = mask_;
    }
    const torch::Tensor predicted =
        model_->Predict(batch.To(device_)).to(torch::kCPU).to(torch::kFloat64).contiguous();
    const int64_t count = spec_.policy.action_horizon * spec_.action_dim;
    SIMSCALE_CHECK(predicted.numel() == count, "predicted {} values, expected {}",
                   predicted.numel(), count);
    std::copy_n(predicted.data_ptr<double>(), count, actions);
  }

 private:
  torch::Device device_ = torch::kCPU;
  std::shared_ptr<models::Policy> model_;
  models::ModelSpec spec_;
  std::unique_ptr<models::CharTokenizer> tokenizer_;
  std::string cached_instruction_;
  torch::Tensor tokens_, mask_;
};

// A PPO run's actor (ppo_vec, common/rl): the deterministic policy, the mean action of the
// Gaussian, on the observation normalised with the run's statistics, clipped to [-1, 1] as the
// env clips it. Its input is the env's whole observation (the checkpoint names its slices).
class PpoActionModel : public ActionModel {
 public:
  PpoActionModel(const std::filesystem::path& checkpoint, const ActionModelOptions& options)
      : checkpoint_(rl::LoadPolicyCheckpoint(checkpoint)) {
    at::set_num_threads(options.threads);
    if (options.device == Device::kCuda) {
      throw InvalidArgumentError("PPO policies run on the CPU (device 'cuda' requested)");
    }
    const rl::ActorCriticOptions& o = checkpoint_.model->options();
    spec_.policy.env = checkpoint_.state.env;
    spec_.policy.state_keys = checkpoint_.state.observation_keys;
    spec_.state_dim = o.observation_size;
    spec_.action_dim = o.action_size;
    raw_.resize(static_cast<size_t>(o.observation_size));
    normalized_.resize(raw_.size());
  }

  const models::ModelSpec& spec() const override { return spec_; }

  void Predict(const ModelInputs& inputs, double* actions) override {
    torch::NoGradGuard no_grad;
    std::copy_n(inputs.state, raw_.size(), raw_.begin());
    checkpoint_.observations.Normalize(raw_.data(), 1, normalized_.data());
    const torch::Tensor observation =
        torch::from_blob(normalized_.data(), {1, spec_.state_dim}, torch::kFloat32);
    const torch::Tensor raw =
        torch::from_blob(raw_.data(), {1, spec_.state_dim}, torch::kFloat64).to(torch::kFloat32);
    const torch::Tensor mean =
        checkpoint_.model->ActionMean(observation, raw).clamp(-1.0, 1.0).to(torch::kFloat64);
    std::copy_n(mean.data_ptr<double>(), spec_.action_dim, actions);
  }

 private:
  rl::PolicyCheckpoint checkpoint_;
  models::ModelSpec spec_;
  std::vector<double> raw_;
  std::vector<float> normalized_;
};

}  // namespace
}  // namespace simscale::policies

extern "C" __attribute__((visibility("default"))) simscale::policies::ActionModel*
simscale_load_action_model(const simscale::policies::ActionModelRequest& request,
                           std::string* error) {
  using namespace simscale;
  // This library carries its own copy of the logger: make it speak as the host does.
  log::SetRank(request.rank, request.world_size);
  log::SetLevel(request.level);
  if (request.sink) log::SetSink(request.sink);
  try {
    // A PPO checkpoint (ppo_vec) keeps its metadata in state.json, a train_ddp one in meta.yaml.
    if (std::filesystem::exists(std::filesystem::path(request.checkpoint) / "state.json")) {
      return new policies::PpoActionModel(request.checkpoint, request.options);
    }
    return new policies::TorchActionModel(request.checkpoint, request.options);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
