#include "common/core/atomic_file.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/core/error.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;

class AtomicFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("simscale_atomic_" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "_" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(AtomicFileTest, WritesContentAndCreatesParents) {
  const fs::path path = dir_ / "a" / "b" / "config.yaml";
  WriteFileAtomic(path, "x: 1\n");
  EXPECT_EQ(ReadFile(path), "x: 1\n");
}

TEST_F(AtomicFileTest, ReplacesExistingFileAndLeavesNoTemporaries) {
  const fs::path path = dir_ / "file.txt";
  WriteFileAtomic(path, "old");
  WriteFileAtomic(path, "new content");
  EXPECT_EQ(ReadFile(path), "new content");
  int entries = 0;
  for (const auto& entry : fs::directory_iterator(dir_)) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "file.txt");
  }
  EXPECT_EQ(entries, 1);
}

TEST_F(AtomicFileTest, FailureKeepsTheOldFile) {
  const fs::path path = dir_ / "keep.txt";
  WriteFileAtomic(path, "precious");
  // A directory where the temporary file should go makes the write fail before the rename.
  fs::create_directories(TemporarySibling(path));
  EXPECT_THROW(WriteFileAtomic(path, "replacement"), IoError);
  EXPECT_EQ(ReadFile(path), "precious");
}

TEST_F(AtomicFileTest, ReadingAMissingFileNamesIt) {
  try {
    ReadFile(dir_ / "missing.yaml");
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("missing.yaml"), std::string::npos) << e.what();
  }
}

TEST_F(AtomicFileTest, TemporarySiblingIsBesideTheTarget) {
  const fs::path path = dir_ / "out.h5";
  const fs::path tmp = TemporarySibling(path);
  EXPECT_EQ(tmp.parent_path(), path.parent_path());
  EXPECT_EQ(tmp.filename().string().rfind("out.h5.tmp-", 0), 0u) << tmp;
}

}  // namespace
}  // namespace simscale
