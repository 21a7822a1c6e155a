#include "common/models/tokenizer.h"

#include <algorithm>

namespace simscale::models {

TokenizedText CharTokenizer::Encode(const std::vector<std::string>& texts,
                                    bool pad_to_longest) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 1;
  for (const auto& text : texts) {
    rows.push_back(EncodeIds(text));
    longest = std::max(longest, rows.back().size());
  }
  const int64_t width = pad_to_longest ? static_cast<int64_t>(longest) : max_len();
  auto tokens = torch::zeros({static_cast<int64_t>(texts.size()), width}, torch::kInt64);
  auto accessor = tokens.accessor<int64_t, 2>();
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) accessor[r][c] = rows[r][c];
  }
  return {tokens, tokens.ne(0)};
}

}  // namespace simscale::models
