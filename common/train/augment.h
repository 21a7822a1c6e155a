#pragma once

#include <cstdint>

#include "common/models/policy.h"

// Training-time image augmentation. Evaluation never calls it: a policy sees its cameras' frames
// exactly as rendered.
namespace simscale::train {

// Random shift (DrQ, robomimic's CropRandomizer in its shift form): each image of each camera is
// padded by `pad` pixels on every side (edge pixels repeated) and cropped back to its size at an
// offset drawn uniformly from [0, 2 * pad] per image and axis, from LibTorch's generator (the
// trainer seeds it per step and rank, so a resumed run repeats the offsets). pad 0 is identity.
void RandomShift(models::Batch* batch, int64_t pad);

}  // namespace simscale::train
