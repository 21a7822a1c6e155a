#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace simscale::testing_support {

// Base fixture for anything that steps MuJoCo: a MuJoCo warning (bad QACC, contact buffer full,
// ...) that the test did not announce with ExpectMujocoWarning() fails the test.
class MujocoTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // The test expects at least one warning containing `substring`.
  void ExpectMujocoWarning(const std::string& substring);

 private:
  std::vector<std::string> expected_;
};

}  // namespace simscale::testing_support
