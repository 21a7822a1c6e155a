#pragma once

#include <cstdint>

namespace simscale::train {

// What a checkpoint keeps of the loss scaler.
struct LossScalerState {
  double scale = 1.0;
  int64_t good_steps = 0;  // finite steps since the scale last changed
};

// Dynamic loss scaling for fp16: the loss is multiplied by scale() before backward so that small
// gradients survive half precision, and the gradients are divided by it again before use. A
// non-finite step halves the scale (not below 1); kGrowthInterval finite steps in a row double it.
// Disabled (fp32, bf16), the scale stays 1. The state goes into every checkpoint so that a resumed
// run goes on with the scale it had instead of probing down from kInitialScale again.
class LossScaler {
 public:
  static constexpr double kInitialScale = 65536.0;
  static constexpr int64_t kGrowthInterval = 2000;

  explicit LossScaler(bool enabled);

  bool enabled() const { return enabled_; }
  double scale() const { return state_.scale; }
  // After each step, with whether its loss and gradients were finite.
  void Update(bool finite_step);

  const LossScalerState& state() const { return state_; }
  // Continues from a saved state; a disabled scaler (the run changed precision) ignores it.
  void Restore(const LossScalerState& state);

 private:
  bool enabled_;
  LossScalerState state_;
};

}  // namespace simscale::train
