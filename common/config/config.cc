#include "common/config/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>
#include <boost/program_options.hpp>

#include "common/core/atomic_file.h"

namespace simscale::config {
namespace po = boost::program_options;
namespace {

// Items of a value given on the command line: lists accept "a,b,c" or YAML "[a, b]".
RawValue CommandLineValue(const Option& option, const std::string& text, std::string source) {
  RawValue raw;
  raw.source = std::move(source);
  if (!option.is_list()) {
    raw.items = {text};
    return raw;
  }
  raw.is_list = true;
  if (!text.empty() && text.front() == '[') {
    YAML::Node node;
    try {
      node = YAML::Load(text);
    } catch (const YAML::Exception& e) {
      throw ConfigError(fmt::format("config key '{}' (from {}): cannot parse list '{}': {}",
                                    option.key(), raw.source, text, e.msg));
    }
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        throw ConfigError(
            fmt::format("config key '{}' (from {}): expected a list of scalars, got '{}'",
                        option.key(), raw.source, text));
      }
      raw.items.push_back(item.as<std::string>());
    }
    return raw;
  }
  std::stringstream stream(text);
  std::string item;
  while (std::getline(stream, item, ',')) {
    if (!item.empty()) raw.items.push_back(item);
  }
  return raw;
}

void Flatten(const YAML::Node& node, const std::string& prefix, const std::string& source,
             std::vector<std::pair<std::string, RawValue>>* out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        throw ConfigError(
            fmt::format("{}: a key under '{}' is not a plain name (a complex YAML key)", source,
                        prefix.empty() ? "the top level" : prefix));
      }
      const auto name = entry.first.as<std::string>();
      Flatten(entry.second, prefix.empty() ? name : prefix + "." + name, source, out);
    }
    return;
  }
  RawValue raw;
  raw.source = source;
  if (node.IsSequence()) {
    raw.is_list = true;
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        throw ConfigError(
            fmt::format("config key '{}' (from {}): expected a list of scalars", prefix, source));
      }
      raw.items.push_back(item.as<std::string>());
    }
  } else if (node.IsNull()) {
    raw.is_list = true;  // "key:" with nothing: empty list, or empty string for scalars
  } else {
    raw.items = {node.as<std::string>()};
  }
  out->emplace_back(prefix, std::move(raw));
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

template <typename T>
struct Traits;

template <>
struct Traits<bool> {
  static constexpr const char* kName = "BOOL";
  static std::string Words() { return "a boolean (true/false)"; }
  static std::optional<bool> Parse(const std::string& text) {
    const std::string t = Lower(text);
    if (t == "true" || t == "yes" || t == "on" || t == "1") return true;
    if (t == "false" || t == "no" || t == "off" || t == "0") return false;
    return std::nullopt;
  }
  static std::string Format(bool v) { return v ? "true" : "false"; }
};

template <typename Int>
struct IntTraits {
  static constexpr const char* kName = "INT";
  static std::string Words() { return "an integer"; }
  static std::optional<Int> Parse(const std::string& text) {
    Int value{};
    const char* begin = text.data();
    const char* end = text.data() + text.size();
    if (begin != end && *begin == '+') ++begin;
    const auto [ptr, ec] = std::from_chars(begin, end, value);
    if (ec != std::errc() || ptr != end || begin == end) return std::nullopt;
    return value;
  }
  static std::string Format(Int v) { return fmt::format("{}", v); }
};
template <>
struct Traits<int> : IntTraits<int> {};
template <>
struct Traits<int64_t> : IntTraits<int64_t> {};

template <>
struct Traits<double> {
  static constexpr const char* kName = "FLOAT";
  static std::string Words() { return "a finite number"; }
  static std::optional<double> Parse(const std::string& text) {
    if (text.empty()) return std::nullopt;
    errno = 0;
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    if (end != text.c_str() + text.size() || errno == ERANGE || !std::isfinite(value)) {
      return std::nullopt;
    }
    return value;
  }
  static std::string Format(double v) { return fmt::format("{}", v); }
};

