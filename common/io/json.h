#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

// Just enough JSON for the dataset's small text attributes (robomimic's env_args, the stored
// layout) and for printing statistics: a strict parser into a plain tree and a string quoter.
namespace simscale::io::json {

struct Value {
  enum class Kind { kNull, kBool, kNumber, kString, kArray, kObject };
  Kind kind = Kind::kNull;
  bool boolean = false;
  double number = 0.0;
  std::string string;
  std::vector<Value> array;
  std::vector<std::pair<std::string, Value>> object;  // in document order

  // The member `key` of an object, or nullptr (also when this is not an object).
  const Value* Find(std::string_view key) const;
};

// Parses one JSON document (RFC 8259; surrounding whitespace allowed). Throws
// InvalidArgumentError("invalid JSON at offset N: <what>") on anything else.
Value Parse(std::string_view text);

// `text` as a JSON string literal, quotes included.
std::string Quote(std::string_view text);

// A JSON array of strings.
std::string StringArray(const std::vector<std::string>& items);

// The strings of an array of strings; throws InvalidArgumentError naming `what` otherwise.
std::vector<std::string> ParseStringArray(std::string_view text, std::string_view what);

}  // namespace simscale::io::json
