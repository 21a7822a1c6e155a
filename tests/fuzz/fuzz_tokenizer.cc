// libFuzzer target: the VLA's character tokenizer. Properties: at most max_len ids, each in the
// vocabulary's range, one per character of the text's prefix; decoding gives back the prefix
// lower-cased with characters outside the vocabulary dropped.
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "common/models/char_vocabulary.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  using simscale::models::CharVocabulary;
  const int64_t max_len = 1 + data[0] % 128;
  const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
  const CharVocabulary vocabulary(max_len);
  const auto ids = vocabulary.EncodeIds(text);
  const size_t expected = std::min(text.size(), static_cast<size_t>(max_len));
  if (ids.size() != expected) std::abort();
  std::string kept;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= CharVocabulary::kSize) std::abort();
    const char lower = static_cast<char>(std::tolower(static_cast<unsigned char>(text[i])));
    const bool known =
        lower != '\0' && CharVocabulary::kCharacters.find(lower) != std::string::npos;
    if (known != (ids[i] != 0)) std::abort();
    if (known) kept.push_back(lower);
  }
  if (vocabulary.Decode(ids) != kept) std::abort();
  return 0;
}
