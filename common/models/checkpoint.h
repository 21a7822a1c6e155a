#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/models/checkpoint_layout.h"
#include "common/models/checkpoint_metadata.h"
#include "common/models/model_options.h"
#include "common/models/policy.h"

// The checkpoint format (DESIGN.md §8). A checkpoint is a directory:
//   model.pt      every parameter and buffer of the policy: a pickled {name: tensor} dictionary
//                 (CPU tensors; Python's torch.load reads it too)
//   optimizer.pt  optional: the optimizer's state (torch::save of the optimizer)
//   meta.yaml     format version, model name and options, the policy contract (observation keys,
//                 history, cameras, image sizes, language, horizon, env), step, world size,
//                 normalisation statistics (a readable copy; the tensors are authoritative), the
//                 optimizer's type, hyper-parameters and parameter shapes, the resolved config and
//                 the trainer's opaque `extra` state
//   COMPLETE      the completion marker, written last
// It is written under a temporary sibling name, every file fsynced, and renamed into place, so a
// reader sees a whole checkpoint or none. Loading validates the metadata and the name, shape and
// type of every tensor before assigning anything, and reports all mismatches in one error.
//
// Checkpoints are trusted input: LibTorch's archive readers are not hardened against hostile
// files. Load only checkpoints you (or your cluster) wrote.
namespace simscale::models {

// Writes a checkpoint of `model` (and `optimizer`, if not null) into `dir`, replacing a previous
// checkpoint there. Only the caller decides which rank writes. `before_marker` (if set) runs after
// the files are written and before the completion marker (tests interrupt the write there). A
// failed write (a full disk) throws IoError naming `dir` and removes what it had written, leaving
// every other checkpoint as it was.
void SaveCheckpoint(const std::filesystem::path& dir, const Policy& model,
                    const torch::optim::Optimizer* optimizer, const CheckpointMetadata& metadata,
                    const std::function<void()>& before_marker = nullptr);

// Builds the model named in the metadata with its options, loads its tensors and moves it to
// `device`. The metadata is returned through `metadata` if not null.
std::shared_ptr<Policy> LoadCheckpoint(const std::filesystem::path& dir,
                                       CheckpointMetadata* metadata = nullptr,
                                       const torch::Device& device = torch::kCPU);

// Loads the tensors into an existing model after checking that its name and options match the
// metadata and that every tensor's name, shape and dtype match; all mismatches are reported at
// once and nothing is assigned unless everything matches.
void LoadModelState(const std::filesystem::path& dir, Policy* model);

// Restores the optimizer's state and its hyper-parameters (learning rate, betas, eps, weight
// decay, momentum..., which LibTorch's own loader does not restore). The optimizer must be of the
// same type, over parameters of the same shapes in the same order; mismatches are reported at once
// before anything is changed. Throws if the checkpoint has no optimizer state.
void LoadOptimizerState(const std::filesystem::path& dir, torch::optim::Optimizer* optimizer);

}  // namespace simscale::models
