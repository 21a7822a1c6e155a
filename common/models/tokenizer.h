#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

#include "common/models/char_vocabulary.h"

namespace simscale::models {

// Token ids and mask for a batch of instructions: tokens (B, L) int64 with 0 at padded positions,
// mask (B, L) bool, true at real characters.
struct TokenizedText {
  torch::Tensor tokens;
  torch::Tensor mask;
};

// The character tokenizer of the original VLA (seed-spec §6.3): the ids of CharVocabulary, batched
// and right-padded into tensors. The mask is false wherever the id is 0, so the model never
// attends padding or unknown characters (the original attended both).
class CharTokenizer {
 public:
  static constexpr std::string_view kVocabulary = CharVocabulary::kCharacters;
  static constexpr int64_t kVocabularySize = CharVocabulary::kSize;

  explicit CharTokenizer(int64_t max_len = 64) : vocabulary_(max_len) {}

  // Ids of one text, one per character up to max_len, no padding.
  std::vector<int64_t> EncodeIds(std::string_view text) const {
    return vocabulary_.EncodeIds(text);
  }
  // Right-padded batch of exactly max_len columns (pad_to_longest: as many as the longest text,
  // at least 1).
  TokenizedText Encode(const std::vector<std::string>& texts, bool pad_to_longest = false) const;
  // The text of a row of ids (padding skipped).
  std::string Decode(const std::vector<int64_t>& ids) const { return vocabulary_.Decode(ids); }

  int64_t max_len() const { return vocabulary_.max_len(); }

 private:
  CharVocabulary vocabulary_;
};

}  // namespace simscale::models
