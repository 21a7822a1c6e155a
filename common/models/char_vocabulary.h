#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace simscale::models {

// The character vocabulary of the VLA's tokenizer (seed-spec §6.3), without LibTorch: the 43
// characters " abcdefghijklmnopqrstuvwxyz0123456789.,!?'-" map to ids 1..43 in that order
// (space = 1, 'a' = 2, ...); 0 is padding and also any character outside the vocabulary. Text is
// lower-cased and cut to max_len characters. CharTokenizer (tokenizer.h) batches these ids into
// tensors.
class CharVocabulary {
 public:
  static constexpr std::string_view kCharacters = " abcdefghijklmnopqrstuvwxyz0123456789.,!?'-";
  static constexpr int64_t kSize = 44;  // ids 0..43

  explicit CharVocabulary(int64_t max_len = 64);

  // Ids of one text, one per character up to max_len, no padding.
  std::vector<int64_t> EncodeIds(std::string_view text) const;
  // The text of a row of ids (padding, unknown characters and ids out of range skipped).
  std::string Decode(const std::vector<int64_t>& ids) const;

  int64_t max_len() const { return max_len_; }

 private:
  int64_t max_len_;
  std::array<int8_t, 256> id_of_{};  // 0: not in the vocabulary
};

}  // namespace simscale::models
