#include "common/io/json.h"

#include <cctype>
#include <cstdlib>

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale::io::json {
namespace {

class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  Value Document() {
    Value value = ParseValue(0);
    SkipSpace();
    if (position_ != text_.size()) Fail("unexpected text after the value");
    return value;
  }

 private:
  static constexpr int kMaxDepth = 256;

  [[noreturn]] void Fail(std::string_view what) const {
    throw InvalidArgumentError(fmt::format("invalid JSON at offset {}: {}", position_, what));
  }

  void SkipSpace() {
    while (position_ < text_.size() && (text_[position_] == ' ' || text_[position_] == '\t' ||
                                        text_[position_] == '\n' || text_[position_] == '\r')) {
      ++position_;
    }
  }

  char Peek() const { return position_ < text_.size() ? text_[position_] : '\0'; }

  void Expect(char c) {
    if (Peek() != c) Fail(fmt::format("expected '{}'", c));
    ++position_;
  }

  void Literal(std::string_view word) {
    if (text_.substr(position_, word.size()) != word) Fail(fmt::format("expected '{}'", word));
    position_ += word.size();
  }

  Value ParseValue(int depth) {
    if (depth > kMaxDepth) Fail("nested too deeply");
    SkipSpace();
    Value value;
    const char c = Peek();
    if (c == '{') {
      value.kind = Value::Kind::kObject;
      ++position_;
      SkipSpace();
      if (Peek() == '}') {
        ++position_;
        return value;
      }
      while (true) {
        SkipSpace();
        if (Peek() != '"') Fail("expected a string key");
        std::string key = ParseString();
        SkipSpace();
        Expect(':');
        value.object.emplace_back(std::move(key), ParseValue(depth + 1));
        SkipSpace();
        if (Peek() == ',') {
          ++position_;
          continue;
        }
        Expect('}');
        return value;
      }
    }
    if (c == '[') {
      value.kind = Value::Kind::kArray;
      ++position_;
      SkipSpace();
      if (Peek() == ']') {
        ++position_;
        return value;
      }
      while (true) {
        value.array.push_back(ParseValue(depth + 1));
        SkipSpace();
        if (Peek() == ',') {
          ++position_;
          continue;
        }
        Expect(']');
        return value;
      }
    }
    if (c == '"') {
      value.kind = Value::Kind::kString;
      value.string = ParseString();
      return value;
    }
    if (c == 't' || c == 'f') {
      value.kind = Value::Kind::kBool;
      value.boolean = c == 't';
      Literal(c == 't' ? "true" : "false");
      return value;
    }
    if (c == 'n') {
      Literal("null");
      return value;
    }
    if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) {
      value.kind = Value::Kind::kNumber;
      value.number = ParseNumber();
      return value;
    }
    Fail(c == '\0' ? "unexpected end of text" : fmt::format("unexpected character '{}'", c));
  }

  double ParseNumber() {
    const size_t start = position_;
    if (Peek() == '-') ++position_;
    if (Peek() == '0') {
      ++position_;
    } else if (std::isdigit(static_cast<unsigned char>(Peek()))) {
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++position_;
    } else {
      Fail("expected a digit");
    }
    if (Peek() == '.') {
      ++position_;
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) Fail("expected a digit after '.'");
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++position_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++position_;
      if (Peek() == '+' || Peek() == '-') ++position_;
      if (!std::isdigit(static_cast<unsigned char>(Peek()))) Fail("expected an exponent");
      while (std::isdigit(static_cast<unsigned char>(Peek()))) ++position_;
    }
    const std::string token(text_.substr(start, position_ - start));
    return std::strtod(token.c_str(), nullptr);
  }

  unsigned ParseHex4() {
    unsigned code = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = Peek();
      code <<= 4;
      if (h >= '0' && h <= '9') {
        code |= static_cast<unsigned>(h - '0');
      } else if (h >= 'a' && h <= 'f') {
        code |= static_cast<unsigned>(h - 'a' + 10);
      } else if (h >= 'A' && h <= 'F') {
        code |= static_cast<unsigned>(h - 'A' + 10);
      } else {
        Fail("expected four hex digits after \\u");
      }
      ++position_;
    }
    return code;
  }

  static void AppendUtf8(unsigned code, std::string* out) {
    if (code < 0x80) {
      out->push_back(static_cast<char>(code));
    } else if (code < 0x800) {
      out->push_back(static_cast<char>(0xC0 | (code >> 6)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else if (code < 0x10000) {
      out->push_back(static_cast<char>(0xE0 | (code >> 12)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    } else {
      out->push_back(static_cast<char>(0xF0 | (code >> 18)));
      out->push_back(static_cast<char>(0x80 | ((code >> 12) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | ((code >> 6) & 0x3F)));
      out->push_back(static_cast<char>(0x80 | (code & 0x3F)));
    }
  }

  std::string ParseString() {
    Expect('"');
    std::string out;
    while (true) {
      if (position_ >= text_.size()) Fail("unterminated string");
      const char c = text_[position_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) Fail("control character in string");
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      const char e = Peek();
      ++position_;
      switch (e) {
        case '"':
        case '\\':
        case '/':
          out.push_back(e);
          break;
        case 'b':
          out.push_back('\b');
          break;
        case 'f':
          out.push_back('\f');
          break;
        case 'n':
          out.push_back('\n');
          break;
        case 'r':
          out.push_back('\r');
          break;
        case 't':
          out.push_back('\t');
          break;
        case 'u': {
          unsigned code = ParseHex4();
          if (code >= 0xD800 && code < 0xDC00 && text_.substr(position_, 2) == "\\u") {
            position_ += 2;
            const unsigned low = ParseHex4();
            if (low < 0xDC00 || low >= 0xE000) Fail("invalid surrogate pair");
            code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(code, &out);
          break;
        }
        default:
          --position_;
          Fail("invalid escape");
      }
    }
  }

  std::string_view text_;
  size_t position_ = 0;
};

}  // namespace

const Value* Value::Find(std::string_view key) const {
  if (kind != Kind::kObject) return nullptr;
  for (const auto& [name, value] : object) {
    if (name == key) return &value;
  }
  return nullptr;
}

Value Parse(std::string_view text) { return Parser(text).Document(); }

std::string Quote(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          out += fmt::format("\\u{:04x}", static_cast<unsigned>(c));
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
  return out;
}

std::string StringArray(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ", ";
    out += Quote(items[i]);
  }
  out += "]";
  return out;
}

std::vector<std::string> ParseStringArray(std::string_view text, std::string_view what) {
  Value value;
  try {
    value = Parse(text);
  } catch (const InvalidArgumentError& error) {
    throw InvalidArgumentError(fmt::format("{}: {}", what, error.what()));
  }
  if (value.kind != Value::Kind::kArray) {
    throw InvalidArgumentError(
        fmt::format("{}: expected a JSON array of strings, got '{}'", what, text));
  }
  std::vector<std::string> items;
  for (const Value& item : value.array) {
    if (item.kind != Value::Kind::kString) {
      throw InvalidArgumentError(
          fmt::format("{}: expected a JSON array of strings, got '{}'", what, text));
    }
    items.push_back(item.string);
  }
  return items;
}

}  // namespace simscale::io::json
