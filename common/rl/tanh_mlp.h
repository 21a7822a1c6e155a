#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace simscale::rl {

// The .grad of `parameter` for writing into: the one bound already (by train::GradientBuckets,
// say), else new zeros; checked to be contiguous float32.
torch::Tensor& WritableGrad(const torch::Tensor& parameter);

// Forward and backward passes of a tanh MLP (Linear, Tanh, ..., Tanh, Linear) without autograd:
// matrix products (models::CpuSgemm) into buffers kept from call to call, and gradients written
// straight into the parameters' .grad tensors. PPO's networks are small and its minibatches
// short, so autograd's per-operation costs and allocations, not arithmetic, dominated its update.
// Shares the parameters of the Sequential it is built from (float32, CPU, contiguous).
class TanhMlpPass {
 public:
  explicit TanhMlpPass(const torch::nn::Sequential& mlp);

  int64_t in_features() const { return layers_.front().in; }
  int64_t out_features() const { return layers_.back().out; }

  // The outputs (rows x out_features, row-major) for `rows` rows of x (rows x in_features, which
  // must stay valid until Backward). Valid until the next Forward.
  const float* Forward(const float* x, int64_t rows);
  // Overwrites every layer's weight and bias .grad with the gradient of a loss whose gradient
  // with respect to the outputs of the last Forward is `grad_out` (rows x out_features). With 0
  // rows the gradients are zero.
  void Backward(const float* grad_out);

 private:
  struct Layer {
    torch::Tensor weight, bias;  // [out, in], [out]
    int64_t in = 0, out = 0;
  };
  std::vector<Layer> layers_;
  const float* input_ = nullptr;
  int64_t rows_ = 0;
  std::vector<std::vector<float>> outputs_;  // per layer, rows x out (tanh applied but last)
  std::vector<float> grad_a_, grad_b_;       // rows x widest input, alternately dZ and dX
};

}  // namespace simscale::rl
