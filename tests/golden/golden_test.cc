// Golden regression: a fixed-seed datagen run (4 episodes, one camera) and 20 steps of BC training
// must reproduce the numbers checked into tests/golden/*.json exactly: per episode the store's
// CRC-32C of every column, the lengths, returns, success and DR values; per step the loss, lr and
// gradient norm, the final loss and the final weights. The numbers are defined for the MuJoCo and
// LibTorch versions they were made with; other versions skip.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/core/atomic_file.h"
#include "tests/golden/golden.h"

namespace simscale::golden {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;

constexpr const char* kRegenerate =
    "if this change is intended, regenerate with scripts/update_golden.sh and explain why in the "
    "commit";

json ReadGolden(const char* name) {
  return json::parse(ReadFile(fs::path(SIMSCALE_SOURCE_DIR) / "tests/golden" / name));
}

class GoldenTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("simscale_golden_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    expected_datagen_ = ReadGolden(kDatagenFile);
    expected_train_ = ReadGolden(kTrainFile);
    for (const json* golden : {&expected_datagen_, &expected_train_}) {
      if (golden->at("versions") != Versions()) {
        GTEST_SKIP() << "the golden numbers were made with " << golden->at("versions").dump()
                     << " and are defined only for those versions; this build has "
                     << Versions().dump();
      }
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Compares a datagen digest; image checksums only when the renderer is the golden one.
  void ExpectDatagenMatches(json actual) const {
    json expected = expected_datagen_;
    if (expected.at("renderer") != actual.at("renderer")) {
      std::printf("image columns not compared: rendered by %s, the golden by %s\n",
                  actual.at("renderer").dump().c_str(), expected.at("renderer").dump().c_str());
      expected = WithoutImages(expected);
      actual = WithoutImages(actual);
    }
    const std::string difference = FirstDifference(expected, actual);
    EXPECT_EQ(difference, "") << "datagen differs from tests/golden/" << kDatagenFile << " at"
                              << difference << "\n"
                              << kRegenerate;
  }

  fs::path dir_;
  json expected_datagen_, expected_train_;
};

TEST_F(GoldenTest, DatagenAndTrainingReproduceTheCheckedInNumbersExactly) {
  const fs::path dataset = dir_ / "pick_place.h5";
  ExpectDatagenMatches(RunDatagen(1, dataset));
  const json train = RunTrain(dataset, dir_ / "bc");
  const std::string difference = FirstDifference(expected_train_, train);
  EXPECT_EQ(difference, "") << "training differs from tests/golden/" << kTrainFile << " at"
                            << difference << "\n"
                            << kRegenerate;
}

// The store's content does not depend on the rank count: 2 ranks give the same numbers.
TEST_F(GoldenTest, DatagenAtTwoRanksReproducesTheSameNumbers) {
  ExpectDatagenMatches(RunDatagen(2, dir_ / "pick_place.h5"));
}

}  // namespace
}  // namespace simscale::golden
