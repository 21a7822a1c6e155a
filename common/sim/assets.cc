#include "common/sim/assets.h"

#include <cstdlib>
#include <map>
#include <mutex>

#include <fmt/format.h>

#include "common/core/build_info.h"
#include "common/sim/mujoco.h"

namespace simscale::sim {
namespace fs = std::filesystem;

std::filesystem::path AssetsDir() {
  if (const char* env = std::getenv("SIMSCALE_ASSETS_DIR"); env != nullptr && *env != '\0') {
    return env;
  }
  std::error_code ec;
  if (fs::is_directory(build_info::kSourceAssetsDir, ec)) return build_info::kSourceAssetsDir;
  return build_info::kInstallAssetsDir;
}

std::filesystem::path AssetPath(const std::string& name) {
  const fs::path path = AssetsDir() / name;
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) {
    throw MujocoError(fmt::format(
        "asset '{}' not found at '{}' (set SIMSCALE_ASSETS_DIR to the folder holding the MJCF "
        "scenes; searched $SIMSCALE_ASSETS_DIR, '{}', '{}')",
        name, path.string(), build_info::kSourceAssetsDir, build_info::kInstallAssetsDir));
  }
  return path;
}

std::shared_ptr<const mjModel> LoadSharedModel(const std::string& asset_name) {
  static std::mutex mutex;
  static std::map<std::string, std::shared_ptr<const mjModel>> cache;
  std::lock_guard<std::mutex> lock(mutex);
  auto it = cache.find(asset_name);
  if (it != cache.end()) return it->second;
  ModelPtr model = LoadModelFromXml(AssetPath(asset_name));
  std::shared_ptr<const mjModel> shared(model.release(), ModelDeleter());
  cache.emplace(asset_name, shared);
  return shared;
}

}  // namespace simscale::sim
