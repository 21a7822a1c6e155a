// The LibTorch side of checkpoint policies, built as the module library
// libsimscale_action_model.so and opened by LoadActionModel (action_model.cc) on first use.
#include <torch/torch.h>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/models/checkpoint.h"
#include "common/models/tokenizer.h"
#include "common/policies/action_model.h"

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
    batch.state =
        torch::from_blob(const_cast<float*>(inputs.state), {1, spec_.state_dim}, torch::kFloat32)
            .clone();
    const int64_t size = spec_.policy.image_size;
    for (size_t c = 0; c < spec_.policy.cameras.size(); ++c) {
      // uint8 HWC at the render size -> float CHW in [0, 1] at the model's size, area-resampled,
      // as the training loader converts recorded images.
      torch::Tensor image =
          torch::from_blob(const_cast<uint8_t*>(inputs.images.at(c)),
                           {1, inputs.image_height, inputs.image_width, 3}, torch::kUInt8)
              .permute({0, 3, 1, 2})
              .to(torch::kFloat32)
              .div_(255.0);
      if (inputs.image_height != size || inputs.image_width != size) {
        namespace F = torch::nn::functional;
        image = F::interpolate(
            image,
            F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kArea));
      }
      batch.images[spec_.policy.cameras[c]] = image.contiguous();
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
    return new policies::TorchActionModel(request.checkpoint, request.options);
  } catch (const std::exception& e) {
    *error = e.what();
    return nullptr;
  }
}
