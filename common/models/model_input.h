#pragma once

#include <cstdint>

#include <torch/torch.h>

// The one conversion from what a policy observes (uint8 camera frames, float state) to the tensors
// a model takes. The training loader (stored steps) and checkpoint policies (live frames) both call
// it, so a model sees the same input for the same step, bit for bit, whichever path feeds it.
namespace simscale::models {

// `count` row-major HxWx3 uint8 images -> (count, 3, size, size) float32 in [0, 1]; area-resampled
// when H or W differs from `size` (size <= 0: kept at H x W). Copies; `hwc` may be freed after.
torch::Tensor ImagesToTensor(const uint8_t* hwc, int64_t count, int64_t height, int64_t width,
                             int64_t size);

// `rows` x `dim` float32 values -> a (rows, dim) float32 tensor (a copy).
torch::Tensor StatesToTensor(const float* values, int64_t rows, int64_t dim);

}  // namespace simscale::models
