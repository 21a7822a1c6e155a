#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/core/error.h"

// Typed, layered configuration for the tools. A tool declares its schema once: every option has a
// dotted key ("train.lr"), a typed destination field, a default (the field's value when declared),
// a one-line help and optional constraints. Sources, later wins:
//   defaults < --config FILE.yaml (nested YAML, flattened to dotted keys) < --set KEY=VALUE and
//   direct flags (--train.lr 3e-4, or an alias such as --lr), in command-line order.
// Unknown keys, wrong types and out-of-range values are ConfigErrors naming the key, where the
// value came from and what was expected. Parsing touches no MPI and no heavy state, so every rank
// can parse and the tool can agree on the outcome before its first collective.
namespace simscale::config {

class ConfigError : public InvalidArgumentError {
 public:
  using InvalidArgumentError::InvalidArgumentError;
};

// A value as it arrives from a source, before conversion to the option's type.
struct RawValue {
  std::vector<std::string> items;  // one item for a scalar
  bool is_list = false;
  std::string source;  // "command line", "--set", "file 'x.yaml'" — for error messages
};

class Option {
 public:
  Option(std::string key, std::string help) : key_(std::move(key)), help_(std::move(help)) {}
  virtual ~Option() = default;
  Option(const Option&) = delete;
  Option& operator=(const Option&) = delete;

  const std::string& key() const { return key_; }
  const std::string& help() const { return help_; }
  const std::vector<std::string>& aliases() const { return aliases_; }
  // Where the current value came from ("default" until set).
  const std::string& source() const { return source_; }

  virtual bool is_list() const = 0;
  virtual bool is_bool() const = 0;
  // Short type name for --help ("INT", "FLOAT", "BOOL", "STRING", "LIST").
  virtual std::string value_name() const = 0;
  // What a valid value looks like, in words: "an integer >= 1".
  virtual std::string Expectation() const = 0;
  // Converts, checks constraints and assigns; throws ConfigError naming key and source.
  virtual void Assign(const RawValue& raw) = 0;
  // The current value rendered as YAML scalar text or items.
  virtual std::vector<std::string> CurrentItems() const = 0;
  // True if the value needs quoting in YAML (strings).
  virtual bool is_string_like() const = 0;

 protected:
  [[noreturn]] void Fail(const RawValue& raw, const std::string& got) const;
  void set_source(std::string source) { source_ = std::move(source); }
  void add_alias(std::string alias) { aliases_.push_back(std::move(alias)); }

 private:
  std::string key_;
  std::string help_;
  std::vector<std::string> aliases_;
  std::string source_ = "default";
};

// Supported T: bool, int, int64_t, double, std::string, std::vector<std::string>,
// std::vector<int64_t>, std::vector<double>.
template <typename T>
class TypedOption final : public Option {
 public:
  TypedOption(std::string key, T* target, std::string help);

  // Constraints (checked on every assignment, including the default when the schema is finalised).
  TypedOption& Min(double min);  // numbers (and each list element)
  TypedOption& Max(double max);
  TypedOption& GreaterThan(double bound);
  TypedOption& OneOf(std::vector<std::string> choices);  // strings (and each list element)
  TypedOption& NonEmpty();                               // strings and lists
  // Arbitrary constraint; `expectation` completes "expected ..." in error messages.
  TypedOption& Satisfies(std::function<bool(const T&)> predicate, std::string expectation);
  // A short command-line alias: Flag("episodes") makes --episodes set this key.
  TypedOption& Flag(std::string alias);

  bool is_list() const override;
  bool is_bool() const override;
  std::string value_name() const override;
  std::string Expectation() const override;
  void Assign(const RawValue& raw) override;
  std::vector<std::string> CurrentItems() const override;
  bool is_string_like() const override;

  // Checks the current value against the constraints (used for defaults).
  void ValidateCurrent(const std::string& source);

 private:
  T* target_;
  std::optional<double> min_, max_, greater_than_;
  std::vector<std::string> choices_;
  bool non_empty_ = false;
  std::vector<std::pair<std::function<bool(const T&)>, std::string>> predicates_;
};

// An option spelled as one of a few words in the config and stored as the enum value each word
// names, so code compares enums and the words are parsed once, here. In YAML, --help and error
// messages it reads exactly like a string option with OneOf(words).
template <typename E>
class ChoiceOption final : public Option {
 public:
  ChoiceOption(std::string key, E* target, std::vector<std::pair<std::string, E>> words,
               std::string help)
      : Option(std::move(key), std::move(help)), target_(target), words_(std::move(words)) {
    SIMSCALE_CHECK(target_ != nullptr && !words_.empty(), "option '{}' has no destination or words",
                   this->key());
  }

  // A short command-line alias, as TypedOption::Flag.
  ChoiceOption& Flag(std::string alias) {
    add_alias(std::move(alias));
    return *this;
  }

