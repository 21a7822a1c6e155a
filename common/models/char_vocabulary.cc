#include "common/models/char_vocabulary.h"

#include <algorithm>
#include <cctype>

#include "common/core/error.h"

namespace simscale::models {

CharVocabulary::CharVocabulary(int64_t max_len) : max_len_(max_len) {
  CheckArgument(max_len >= 1, "tokenizer max_len", max_len, "an integer >= 1");
  for (size_t i = 0; i < kCharacters.size(); ++i) {
    id_of_[static_cast<unsigned char>(kCharacters[i])] = static_cast<int8_t>(i + 1);
  }
}

std::vector<int64_t> CharVocabulary::EncodeIds(std::string_view text) const {
  std::vector<int64_t> ids;
  ids.reserve(std::min<size_t>(text.size(), static_cast<size_t>(max_len_)));
  for (const char c : text) {
    if (static_cast<int64_t>(ids.size()) == max_len_) break;
    const auto lower = static_cast<unsigned char>(std::tolower(static_cast<unsigned char>(c)));
    ids.push_back(id_of_[lower]);
  }
  return ids;
}

std::string CharVocabulary::Decode(const std::vector<int64_t>& ids) const {
  std::string text;
  for (const int64_t id : ids) {
    if (id >= 1 && id <= static_cast<int64_t>(kCharacters.size()))
      text.push_back(kCharacters[static_cast<size_t>(id - 1)]);
  }
  return text;
}

}  // namespace simscale::models
