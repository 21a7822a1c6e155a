#include "common/models/model_input.h"

#include <vector>

namespace simscale::models {

torch::Tensor ImagesToTensor(const uint8_t* hwc, int64_t count, int64_t height, int64_t width,
                             int64_t size) {
  torch::Tensor images =
      torch::from_blob(const_cast<uint8_t*>(hwc), {count, height, width, 3}, torch::kUInt8)
          .permute({0, 3, 1, 2})
          .to(torch::kFloat32)
          .div_(255.0);
  if (size > 0 && (height != size || width != size)) {
    namespace F = torch::nn::functional;
    images = F::interpolate(
        images,
        F::InterpolateFuncOptions().size(std::vector<int64_t>{size, size}).mode(torch::kArea));
  }
  return images.contiguous();
}

torch::Tensor StatesToTensor(const float* values, int64_t rows, int64_t dim) {
  return torch::from_blob(const_cast<float*>(values), {rows, dim}, torch::kFloat32).clone();
}

}  // namespace simscale::models
