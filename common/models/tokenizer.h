#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <torch/torch.h>

namespace simscale::models {

// Token ids and mask for a batch of instructions: tokens (B, L) int64 with 0 at padded positions,
// mask (B, L) bool, true at real characters.
struct TokenizedText {
  torch::Tensor tokens;
  torch::Tensor mask;
};

// The character tokenizer of the original VLA (seed-spec §6.3): the 43 characters
// " abcdefghijklmnopqrstuvwxyz0123456789.,!?'-" map to ids 1..43 in that order (space = 1,
// 'a' = 2, ...); 0 is padding and also any character outside the vocabulary. Text is lower-cased
// and cut to max_len characters. The mask is false wherever the id is 0, so the model never
// attends padding or unknown characters (the original attended both).
class CharTokenizer {
 public:
  static constexpr std::string_view kVocabulary = " abcdefghijklmnopqrstuvwxyz0123456789.,!?'-";
  static constexpr int64_t kVocabularySize = 44;  // ids 0..43

  explicit CharTokenizer(int64_t max_len = 64);

  // Ids of one text, one per character up to max_len, no padding.
  std::vector<int64_t> EncodeIds(std::string_view text) const;
  // Right-padded batch of exactly max_len columns (pad_to_longest: as many as the longest text,
  // at least 1).
  TokenizedText Encode(const std::vector<std::string>& texts, bool pad_to_longest = false) const;
  // The text of a row of ids (padding skipped).
  std::string Decode(const std::vector<int64_t>& ids) const;

  int64_t max_len() const { return max_len_; }

 private:
  int64_t max_len_;
  std::array<int8_t, 256> id_of_{};  // 0: not in the vocabulary
};

}  // namespace simscale::models
