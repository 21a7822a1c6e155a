#include "common/train/augment.h"

#include <vector>

#include <torch/torch.h>

namespace simscale::train {

void RandomShift(models::Batch* batch, int64_t pad) {
  if (pad <= 0) return;
  namespace F = torch::nn::functional;
  for (auto& entry : batch->images) {
    torch::Tensor& images = entry.second;  // (B, C, H, W)
    const int64_t b = images.size(0), h = images.size(2), w = images.size(3);
    const auto padded =
        F::pad(images, F::PadFuncOptions({pad, pad, pad, pad}).mode(torch::kReplicate));
    const auto offsets = torch::randint(0, 2 * pad + 1, {b, 2}, torch::kInt64).cpu();
    const auto* o = offsets.data_ptr<int64_t>();
    std::vector<torch::Tensor> crops;
    crops.reserve(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) {
      crops.push_back(padded[i].narrow(1, o[2 * i], h).narrow(2, o[2 * i + 1], w));
    }
    images = torch::stack(crops);
  }
}

}  // namespace simscale::train
