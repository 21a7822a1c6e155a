#include "common/core/error.h"

#include <gtest/gtest.h>

#include <string>

namespace simscale {
namespace {

TEST(Error, CheckArgumentNamesWhatValueAndExpectation) {
  try {
    CheckArgument(false, "datagen.episodes", 0, "an integer >= 1");
    FAIL() << "expected a throw";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()), "datagen.episodes: expected an integer >= 1, got 0");
    EXPECT_EQ(e.exit_code(), 2);
  }
}

TEST(Error, CheckArgumentQuotesStrings) {
  try {
    CheckArgument(false, "env", std::string(""), "a registered env name");
    FAIL() << "expected a throw";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()), "env: expected a registered env name, got ''");
  }
}

TEST(Error, CheckArgumentPassesWhenOk) { EXPECT_NO_THROW(CheckArgument(true, "x", 1, "anything")); }

TEST(Error, CheckMacroReportsConditionAndLocation) {
  try {
    const int rows = 3;
    SIMSCALE_CHECK(rows == 4, "expected 4 rows, have {}", rows);
    FAIL() << "expected a throw";
  } catch (const Error& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("expected 4 rows, have 3"), std::string::npos) << message;
    EXPECT_NE(message.find("rows == 4"), std::string::npos) << message;
    EXPECT_NE(message.find("error_test.cc:"), std::string::npos) << message;
    EXPECT_EQ(e.exit_code(), 1);
  }
}

}  // namespace
}  // namespace simscale
