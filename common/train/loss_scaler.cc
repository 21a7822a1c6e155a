#include "common/train/loss_scaler.h"

#include <algorithm>

namespace simscale::train {

LossScaler::LossScaler(bool enabled) : enabled_(enabled) {
  if (enabled_) state_.scale = kInitialScale;
}

void LossScaler::Update(bool finite_step) {
  if (!enabled_) return;
  if (!finite_step) {
    state_.scale = std::max(1.0, state_.scale / 2);
    state_.good_steps = 0;
  } else if (++state_.good_steps >= kGrowthInterval) {
    state_.scale *= 2;
    state_.good_steps = 0;
  }
}

void LossScaler::Restore(const LossScalerState& state) {
  if (enabled_) state_ = state;
}

}  // namespace simscale::train
