#include "common/rl/tanh_mlp.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "common/core/error.h"
#include "common/models/cpu_kernels.h"
#include "common/models/layers.h"

namespace simscale::rl {
namespace {

float* Data(const torch::Tensor& t) { return t.data_ptr<float>(); }

void Grow(std::vector<float>* buffer, int64_t size) {
  if (static_cast<int64_t>(buffer->size()) < size) buffer->resize(static_cast<size_t>(size));
}

}  // namespace

torch::Tensor& WritableGrad(const torch::Tensor& parameter) {
  torch::Tensor& grad = parameter.mutable_grad();
  if (!grad.defined()) grad = torch::zeros_like(parameter);
  SIMSCALE_CHECK(grad.is_contiguous() && grad.scalar_type() == torch::kFloat32,
                 "gradients written without autograd must be contiguous float32");
  return grad;
}

TanhMlpPass::TanhMlpPass(const torch::nn::Sequential& mlp) {
  const auto children = mlp->children();
  for (size_t i = 0; i < children.size(); ++i) {
    const bool linear_slot = i % 2 == 0;
    const auto* linear = children[i]->as<torch::nn::LinearImpl>();
    const bool is_tanh = children[i]->as<torch::nn::TanhImpl>() != nullptr;
    SIMSCALE_CHECK(linear_slot ? linear != nullptr : is_tanh,
                   "the tanh MLP pass needs Linear, Tanh, ..., Linear; module {} is {}", i,
                   children[i]->name());
    if (linear == nullptr) continue;
    SIMSCALE_CHECK(linear->bias.defined(), "the tanh MLP pass needs Linear layers with a bias");
    for (const torch::Tensor& p : {linear->weight, linear->bias}) {
      SIMSCALE_CHECK(p.device().is_cpu() && p.scalar_type() == torch::kFloat32 && p.is_contiguous(),
                     "the tanh MLP pass needs contiguous float32 CPU parameters");
    }
    layers_.push_back(
        {linear->weight, linear->bias, linear->weight.size(1), linear->weight.size(0)});
  }
  SIMSCALE_CHECK(!layers_.empty() && children.size() % 2 == 1,
                 "the tanh MLP pass needs an MLP ending in a Linear layer");
  outputs_.resize(layers_.size());
}

const float* TanhMlpPass::Forward(const float* x, int64_t rows) {
  input_ = x;
  rows_ = rows;
  const float* in = x;
  for (size_t l = 0; l < layers_.size(); ++l) {
    const Layer& layer = layers_[l];
    Grow(&outputs_[l], rows * layer.out);
    float* out = outputs_[l].data();
    models::CpuSgemm(false, true, rows, layer.out, layer.in, 1.0f, in, layer.in, Data(layer.weight),
                     layer.in, 0.0f, out, layer.out);
    const float* bias = Data(layer.bias);
    if (l + 1 < layers_.size()) {
      models::internal::BiasTanhRows(out, bias, rows, layer.out);
    } else {
      for (int64_t i = 0; i < rows * layer.out; ++i) out[i] += bias[i % layer.out];
    }
    in = out;
  }
  return outputs_.back().data();
}

void TanhMlpPass::Backward(const float* grad_out) {
  int64_t widest = 0;
  for (const Layer& layer : layers_) widest = std::max(widest, layer.in);
  Grow(&grad_a_, rows_ * widest);
  Grow(&grad_b_, rows_ * widest);
  // The last layer's bias gradient: the column sums of grad_out. The others' come out of
  // TanhBackwardRows on the way down.
  const Layer& top = layers_.back();
  float* top_bias_grad = Data(WritableGrad(top.bias));
  std::fill_n(top_bias_grad, top.out, 0.0f);
  for (int64_t i = 0; i < rows_ * top.out; ++i) top_bias_grad[i % top.out] += grad_out[i];
  const float* grad_z = grad_out;  // dL/d(pre-activation) of layer l
  float* grad_x = grad_a_.data();
  float* spare = grad_b_.data();
  for (size_t l = layers_.size(); l-- > 0;) {
    const Layer& layer = layers_[l];
    const float* x = l == 0 ? input_ : outputs_[l - 1].data();
    float* weight_grad = Data(WritableGrad(layer.weight));
    // dW = dZ^T X; then dX = dZ W and back through the tanh that produced X.
    if (rows_ == 0) {
      std::fill_n(weight_grad, layer.out * layer.in, 0.0f);
    } else {
      models::CpuSgemm(true, false, layer.out, layer.in, rows_, 1.0f, grad_z, layer.out, x,
                       layer.in, 0.0f, weight_grad, layer.in);
    }
    if (l == 0) break;
    models::CpuSgemm(false, false, rows_, layer.in, layer.out, 1.0f, grad_z, layer.out,
                     Data(layer.weight), layer.in, 0.0f, grad_x, layer.in);
    models::internal::TanhBackwardRows(x, grad_x, rows_, layer.in,
                                       Data(WritableGrad(layers_[l - 1].bias)));
    grad_z = grad_x;
    std::swap(grad_x, spare);
  }
}

}  // namespace simscale::rl
