#include "common/models/tokenizer.h"

#include <algorithm>
#include <cctype>

#include "common/core/error.h"

namespace simscale::models {

CharTokenizer::CharTokenizer(int64_t max_len) : max_len_(max_len) {
  CheckArgument(max_len >= 1, "tokenizer max_len", max_len, "an integer >= 1");
  for (size_t i = 0; i < kVocabulary.size(); ++i) {
    id_of_[static_cast<unsigned char>(kVocabulary[i])] = static_cast<int8_t>(i + 1);
  }
}

std::vector<int64_t> CharTokenizer::EncodeIds(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(std::min<size_t>(text.size(), static_cast<size_t>(max_len_)));
  for (const char c : text) {
    if (static_cast<int64_t>(ids.size()) == max_len_) break;
    const auto lower = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
    ids.push_back(id_of_[lower]);
  }
  return ids;
}

TokenizedText CharTokenizer::Encode(const std::vector<std::string>& texts,
                                    bool pad_to_longest) const {
  std::vector<std::vector<int64_t>> rows;
  rows.reserve(texts.size());
  size_t longest = 1;
  for (const auto& text : texts) {
    rows.push_back(EncodeIds(text));
    longest = std::max(longest, rows.back().size());
  }
  const int64_t width = pad_to_longest ? static_cast<int64_t>(longest) : max_len_;
  auto tokens = torch::zeros({static_cast<int64_t>(texts.size()), width}, torch::kInt64);
  auto accessor = tokens.accessor<int64_t, 2>();
  for (size_t r = 0; r < rows.size(); ++r) {
    for (size_t c = 0; c < rows[r].size(); ++c) accessor[r][c] = rows[r][c];
  }
  return {tokens, tokens.ne(0)};
}

std::string CharTokenizer::Decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (const int64_t id : ids) {
    if (id >= 1 && id <= static_cast<int64_t>(kVocabulary.size()))
      text.push_back(kVocabulary[id - 1]);
  }
  return text;
}

}  // namespace simscale::models
