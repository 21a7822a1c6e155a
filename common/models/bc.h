#pragma once

#include <string>

#include <torch/torch.h>

#include "common/models/layers.h"
#include "common/models/policy.h"

namespace simscale::models {

// Behaviour cloning (registered as "bc"), after the original (seed-spec §6.2):
//   state encoder  Linear(S,h)-ReLU-Drop-Linear(h,h)-ReLU-Drop-Linear(h,h)-ReLU
//   per camera     ConvImageEncoder -> image_embed_dim
//   action head    MLP: num_layers x [Linear-ReLU-Drop], Linear(h, H*A)   (or the diffusion head)
// The original fed the encoder's last Linear straight into the head's first Linear (two linear
// maps in a row); here a ReLU separates them. Parameter count is unchanged (335,364 at defaults).
class BcPolicy : public Policy {
 public:
  explicit BcPolicy(const ModelOptions& options, std::string name = "bc");

 protected:
  torch::Tensor Encode(const Batch& batch, const torch::Tensor& normalized_state) override;

 private:
  Mlp state_encoder_{nullptr};
  torch::nn::ModuleList image_encoders_{nullptr};  // one per camera, in spec order
};

}  // namespace simscale::models
