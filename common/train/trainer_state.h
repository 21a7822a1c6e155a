#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/train/loader.h"
#include "common/train/loss_scaler.h"
#include "common/train/nonfinite_guard.h"

namespace simscale::train {

// What a checkpoint must restore for an exact resume (stored as the checkpoint's `extra`).
struct TrainerState {
  int64_t step = 0;     // optimizer steps done
  LoaderPosition data;  // next training batch
  NonFiniteCounts nonfinite;
  // Saved when the scaler is on (fp16); absent in checkpoints of other runs and in those written
  // before it was saved, which resume from the initial scale.
  std::optional<LossScalerState> loss_scaler;
  double samples_seen = 0;
};

// The checkpoint's `extra`: what an exact resume restores (the policy contract is saved with the
// model, in the checkpoint's `policy` section).
std::string TrainerStateToYaml(const TrainerState& state);
// Throws InvalidArgumentError naming `source` when the text is not what TrainerStateToYaml wrote.
TrainerState TrainerStateFromYaml(const std::string& text, const std::string& source);

}  // namespace simscale::train
