#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/core/device.h"
#include "common/core/log.h"
#include "common/models/model_options.h"

// A trained model as a checkpoint policy sees it: raw observations in, raw actions out, no
// LibTorch in sight. The implementation (LibTorch, common/policies/torch_action_model.cc) lives in
// a module library that LoadActionModel opens on first use, so a tool that never runs a checkpoint
// policy (datagen_mpi with the scripted expert on 64 ranks) never loads LibTorch.
namespace simscale::policies {

// One decision's inputs, as the env and renderer produce them.
struct ModelInputs {
  const float* state = nullptr;              // spec().state_dim values (history-stacked slices)
  std::vector<const uint8_t*> images;        // one per spec().policy.cameras: HxWx3 RGB, row-major
  int image_height = 0, image_width = 0;     // the render size
  const std::string* instruction = nullptr;  // the episode's instruction, when uses_language
};

class ActionModel {
 public:
  virtual ~ActionModel() = default;
  virtual const models::ModelSpec& spec() const = 0;
  // Writes spec().policy.action_horizon x spec().action_dim actions in raw units, row-major.
  virtual void Predict(const ModelInputs& inputs, double* actions) = 0;
};

struct ActionModelOptions {
  Device device = Device::kCpu;
  int threads = 1;  // LibTorch intra-op threads
};

// Loads the model of a complete checkpoint directory (not a run directory: see
// ResolveCheckpoint). Opens the LibTorch module library on first use; a missing library or a bad
// checkpoint is an InvalidArgumentError naming it.
std::unique_ptr<ActionModel> LoadActionModel(const std::filesystem::path& checkpoint,
                                             const ActionModelOptions& options);

// --- The module library's entry point (internal) --------------------------------------------
// The host's logger settings travel with the request so the library's lines look like the host's.
struct ActionModelRequest {
  std::string checkpoint;
  ActionModelOptions options;
  int rank = 0, world_size = 1;
  log::Level level = log::Level::kInfo;
  log::Sink sink;
};
using LoadActionModelFunction = ActionModel* (*)(const ActionModelRequest& request,
                                                 std::string* error);
inline constexpr const char* kLoadActionModelSymbol = "simscale_load_action_model";
inline constexpr const char* kActionModelLibrary = "libsimscale_action_model.so";

}  // namespace simscale::policies
