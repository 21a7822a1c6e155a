#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

// Where checkpoints live in a run directory, and which of them count: the part of the checkpoint
// format (checkpoint.h) that needs no LibTorch, for tools that only look for checkpoints.
//   <run_dir>/checkpoints/step_<step, 9 digits>/      a checkpoint (complete once COMPLETE exists)
//   <run_dir>/checkpoints/ema_step_<step, 9 digits>/  the EMA weights saved with it, if any
//   <run_dir>/checkpoints/update_<update, 9 digits>/  a PPO checkpoint (ppo_vec, common/rl)
namespace simscale::models {

inline constexpr const char* kCheckpointMarker = "COMPLETE";
inline constexpr const char* kCheckpointMetadataFile = "meta.yaml";
inline constexpr const char* kTrainCheckpointPrefix = "step_";
inline constexpr const char* kPpoCheckpointPrefix = "update_";

// True if `dir` holds a checkpoint whose completion marker exists.
bool IsCompleteCheckpoint(const std::filesystem::path& dir);

// <run_dir>/checkpoints/step_<step, 9 digits>
std::filesystem::path CheckpointDirectory(const std::filesystem::path& run_dir, int64_t step,
                                          const char* prefix = kTrainCheckpointPrefix);

// The directory of the EMA weights saved beside `checkpoint` (the one rule for its name).
std::filesystem::path EmaCheckpointDirectory(const std::filesystem::path& checkpoint);

// The complete checkpoint with the highest step under <run_dir>/checkpoints, if any.
std::optional<std::filesystem::path> FindLatestCompleteCheckpoint(
    const std::filesystem::path& run_dir, const char* prefix = kTrainCheckpointPrefix);

// What a write that never finished left under <run_dir>/checkpoints: entries named `prefix`<N> or
// ema_`prefix`<N>, with or without a temporary suffix (".tmp-<host>-<pid>"), that are not complete
// checkpoints, and EMA checkpoints whose main checkpoint is not complete. Loading ignores them.
// Only meaningful while no writer is at work on the run directory (at resume).
std::vector<std::filesystem::path> PartialCheckpoints(const std::filesystem::path& run_dir,
                                                      const char* prefix = kTrainCheckpointPrefix);

// Removes all but the newest `keep_last` complete checkpoints named `prefix`<N>, with their EMA
// siblings; returns the checkpoints removed. Incomplete ones (a writer may still be at work) are
// left alone.
std::vector<std::filesystem::path> PruneCheckpoints(const std::filesystem::path& run_dir,
                                                    int64_t keep_last,
                                                    const char* prefix = kTrainCheckpointPrefix);

}  // namespace simscale::models