  bool is_list() const override { return false; }
  bool is_bool() const override { return false; }
  std::string value_name() const override { return "STRING"; }
  std::string Expectation() const override {
    std::string words;
    for (const auto& [word, value] : words_) words += (words.empty() ? "" : ", ") + word;
    return "one of {" + words + "}";
  }
  void Assign(const RawValue& raw) override {
    if (raw.is_list && raw.items.empty()) Fail(raw, "''");  // "key:" with no value in YAML
    if (raw.is_list || raw.items.size() != 1) {
      std::string items;
      for (const auto& item : raw.items) items += (items.empty() ? "" : ", ") + item;
      Fail(raw, "a list [" + items + "]");
    }
    for (const auto& [word, value] : words_) {
      if (word == raw.items.front()) {
        *target_ = value;
        set_source(raw.source);
        return;
      }
    }
    Fail(raw, "'" + raw.items.front() + "'");
  }
  std::vector<std::string> CurrentItems() const override {
    for (const auto& [word, value] : words_) {
      if (value == *target_) return {word};
    }
    // A default outside the words: reported like any invalid default when the schema is parsed.
    return {"?"};
  }
  bool is_string_like() const override { return true; }

 private:
  E* target_;
  std::vector<std::pair<std::string, E>> words_;
};

struct ParseResult {
  bool help = false;          // --help was given: print HelpText() and exit 0
  bool print_config = false;  // --print-config: print ToYaml() and exit 0
  std::vector<std::filesystem::path> config_files;
};

class Schema {
 public:
  Schema(std::string tool_name, std::string description);
  ~Schema();
  Schema(const Schema&) = delete;
  Schema& operator=(const Schema&) = delete;

  template <typename T>
  TypedOption<T>& Add(std::string key, T* target, std::string help) {
    auto option = std::make_unique<TypedOption<T>>(std::move(key), target, std::move(help));
    TypedOption<T>& ref = *option;
    AddOption(std::move(option));
    return ref;
  }

  // An option whose words map onto the values of an enum (see ChoiceOption).
  template <typename E>
  ChoiceOption<E>& AddChoice(std::string key, E* target,
                             std::vector<std::pair<std::string, E>> words, std::string help) {
    auto option = std::make_unique<ChoiceOption<E>>(std::move(key), target, std::move(words),
                                                    std::move(help));
    ChoiceOption<E>& ref = *option;
    AddOption(std::move(option));
    return ref;
  }

  // Cross-key checks run after all sources are applied, e.g. "train.warmup_steps <= train.steps".
  // The function throws ConfigError (see Fail()) when the configuration is inconsistent.
  void AddCheck(std::function<void()> check);

  // Parses argv (argv[0] is the program). Throws ConfigError on any problem.
  ParseResult Parse(int argc, const char* const* argv);
  // Applies one YAML document (e.g. from a test) as the "file" layer, with `source` for messages.
  void ApplyYaml(const std::string& yaml_text, const std::string& source);
  // Applies a single KEY=VALUE assignment as --set would.
  void ApplySet(const std::string& assignment, const std::string& source = "--set");

  std::string HelpText() const;
  // The fully resolved configuration as nested YAML (with the tool name as a comment).
  std::string ToYaml() const;
  // Writes ToYaml() to `path` atomically.
  void WriteResolved(const std::filesystem::path& path) const;

  const Option* Find(const std::string& key) const;
  const std::string& tool_name() const { return tool_name_; }
  std::vector<const Option*> options() const;

 private:
  void AddOption(std::unique_ptr<Option> option);
  Option& Resolve(const std::string& key_or_alias, const std::string& source) const;
  void Assign(Option& option, RawValue raw);
  void RunChecks() const;
  // The stages of Parse after the command line is split into options.
  void ApplySources(const std::vector<std::filesystem::path>& files,
                    const std::vector<std::pair<std::string, std::string>>& command_line);
  void CheckDefaults();

  std::string tool_name_;
  std::string description_;
  std::vector<std::unique_ptr<Option>> options_;
  std::vector<std::function<void()>> checks_;
};

// Throws ConfigError("config key '<key>': expected <expectation>, got <got>") — for AddCheck.
[[noreturn]] void Fail(const std::string& key, const std::string& expectation,
                       const std::string& got);

// The values of a resolved configuration (as Schema::ToYaml writes it) by dotted key, each as the
// items Option::CurrentItems() gives (one for a scalar). Throws ConfigError naming `source` if the
// text is not YAML maps of scalars and flat lists.
std::map<std::string, std::vector<std::string>> ResolvedValues(const std::string& yaml_text,
                                                               const std::string& source);

// Edit distance helper for "did you mean" suggestions; exposed for tests.
std::string ClosestMatch(const std::string& word, const std::vector<std::string>& candidates);

}  // namespace simscale::config
