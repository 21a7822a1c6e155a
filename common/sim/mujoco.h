#pragma once

#include <mujoco/mujoco.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/core/error.h"

// The toolkit's only wrapper of MuJoCo's C API for loading, errors and warnings. MuJoCo's default
// error handler calls exit(); InstallMujocoHandlers() replaces it with one that throws MujocoError,
// and records warnings so that tests can fail on unexpected ones and envs can flag divergence.
namespace simscale::sim {

class MujocoError : public Error {
 public:
  using Error::Error;
};

// Idempotent and thread-safe; every entry point that touches MuJoCo calls it.
void InstallMujocoHandlers();

// Warnings reported through mju_warning since the last TakeWarnings(), process-wide and in order.
std::vector<std::string> TakeMujocoWarnings();
int64_t MujocoWarningCount();

struct ModelDeleter {
  void operator()(mjModel* model) const { mj_deleteModel(model); }
};
struct DataDeleter {
  void operator()(mjData* data) const { mj_deleteData(data); }
};
using ModelPtr = std::unique_ptr<mjModel, ModelDeleter>;
using DataPtr = std::unique_ptr<mjData, DataDeleter>;

// Compiles an MJCF file. Throws MujocoError naming the file and MuJoCo's parser message (which
// gives the XML element and line) when it is missing, unreadable or invalid.
ModelPtr LoadModelFromXml(const std::filesystem::path& path);
// Compiles MJCF text given in memory (tests, generated scenes). `name` is used in messages.
ModelPtr LoadModelFromString(const std::string& xml, const std::string& name);

DataPtr MakeData(const mjModel* model);

}  // namespace simscale::sim
