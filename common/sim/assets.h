#pragma once

#include <mujoco/mujoco.h>

#include <filesystem>
#include <memory>
#include <string>

namespace simscale::sim {

// The directory holding the MJCF scenes. In order: $SIMSCALE_ASSETS_DIR, the source tree's
// assets/ (when running from a build tree), the installed share/simscale/assets.
std::filesystem::path AssetsDir();

// AssetsDir() / name; throws MujocoError naming every place searched if the file is missing.
std::filesystem::path AssetPath(const std::string& name);

// The compiled model of an asset, compiled once per process and shared (read-only) by every env
// that uses it. Thread-safe.
std::shared_ptr<const mjModel> LoadSharedModel(const std::string& asset_name);

}  // namespace simscale::sim
