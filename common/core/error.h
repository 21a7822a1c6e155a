#pragma once

#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>

#include <fmt/format.h>

namespace simscale {

// Base of every exception the library throws. Messages say what failed, the offending value and
// what was expected ("datagen.episodes: expected an integer >= 1, got '0'"). Code that catches an
// Error on its way up may add context with WithContext().
class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}

  // Process exit code a tool uses when this error ends it: 1 for runtime failures, 2 for bad
  // input (configuration, arguments), as in common command-line tools.
  virtual int exit_code() const { return 1; }
};

// Bad input from the user: a configuration value, a file that does not match what it should be.
class InvalidArgumentError : public Error {
 public:
  using Error::Error;
  int exit_code() const override { return 2; }
};

// Something on disk could not be read, written or renamed.
class IoError : public Error {
 public:
  using Error::Error;
};

namespace internal {

[[noreturn]] void ThrowCheckFailure(const char* file, int line, const char* condition,
                                    const std::string& message);

// Formats a value for an error message; strings are quoted so empty values stay visible.
template <typename T>
std::string Quote(const T& value) {
  if constexpr (std::is_convertible_v<const T&, std::string_view>) {
    return fmt::format("'{}'", std::string_view(value));
  } else {
    return fmt::format("{}", value);
  }
}

}  // namespace internal

// Throws InvalidArgumentError("<what>: expected <expected>, got <value>") unless `ok`.
template <typename T>
void CheckArgument(bool ok, std::string_view what, const T& value, std::string_view expected) {
  if (!ok) {
    throw InvalidArgumentError(
        fmt::format("{}: expected {}, got {}", what, expected, internal::Quote(value)));
  }
}

}  // namespace simscale

// Internal invariant: throws simscale::Error naming the condition and its source location.
// (Named SIMSCALE_CHECK, not CHECK: glog, pulled in by LibTorch, owns CHECK.)
#define SIMSCALE_CHECK(condition, ...)                                        \
  do {                                                                        \
    if (!(condition)) {                                                       \
      ::simscale::internal::ThrowCheckFailure(__FILE__, __LINE__, #condition, \
                                              ::fmt::format(__VA_ARGS__));    \
    }                                                                         \
  } while (false)
