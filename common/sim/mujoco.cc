#include "common/sim/mujoco.h"

#include <array>
#include <mutex>

#include <fmt/format.h>

#include "common/core/log.h"

namespace simscale::sim {
namespace {

std::mutex& WarningMutex() {
  static std::mutex mutex;
  return mutex;
}
std::vector<std::string>& Warnings() {
  static std::vector<std::string> warnings;
  return warnings;
}
int64_t& WarningTotal() {
  static int64_t total = 0;
  return total;
}

void ThrowingErrorHandler(const char* message) {
  throw MujocoError(fmt::format("MuJoCo error: {}", message));
}

void RecordingWarningHandler(const char* message) {
  {
    std::lock_guard<std::mutex> lock(WarningMutex());
    Warnings().emplace_back(message);
    ++WarningTotal();
  }
  log::Debug("MuJoCo warning: {}", message);
}

}  // namespace

void InstallMujocoHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    mju_user_error = ThrowingErrorHandler;
    mju_user_warning = RecordingWarningHandler;
  });
}

std::vector<std::string> TakeMujocoWarnings() {
  std::lock_guard<std::mutex> lock(WarningMutex());
  std::vector<std::string> out;
  out.swap(Warnings());
  return out;
}

int64_t MujocoWarningCount() {
  std::lock_guard<std::mutex> lock(WarningMutex());
  return WarningTotal();
}

ModelPtr LoadModelFromXml(const std::filesystem::path& path) {
  InstallMujocoHandlers();
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) {
    throw MujocoError(
        fmt::format("MJCF file '{}' does not exist or is not a regular file", path.string()));
  }
  std::array<char, 1024> error{};
  mjModel* model = mj_loadXML(path.c_str(), nullptr, error.data(), static_cast<int>(error.size()));
  if (model == nullptr) {
    throw MujocoError(fmt::format("cannot load MJCF file '{}': {}", path.string(), error.data()));
  }
  return ModelPtr(model);
}

ModelPtr LoadModelFromString(const std::string& xml, const std::string& name) {
  InstallMujocoHandlers();
  // MuJoCo 2.2.2 loads XML only through a (virtual) file system.
  mjVFS vfs;
  mj_defaultVFS(&vfs);
  const std::string file = "model.xml";
  if (mj_makeEmptyFileVFS(&vfs, file.c_str(), static_cast<int>(xml.size())) != 0) {
    mj_deleteVFS(&vfs);
    throw MujocoError(fmt::format("cannot allocate a virtual file for MJCF '{}'", name));
  }
  const int index = mj_findFileVFS(&vfs, file.c_str());
  std::copy(xml.begin(), xml.end(), static_cast<char*>(vfs.filedata[index]));
  std::array<char, 1024> error{};
  mjModel* model = mj_loadXML(file.c_str(), &vfs, error.data(), static_cast<int>(error.size()));
  mj_deleteVFS(&vfs);
  if (model == nullptr) {
    throw MujocoError(fmt::format("cannot load MJCF '{}': {}", name, error.data()));
  }
  return ModelPtr(model);
}

DataPtr MakeData(const mjModel* model) {
  InstallMujocoHandlers();
  mjData* data = mj_makeData(model);
  if (data == nullptr) throw MujocoError("mj_makeData failed (out of memory?)");
  return DataPtr(data);
}

}  // namespace simscale::sim
