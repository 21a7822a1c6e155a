#pragma once

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "tests/support/process.h"

namespace simscale::train::testing {

// A fixture with a small reach dataset (24 expert episodes, written by datagen_mpi on 2 ranks) in a
// directory of its own, for tests that run train_ddp as users run it.
class TrainDatasetTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = std::filesystem::temp_directory_path() / ("simscale_train_" + std::to_string(getpid()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    dataset_ = dir_ / "reach.h5";
    const auto result = testing_support::RunProcess(
        testing_support::MpiRun(2) + testing_support::ToolPath("datagen_mpi") +
            " --env reach --episodes 24 --max-steps 40 --output " + dataset_.string() +
            " --log.level warn",
        300);
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  static void TearDownTestSuite() { std::filesystem::remove_all(dir_); }

  static inline std::filesystem::path dir_;
  static inline std::filesystem::path dataset_;
};

}  // namespace simscale::train::testing
