#include "tests/support/mujoco_test.h"

#include "common/sim/mujoco.h"

namespace simscale::testing_support {

void MujocoTest::SetUp() {
  sim::InstallMujocoHandlers();
  sim::TakeMujocoWarnings();  // start clean: warnings of earlier tests are theirs
  expected_.clear();
}

void MujocoTest::ExpectMujocoWarning(const std::string& substring) {
  expected_.push_back(substring);
}

void MujocoTest::TearDown() {
  const std::vector<std::string> warnings = sim::TakeMujocoWarnings();
  std::vector<bool> expected_seen(expected_.size(), false);
  for (const auto& warning : warnings) {
    bool announced = false;
    for (size_t i = 0; i < expected_.size(); ++i) {
      if (warning.find(expected_[i]) != std::string::npos) {
        announced = true;
        expected_seen[i] = true;
      }
    }
    if (!announced) ADD_FAILURE() << "unexpected MuJoCo warning: " << warning;
  }
  for (size_t i = 0; i < expected_.size(); ++i) {
    if (!expected_seen[i])
      ADD_FAILURE() << "expected a MuJoCo warning containing '" << expected_[i] << "'";
  }
}

}  // namespace simscale::testing_support
