#pragma once

// The golden regression: a fixed-seed datagen run and a short BC training whose numbers are
// checked into tests/golden/*.json. Written by golden_record (scripts/update_golden.sh), compared
// exactly by golden_test. The numbers are defined only for the versions recorded with them.
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

namespace simscale::golden {

inline constexpr const char* kDatagenFile = "datagen_pick_place.json";
inline constexpr const char* kTrainFile = "train_bc_losses.json";

// {"mujoco": mj_versionString(), "libtorch": TORCH_VERSION}.
nlohmann::json Versions();

// The golden datagen run: pick_place debug config, seed 11, 4 episodes, DR "default", camera
// agentview at 16x16, on `ranks` ranks into `output`. Returns the digest of the file written:
// per episode its length, seed, success, return, DR values and the store's CRC-32C of every
// column (each verified against the rows read back), and the renderer datagen reported. Throws
// Error with the tool's output if the run fails.
nlohmann::json RunDatagen(int ranks, const std::filesystem::path& output);

// The golden training: BC on `dataset`, 20 steps, a metrics line every step, seed 3, 1 thread,
// CPU, 1 rank, into `run`. Returns per step its loss, lr and gradient norm as train_ddp logs them,
// the final loss at full precision and the CRC-32C of the final model.pt. Throws on failure.
nlohmann::json RunTrain(const std::filesystem::path& dataset, const std::filesystem::path& run);

// The first difference between two digests, as "<where>: expected <a>, got <b>" (where names the
// episode and column, or the step and value); "" when they are equal.
std::string FirstDifference(const nlohmann::json& expected, const nlohmann::json& actual);

// Drops the checksums of image columns (the renderer decides their pixels).
nlohmann::json WithoutImages(nlohmann::json digest);

}  // namespace simscale::golden
