#pragma once

#include <string>

#include <torch/torch.h>

#include "common/models/layers.h"
#include "common/models/policy.h"
#include "common/models/tokenizer.h"

namespace simscale::models {

// Vision-language-action transformer (registered as "vla"), after the original (seed-spec §6.3):
// a ViT per camera (shared weights, plus a learned camera embedding when there are several), a
// character-level language transformer, an optional state token, and a fusion transformer whose
// first token (the first camera's CLS) feeds the action head. Differences, on purpose:
// - padded language positions are never attended (key padding mask in the language and fusion
//   transformers), so the output does not depend on what padding holds;
// - instructions are cut to the longest real text in the batch before encoding (same result,
//   less work), and the last fusion layer updates only the readout token (same result);
// - images are scaled from [0, 1] to [-1, 1]; the MLP head has no Tanh (actions are normalised
//   and clamped to their bounds instead); the "diffusion" head is a real diffusion head.
// Parameter count at the defaults with state_dim 28, action_dim 4: 1,404,612, as the original.
class VlaPolicy : public Policy {
 public:
  explicit VlaPolicy(const ModelOptions& options, std::string name = "vla");

  // The tokenizer matching this model's max_text_len.
  const CharTokenizer& tokenizer() const { return tokenizer_; }

 protected:
  torch::Tensor Encode(const Batch& batch, const torch::Tensor& normalized_state) override;

 private:
  CharTokenizer tokenizer_;
  VisionEncoder vision_{nullptr};
  torch::Tensor camera_embedding_;  // (cameras, 1, D) when there are several cameras
  LanguageEncoder language_{nullptr};
  WordBag words_{nullptr};  // model.vla.film: the keypoint stem's condition
  Mlp state_{nullptr};
  Transformer fusion_{nullptr};
};

}  // namespace simscale::models
