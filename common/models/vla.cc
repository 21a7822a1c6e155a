#include "common/models/vla.h"

#include <vector>

#include "common/core/error.h"

namespace simscale::models {

VlaPolicy::VlaPolicy(const ModelOptions& options, std::string name)
    : Policy(std::move(name), options), tokenizer_(options.vla.max_text_len) {
  const ModelSpec& s = options.spec;
  const VlaOptions& v = options.vla;
  const int64_t d = v.embed_dim;
  CheckArgument(!s.policy.cameras.empty(), "model.cameras", "[]",
                "at least one camera for a vla model");

  VisionEncoderOptions vision;
  vision.stem = v.stem;
  vision.keypoints = v.keypoints;
  vision.image_size = s.policy.image_size;
  vision.patch_size = v.patch_size;
  vision.dim = d;
  vision.heads = v.num_heads;
  vision.layers = v.num_layers;
  vision.mlp_ratio = v.mlp_ratio;
  vision.dropout = v.dropout;
  vision.condition_dim = v.film ? d : 0;
  vision.pointers = v.pointers;
  vision_ = register_module("vision", VisionEncoder(vision));
  const auto cameras = static_cast<int64_t>(s.policy.cameras.size());
  if (cameras > 1) {
    camera_embedding_ =
        register_parameter("camera_embedding", 0.02 * torch::randn({cameras, 1, d}));
  }
  if (s.policy.uses_language) {
    LanguageEncoderOptions language;
    language.vocab_size = v.vocab_size;
    language.max_len = v.max_text_len;
    language.dim = d;
    language.heads = v.num_heads;
    language.layers = v.language_layers;
    language.dropout = v.dropout;
    language_ = register_module("language", LanguageEncoder(language));
    if (v.film) words_ = register_module("words", WordBag(v.word_buckets, d));
  }
  if (v.state_token) {
    MlpOptions state;
    state.in = s.state_dim;
    state.hidden = {d};
    state.out = d;
    state.activation = Activation::kGelu;
    state_ = register_module("state", Mlp(state));
  }
  fusion_ = register_module(
      "fusion",
      Transformer(
          v.ResolvedFusionLayers(),
          TransformerBlockOptions(d, v.num_heads).mlp_ratio(v.mlp_ratio).dropout(v.dropout)));
  const int64_t feature =
      d + (v.state_skip ? d : 0) + (v.keypoint_skip ? 2 * (v.keypoints + v.pointers) * cameras : 0);
  MlpHeadOptions mlp;
  mlp.input_dim = feature;
  mlp.hidden = {d, d / 2};
  mlp.activation = Activation::kGelu;
  mlp.dropout = v.dropout;
  SetHead(MakeActionHead(options, feature, mlp), feature);
  // The transformers' Linears N(0, 0.02^2) with zero bias, LayerNorms (1, 0); convolution,
  // embedding, position and CLS parameters keep their own initialisation, and so do the state MLP
  // and the action head (LibTorch's default: at 0.02 their GELU stack starts with a signal too
  // small to learn from quickly).
  InitTransformerWeights(*vision_);
  if (language_) InitTransformerWeights(*language_);
  InitTransformerWeights(*fusion_);
}

torch::Tensor VlaPolicy::Encode(const Batch& batch, const torch::Tensor& normalized_state) {
  const ModelSpec& s = spec();
  torch::Tensor text, mask, condition;  // encoded instruction, its mask, the FiLM condition
  if (language_) {
    auto ids = batch.language_tokens;
    mask = batch.language_mask.defined() ? batch.language_mask : ids.ne(0);
    // Keep columns up to the last real token of the batch: the rest is padding everywhere.
    const auto positions = torch::arange(1, ids.size(1) + 1, ids.options());
    const int64_t used =
        std::max<int64_t>(1, (mask.to(torch::kInt64) * positions).max().item<int64_t>());
    ids = ids.narrow(1, 0, used);
    mask = mask.narrow(1, 0, used);
    text = language_(ids, mask);
    if (words_) condition = words_(ids, mask);  // zero for an instruction without words
  }
  std::vector<torch::Tensor> tokens;
  std::vector<torch::Tensor> skipped;  // keypoint_skip: each camera's (B, 2(K + P)) coordinates
  for (size_t i = 0; i < s.policy.cameras.size(); ++i) {
    torch::Tensor points;
    auto visual = vision_->forward(batch.images.at(s.policy.cameras[i]) * 2.0 - 1.0, condition,
                                   options().vla.keypoint_skip ? &points : nullptr);
    if (points.defined()) skipped.push_back(points.flatten(1));
    if (camera_embedding_.defined()) visual = visual + camera_embedding_[static_cast<int64_t>(i)];
    tokens.push_back(visual);
  }
  const int64_t b = tokens.front().size(0);
  const auto visual_tokens = tokens.front().size(1) * static_cast<int64_t>(tokens.size());
  torch::Tensor key_mask;
  if (language_) {
    tokens.push_back(text);
    // With FiLM the fusion also reads the bag of words, as one more token.
    if (condition.defined()) tokens.push_back(condition.unsqueeze(1));
    const int64_t extra = (condition.defined() ? 1 : 0) + (state_ ? 1 : 0);
    const auto ones = torch::ones({b, visual_tokens + extra}, mask.options());
    key_mask = torch::cat({ones.narrow(1, 0, visual_tokens), mask, ones.narrow(1, 0, extra)}, 1);
  }
  torch::Tensor state;
  if (state_) {
    state = state_(normalized_state);
    tokens.push_back(state.unsqueeze(1));
  }
  const auto fused = fusion_(torch::cat(tokens, 1), key_mask, /*query_count=*/1).squeeze(1);
  if (options().vla.state_skip) skipped.insert(skipped.begin(), state);
  if (skipped.empty()) return fused;
  skipped.insert(skipped.begin(), fused);
  for (auto& part : skipped) part = part.to(fused.scalar_type());
  return torch::cat(skipped, -1);
}

}  // namespace simscale::models
