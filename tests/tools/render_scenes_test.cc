// The scene images tool, and the two GL platforms giving the same pixels (each needs its own
// process: MuJoCo binds one GL platform per process).
#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <string>

#include "common/core/atomic_file.h"
#include "tests/support/process.h"

namespace simscale {
namespace {
namespace fs = std::filesystem;
using testing_support::RunProcess;
using testing_support::ToolPath;

TEST(RenderScenes, EglAndOsmesaWriteIdenticalPngsForEveryCamera) {
  const fs::path dir = fs::temp_directory_path() / ("simscale_render_" + std::to_string(getpid()));
  fs::remove_all(dir);
  for (const char* backend : {"egl", "osmesa"}) {
    const auto result = RunProcess(ToolPath("render_scenes") + " --size 64 --steps 10 --backend " +
                                       backend + " --output " + (dir / backend).string(),
                                   120);
    ASSERT_EQ(result.exit_code, 0) << result.output;
    EXPECT_NE(result.output.find(std::string(backend == std::string("egl") ? "egl_" : "osmesa")),
              std::string::npos)
        << result.output;
  }
  int compared = 0;
  for (const auto& entry : fs::directory_iterator(dir / "egl")) {
    const fs::path other = dir / "osmesa" / entry.path().filename();
    ASSERT_TRUE(fs::exists(other)) << other;
    EXPECT_EQ(ReadFile(entry.path()), ReadFile(other)) << entry.path().filename();
    ++compared;
  }
  // 3 envs x 2 cameras x 2 moments.
  EXPECT_EQ(compared, 12);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace simscale