template <>
struct Traits<std::string> {
  static constexpr const char* kName = "STRING";
  static std::string Words() { return "a string"; }
  static std::optional<std::string> Parse(const std::string& text) { return text; }
  static std::string Format(const std::string& v) { return v; }
};

template <typename T>
struct IsVector : std::false_type {};
template <typename E>
struct IsVector<std::vector<E>> : std::true_type {
  using Element = E;
};

template <typename T>
double AsDouble(const T& value) {
  if constexpr (std::is_arithmetic_v<T>) {
    return static_cast<double>(value);
  } else {
    return 0.0;
  }
}

}  // namespace

void Option::Fail(const RawValue& raw, const std::string& got) const {
  throw ConfigError(fmt::format("config key '{}' (from {}): expected {}, got {}", key_, raw.source,
                                Expectation(), got));
}

// ---------------------------------------------------------------------------------------------
// TypedOption<T>

template <typename T>
TypedOption<T>::TypedOption(std::string key, T* target, std::string help)
    : Option(std::move(key), std::move(help)), target_(target) {
  SIMSCALE_CHECK(target_ != nullptr, "option '{}' has no destination", this->key());
}

template <typename T>
TypedOption<T>& TypedOption<T>::Min(double min) {
  min_ = min;
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::Max(double max) {
  max_ = max;
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::GreaterThan(double bound) {
  greater_than_ = bound;
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::OneOf(std::vector<std::string> choices) {
  choices_ = std::move(choices);
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::NonEmpty() {
  non_empty_ = true;
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::Satisfies(std::function<bool(const T&)> predicate,
                                          std::string expectation) {
  predicates_.emplace_back(std::move(predicate), std::move(expectation));
  return *this;
}
template <typename T>
TypedOption<T>& TypedOption<T>::Flag(std::string alias) {
  add_alias(std::move(alias));
  return *this;
}

template <typename T>
bool TypedOption<T>::is_list() const {
  return IsVector<T>::value;
}
template <typename T>
bool TypedOption<T>::is_bool() const {
  return std::is_same_v<T, bool>;
}
template <typename T>
bool TypedOption<T>::is_string_like() const {
  if constexpr (IsVector<T>::value) {
    return std::is_same_v<typename IsVector<T>::Element, std::string>;
  } else {
    return std::is_same_v<T, std::string>;
  }
}

template <typename T>
std::string TypedOption<T>::value_name() const {
  if constexpr (IsVector<T>::value) {
    return "LIST";
  } else {
    return Traits<T>::kName;
  }
}

template <typename T>
std::string TypedOption<T>::Expectation() const {
  std::string element;
  if constexpr (IsVector<T>::value) {
    element = Traits<typename IsVector<T>::Element>::Words();
  } else {
    element = Traits<T>::Words();
  }
  std::vector<std::string> bounds;
  if (min_) bounds.push_back(fmt::format(">= {}", *min_));
  if (greater_than_) bounds.push_back(fmt::format("> {}", *greater_than_));
  if (max_) bounds.push_back(fmt::format("<= {}", *max_));
  if (!bounds.empty()) element += " " + fmt::format("{}", fmt::join(bounds, " and "));
  if (!choices_.empty()) element = fmt::format("one of {{{}}}", fmt::join(choices_, ", "));
  std::string words = element;
  if constexpr (IsVector<T>::value) {
    words = fmt::format("a list (YAML sequence or comma-separated) whose items are {}", element);
    if (non_empty_) words = "a non-empty " + words.substr(2);
  } else if (non_empty_) {
    words = "a non-empty " + element.substr(element.find(' ') + 1);
  }
  for (const auto& [predicate, expectation] : predicates_) words += ", " + expectation;
  return words;
}

template <typename T>
void TypedOption<T>::Assign(const RawValue& raw) {
  auto convert_one = [&](const std::string& text, auto* out) {
    using E = std::remove_pointer_t<decltype(out)>;
    const std::optional<E> value = Traits<E>::Parse(text);
    if (!value) Fail(raw, fmt::format("'{}'", text));
    if constexpr (std::is_arithmetic_v<E> && !std::is_same_v<E, bool>) {
      const double v = AsDouble(*value);
      if ((min_ && v < *min_) || (max_ && v > *max_) || (greater_than_ && v <= *greater_than_)) {
        Fail(raw, fmt::format("'{}'", text));
      }
    }
    if constexpr (std::is_same_v<E, std::string>) {
      if (!choices_.empty() &&
          std::find(choices_.begin(), choices_.end(), *value) == choices_.end()) {
        Fail(raw, fmt::format("'{}'", text));
      }
      if (non_empty_ && !IsVector<T>::value && value->empty()) Fail(raw, "''");
    }
    *out = *value;
  };

  T parsed{};
  if constexpr (IsVector<T>::value) {
    if (!raw.is_list && raw.items.size() == 1) {
      // A scalar where a list is expected: accept "a,b" the same way the command line does.
      RawValue split = CommandLineValue(*this, raw.items.front(), raw.source);
      for (const auto& item : split.items) {
        typename IsVector<T>::Element element{};
        convert_one(item, &element);
        parsed.push_back(element);
      }
    } else {
      for (const auto& item : raw.items) {
        typename IsVector<T>::Element element{};
        convert_one(item, &element);
        parsed.push_back(element);
      }
    }
    if (non_empty_ && parsed.empty()) Fail(raw, "an empty list");
  } else {
    if (raw.is_list && raw.items.empty()) {
      // "key:" with no value in YAML: only meaningful for strings.
      if constexpr (std::is_same_v<T, std::string>) {
        convert_one(std::string(), &parsed);
      } else {
        Fail(raw, "nothing (an empty value)");
      }
    } else if (raw.is_list || raw.items.size() != 1) {
      Fail(raw, fmt::format("a list [{}]", fmt::join(raw.items, ", ")));
    } else {
      convert_one(raw.items.front(), &parsed);
    }
  }
  for (const auto& [predicate, expectation] : predicates_) {
    if (!predicate(parsed)) {
      Fail(raw, fmt::format("{}", raw.items.size() == 1
                                      ? "'" + raw.items.front() + "'"
                                      : fmt::format("[{}]", fmt::join(raw.items, ", "))));
    }
  }
  *target_ = std::move(parsed);
  set_source(raw.source);
}

template <typename T>
std::vector<std::string> TypedOption<T>::CurrentItems() const {
  if constexpr (IsVector<T>::value) {
    std::vector<std::string> items;
    for (const auto& e : *target_)
      items.push_back(Traits<typename IsVector<T>::Element>::Format(e));
    return items;
  } else {
    return {Traits<T>::Format(*target_)};
  }
}

template <typename T>
void TypedOption<T>::ValidateCurrent(const std::string& source) {
  RawValue raw;
  raw.source = source;
  raw.items = CurrentItems();
  raw.is_list = is_list();
  Assign(raw);
}

template class TypedOption<bool>;
template class TypedOption<int>;
template class TypedOption<int64_t>;
template class TypedOption<double>;
template class TypedOption<std::string>;
template class TypedOption<std::vector<std::string>>;
template class TypedOption<std::vector<int64_t>>;
template class TypedOption<std::vector<double>>;

// ---------------------------------------------------------------------------------------------
// Schema

Schema::Schema(std::string tool_name, std::string description)
    : tool_name_(std::move(tool_name)), description_(std::move(description)) {}
Schema::~Schema() = default;

void Schema::AddOption(std::unique_ptr<Option> option) {
  SIMSCALE_CHECK(Find(option->key()) == nullptr, "config key '{}' declared twice", option->key());
  options_.push_back(std::move(option));
}

void Schema::AddCheck(std::function<void()> check) { checks_.push_back(std::move(check)); }

const Option* Schema::Find(const std::string& key) const {
  for (const auto& option : options_) {
    if (option->key() == key) return option.get();
  }
  return nullptr;
}

std::vector<const Option*> Schema::options() const {
  std::vector<const Option*> out;
  for (const auto& option : options_) out.push_back(option.get());
  return out;
}

Option& Schema::Resolve(const std::string& key_or_alias, const std::string& source) const {
  std::vector<std::string> names;
  for (const auto& option : options_) {
    if (option->key() == key_or_alias) return *option;
    names.push_back(option->key());
  }
  for (const auto& option : options_) {
    for (const auto& alias : option->aliases()) {
      if (alias == key_or_alias) return *option;
    }
  }
  const std::string suggestion = ClosestMatch(key_or_alias, names);
  throw ConfigError(fmt::format(
      "unknown config key '{}' (from {}){}; run {} --help for the list", key_or_alias, source,
      suggestion.empty() ? "" : fmt::format("; did you mean '{}'?", suggestion), tool_name_));
}

void Schema::Assign(Option& option, RawValue raw) { option.Assign(raw); }

void Schema::ApplyYaml(const std::string& yaml_text, const std::string& source) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: invalid YAML at line {}, column {}: {}", source,
                                  e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  if (root.IsNull()) return;  // empty file
  if (!root.IsMap()) {
    throw ConfigError(
        fmt::format("{}: expected a mapping of config keys at the top level", source));
  }
  std::vector<std::pair<std::string, RawValue>> entries;
  Flatten(root, "", source, &entries);
  // Resolve every key first, so a typo is reported before anything is assigned.
  for (const auto& [key, raw] : entries) Resolve(key, source);
  for (auto& [key, raw] : entries) Assign(Resolve(key, source), std::move(raw));
}

void Schema::ApplySet(const std::string& assignment, const std::string& source) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError(fmt::format("{} '{}': expected KEY=VALUE", source, assignment));
  }
  const std::string key = assignment.substr(0, eq);
  Option& option = Resolve(key, source);
  Assign(option, CommandLineValue(option, assignment.substr(eq + 1), source));
}

void Schema::RunChecks() const {
  for (const auto& check : checks_) check();
}

namespace {

// The command line split into options by Boost.PO (every key and alias a flag; no guessing of
// abbreviations); an unknown flag is an error with the closest known one.
std::vector<po::option> Tokenize(const std::vector<std::unique_ptr<Option>>& options,
                                 const std::string& tool_name_, int argc, const char* const* argv) {
  po::options_description generic("General options");
  generic.add_options()("help,h", "print this help and exit")(
      "config", po::value<std::vector<std::string>>()->value_name("FILE"),
      "YAML configuration file (repeatable; later files win)")(
      "set", po::value<std::vector<std::string>>()->value_name("KEY=VALUE"),
      "override one key (repeatable; wins over files)")(
      "print-config", "print the resolved configuration as YAML and exit");
  po::options_description keys;
  std::set<std::string> reserved = {"help", "config", "set", "print-config"};
  for (const auto& option : options) {
    std::vector<std::string> names = {option->key()};
    names.insert(names.end(), option->aliases().begin(), option->aliases().end());
    for (const auto& name : names) {
      SIMSCALE_CHECK(reserved.insert(name).second, "flag --{} declared twice", name);
      auto* semantic = po::value<std::string>()->value_name(option->value_name());
      if (option->is_bool()) semantic->implicit_value("true");
      keys.add_options()(name.c_str(), semantic, "");
    }
  }
  po::options_description all;
  all.add(generic).add(keys);

  try {
    return po::command_line_parser(argc, argv)
        .options(all)
        .style(po::command_line_style::unix_style ^ po::command_line_style::allow_guessing)
        .run()
        .options;
  } catch (const po::unknown_option& e) {
    std::vector<std::string> names;
    for (const auto& name : reserved) names.push_back(name);
    std::string flag = e.get_option_name();
    while (!flag.empty() && flag.front() == '-') flag.erase(flag.begin());
    const std::string suggestion = ClosestMatch(flag, names);
    throw ConfigError(fmt::format(
        "unknown option '{}'{}; run {} --help for the list", e.get_option_name(),
        suggestion.empty() ? "" : fmt::format("; did you mean '--{}'?", suggestion), tool_name_));
  } catch (const po::error& e) {
    throw ConfigError(fmt::format("command line: {}", e.what()));
  }
}

}  // namespace

ParseResult Schema::Parse(int argc, const char* const* argv) {
  ParseResult result;
  std::vector<std::pair<std::string, std::string>> command_line;  // (flag, value), in order
  for (const auto& opt : Tokenize(options_, tool_name_, argc, argv)) {
    if (opt.string_key == "help") {
      result.help = true;
    } else if (opt.string_key == "print-config") {
      result.print_config = true;
    } else if (opt.string_key == "config") {
      for (const auto& v : opt.value) result.config_files.emplace_back(v);
    } else if (opt.string_key == "set") {
      for (const auto& v : opt.value) command_line.emplace_back("", v);
    } else if (opt.string_key.empty() || opt.position_key >= 0) {
      throw ConfigError(
          fmt::format("unexpected positional argument '{}'; options start with --",
                      opt.original_tokens.empty() ? "" : opt.original_tokens.front()));
    } else {
      command_line.emplace_back(opt.string_key, opt.value.empty() ? "" : opt.value.front());
    }
  }
  if (result.help) return result;
  ApplySources(result.config_files, command_line);
  CheckDefaults();
  RunChecks();
  return result;
}

// Files in order, then --set and flags in command-line order: later sources win.
void Schema::ApplySources(const std::vector<std::filesystem::path>& files,
                          const std::vector<std::pair<std::string, std::string>>& command_line) {
  for (const auto& file : files) {
    std::string text;
    try {
      text = ReadFile(file);
    } catch (const IoError& e) {
      throw ConfigError(fmt::format("--config: {}", e.what()));
    }
    ApplyYaml(text, fmt::format("file '{}'", file.string()));
  }
  for (const auto& [flag, value] : command_line) {
    if (flag.empty()) {
      ApplySet(value, "--set");
    } else {
      Option& option = Resolve(flag, "command line");
      // A bare boolean flag (--overwrite) arrives without a value: it means true.
      const std::string text = option.is_bool() && value.empty() ? "true" : value;
      Assign(option, CommandLineValue(option, text, fmt::format("command line --{}", flag)));
    }
  }
}

void Schema::CheckDefaults() {
  // Keys no source set keep their defaults, which must satisfy the constraints too (a required
  // key has an invalid default, such as an empty dataset path).
  for (const auto& option : options_) {
    if (option->source() != "default") continue;
    RawValue raw;
    raw.source = "default";
    raw.items = option->CurrentItems();
    raw.is_list = option->is_list();
    try {
      option->Assign(raw);
    } catch (const ConfigError&) {
      throw ConfigError(
          fmt::format("config key '{}' is required: expected {}, and no --config "
                      "file, --set or flag sets it",
                      option->key(), option->Expectation()));
    }
  }
}

std::string Schema::HelpText() const {
  std::ostringstream out;
  out << tool_name_ << ": " << description_ << "\n\n"
      << "Usage: " << tool_name_ << " [--config FILE.yaml] [--set KEY=VALUE]... [--KEY VALUE]...\n"
      << "Sources, later wins: defaults < --config files < --set and flags, in command-line "
         "order.\n\n"
      << "General options:\n"
      << "  -h, --help               print this help and exit\n"
      << "  --config FILE            YAML configuration file (nested keys; repeatable)\n"
      << "  --set KEY=VALUE          override one key (repeatable)\n"
      << "  --print-config           print the resolved configuration as YAML and exit\n";
  std::string section;
  for (const auto& option : options_) {
    const std::string key = option->key();
    const std::string this_section = key.substr(0, key.find('.'));
    if (this_section != section) {
      section = this_section;
      out << "\n" << section << ":\n";
    }
    std::string flags = "--" + key;
    for (const auto& alias : option->aliases()) flags += ", --" + alias;
    flags += " " + option->value_name();
    const auto items = option->CurrentItems();
    const std::string current =
        option->is_list() ? fmt::format("[{}]", fmt::join(items, ", ")) : items.front();
    out << "  " << flags << "\n      " << option->help() << " (" << option->Expectation()
        << "; default: " << current << ")\n";
  }
  return out.str();
}

std::string Schema::ToYaml() const {
  // Nested maps from dotted keys, in declaration order.
  YAML::Node root(YAML::NodeType::Map);
  for (const auto& option : options_) {
    std::vector<std::string> parts;
    std::stringstream stream(option->key());
    std::string part;
    while (std::getline(stream, part, '.')) parts.push_back(part);
    std::vector<YAML::Node> path = {root};
    for (size_t i = 0; i + 1 < parts.size(); ++i) {
      YAML::Node child = path.back()[parts[i]];
      if (!child.IsMap()) child = YAML::Node(YAML::NodeType::Map);
      path.back()[parts[i]] = child;
      path.push_back(path.back()[parts[i]]);
    }
    const auto items = option->CurrentItems();
    if (option->is_list()) {
      YAML::Node list(YAML::NodeType::Sequence);
      for (const auto& item : items) list.push_back(item);
      list.SetStyle(YAML::EmitterStyle::Flow);
      path.back()[parts.back()] = list;
    } else {
      path.back()[parts.back()] = items.front();
    }
  }
  YAML::Emitter emitter;
  emitter << YAML::Comment(tool_name_ + " resolved configuration") << root;
  return std::string(emitter.c_str()) + "\n";
}

void Schema::WriteResolved(const std::filesystem::path& path) const {
  WriteFileAtomic(path, ToYaml());
}

namespace {

void Flatten(const YAML::Node& node, const std::string& prefix, const std::string& source,
             std::map<std::string, std::vector<std::string>>* out) {
  if (node.IsMap()) {
    for (const auto& entry : node) {
      if (!entry.first.IsScalar()) {
        throw ConfigError(fmt::format("{}: a key under '{}' is not a plain name", source, prefix));
      }
      const std::string key = entry.first.as<std::string>();
      Flatten(entry.second, prefix.empty() ? key : prefix + "." + key, source, out);
    }
  } else if (node.IsSequence()) {
    std::vector<std::string>& items = (*out)[prefix];
    for (const auto& item : node) {
      if (!item.IsScalar()) {
        throw ConfigError(fmt::format("{}: key '{}' holds a nested list", source, prefix));
      }
      items.push_back(item.as<std::string>());
    }
  } else if (node.IsScalar()) {
    (*out)[prefix] = {node.as<std::string>()};
  } else {
    (*out)[prefix] = {};
  }
}

}  // namespace

std::map<std::string, std::vector<std::string>> ResolvedValues(const std::string& yaml_text,
                                                               const std::string& source) {
  std::map<std::string, std::vector<std::string>> out;
  try {
    Flatten(YAML::Load(yaml_text), "", source, &out);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}: not a resolved configuration: {}", source, e.what()));
  }
  return out;
}

void Fail(const std::string& key, const std::string& expectation, const std::string& got) {
  throw ConfigError(fmt::format("config key '{}': expected {}, got {}", key, expectation, got));
}

std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates) {
  auto distance = [](const std::string& a, const std::string& b) {
    std::vector<size_t> previous(b.size() + 1), current(b.size() + 1);
    for (size_t j = 0; j <= b.size(); ++j) previous[j] = j;
    for (size_t i = 1; i <= a.size(); ++i) {
      current[0] = i;
      for (size_t j = 1; j <= b.size(); ++j) {
        const size_t substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
        current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
      }
      std::swap(previous, current);
    }
    return previous[b.size()];
  };
  std::string best;
  size_t best_distance = std::max<size_t>(2, word.size() / 3) + 1;
  for (const auto& candidate : candidates) {
    // Also match the last component, so "lr" suggests "train.lr".
    const std::string tail = candidate.substr(candidate.rfind('.') + 1);
    const size_t d = std::min(distance(word, candidate), distance(word, tail));
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  return best;
}

}  // namespace simscale::config
