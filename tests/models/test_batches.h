#pragma once

#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/models/policy.h"
#include "common/models/tokenizer.h"

namespace simscale::models::testing {

// A random batch matching `spec`: state ~ N(0, 1), images ~ U[0, 1], instructions from a fixed
// list, actions ~ U[-1, 1] (shaped (B, A) when the horizon is 1).
inline Batch RandomBatch(const ModelSpec& spec, int64_t batch, bool with_actions,
                         int64_t max_text_len = 64) {
  static const std::vector<std::string> kTexts = {"pick up the red block",
                                                  "place it on the green target", "push left",
                                                  "grasp the cube and lift it up high"};
  Batch b;
  if (spec.state_dim > 0) b.state = torch::randn({batch, spec.state_dim});
  for (const auto& camera : spec.policy.cameras) {
    b.images[camera] = torch::rand({batch, 3, spec.policy.image_size, spec.policy.image_size});
  }
  if (spec.policy.uses_language) {
    std::vector<std::string> texts;
    for (int64_t i = 0; i < batch; ++i) texts.push_back(kTexts[i % kTexts.size()]);
    const auto tokenized = CharTokenizer(max_text_len).Encode(texts);
    b.language_tokens = tokenized.tokens;
    b.language_mask = tokenized.mask;
  }
  if (with_actions) {
    b.actions = torch::rand({batch, spec.policy.action_horizon, spec.action_dim}) * 2 - 1;
    if (spec.policy.action_horizon == 1) b.actions = b.actions.squeeze(1);
  }
  return b;
}

}  // namespace simscale::models::testing
