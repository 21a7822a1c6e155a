#include "common/models/bc.h"

#include <vector>

namespace simscale::models {

BcPolicy::BcPolicy(const ModelOptions& options, std::string name)
    : Policy(std::move(name), options) {
  const ModelSpec& s = options.spec;
  const BcOptions& bc = options.bc;
  int64_t feature_dim = 0;
  if (s.state_dim > 0) {
    MlpOptions encoder;
    encoder.in = s.state_dim;
    encoder.hidden = {bc.hidden_dim, bc.hidden_dim};
    encoder.out = bc.hidden_dim;
    encoder.activation = Activation::kRelu;
    encoder.dropout = bc.dropout;
    encoder.final_activation = true;
    state_encoder_ = register_module("state_encoder", Mlp(encoder));
    feature_dim += bc.hidden_dim;
  }
  image_encoders_ = register_module("image_encoders", torch::nn::ModuleList());
  for (size_t i = 0; i < s.policy.cameras.size(); ++i) {
    image_encoders_->push_back(ConvImageEncoder(3, bc.image_embed_dim));
    feature_dim += bc.image_embed_dim;
  }
  MlpHeadOptions mlp;
  mlp.input_dim = feature_dim;
  mlp.hidden = std::vector<int64_t>(static_cast<size_t>(bc.num_layers), bc.hidden_dim);
  mlp.activation = Activation::kRelu;
  mlp.dropout = bc.dropout;
  mlp.loss = bc.loss == "l1" ? RegressionLoss::kL1 : RegressionLoss::kMse;
  SetHead(MakeActionHead(options, feature_dim, mlp), feature_dim);
}

torch::Tensor BcPolicy::Encode(const Batch& batch, const torch::Tensor& normalized_state) {
  std::vector<torch::Tensor> features;
  if (state_encoder_) features.push_back(state_encoder_(normalized_state));
  const auto& cameras = spec().policy.cameras;
  for (size_t i = 0; i < cameras.size(); ++i) {
    const auto& images = batch.images.at(cameras[i]);
    features.push_back(image_encoders_->ptr<ConvImageEncoderImpl>(i)->forward(images * 2.0 - 1.0));
  }
  return features.size() == 1 ? features.front() : torch::cat(features, 1);
}

}  // namespace simscale::models
