#pragma once

#include <cstdint>

// Element-wise and row-wise CPU loops behind the models' fused layers (common/models/layers.cc)
// and FusedAdamW. LibTorch 1.13 runs these as several passes with a fixed cost each, which
// dominated the small models. They are free of LibTorch so that they compile quickly with their own
// flags (see CMakeLists.txt), and built for several x86 ISAs (AVX-512, AVX2, baseline), chosen at
// load time.
namespace simscale::models::internal {

// --- Dropout masks
// -------------------------------------------------------------------------------- Element i of a
// mask keeps its value (scaled by 1 / (1 - p)) unless a 32-bit hash of (seed, offset + i) falls
// below p * 2^32: a counter-based mask, regenerated in the backward pass from the seed instead of
// being stored. Indices are taken modulo 2^32.
struct DropoutMask {
  bool enabled = false;  // false: identity
  double probability = 0.0;
  uint64_t seed = 0;
  uint64_t offset = 0;  // index of element 0
};

// out[i] = keep_scale or 0 as the mask says.
void FillDropoutMask(float* out, int64_t n, const DropoutMask& mask);

// --- Activation followed by dropout -------------------------------------------------------------
enum class ActivationKind : int { kIdentity = 0, kRelu = 1, kGelu = 2 };

// y = dropout(act(x)); GELU is the exact (erf) form, with erf to ~2e-7.
void ActivationDropoutForward(const float* x, float* y, int64_t n, ActivationKind kind,
                              const DropoutMask& mask);
// grad_x = grad_y * dropout' * act'(x).
void ActivationDropoutBackward(const float* x, const float* grad_y, float* grad_x, int64_t n,
                               ActivationKind kind, const DropoutMask& mask);
// out = x + dropout(r), for residual branches.
void AddDropoutForward(const float* x, const float* r, float* out, int64_t n,
                       const DropoutMask& mask);
// grad_r = dropout'(grad).
void DropoutBackward(const float* grad, float* grad_r, int64_t n, const DropoutMask& mask);

// --- Softmax rows -------------------------------------------------------------------------------
// x = softmax(x + key_bias) over each row of `cols` values. key_bias (cols values, may be null) is
// 0 for columns that may be attended and -infinity for the others, whose probability is then
// exactly 0. Every row must keep at least one column.
void SoftmaxRowsInPlace(float* x, int64_t rows, int64_t cols, const float* key_bias);
// In place: grad (dL/dp on entry) becomes dL/ds = p * (grad - sum_j grad_j p_j).
void SoftmaxRowsBackward(const float* p, float* grad, int64_t rows, int64_t cols);
// out = dropout(p) for a block of n probabilities whose first mask index is mask.offset.
void DropoutApply(const float* p, float* out, int64_t n, const DropoutMask& mask);

// --- LayerNorm over the last dimension -----------------------------------------------------------
// y = (x - mean) * rstd * weight + bias per row; mean and rstd (one per row) are kept for backward.
void LayerNormForward(const float* x, const float* weight, const float* bias, float* y, float* mean,
                      float* rstd, int64_t rows, int64_t cols, float eps);
// grad_x from grad_y; grad_weight and grad_bias (cols each) are accumulated (+=).
void LayerNormBackward(const float* x, const float* weight, const float* mean, const float* rstd,
                       const float* grad_y, float* grad_x, float* grad_weight, float* grad_bias,
                       int64_t rows, int64_t cols);

// --- Tanh layers (the MLPs of common/rl) --------------------------------------------------------
// x[r, j] = tanh(x[r, j] + bias[j]) over `rows` rows of `cols` values, tanh to a few float ulp
// (NaN stays NaN, +-inf gives +-1).
void BiasTanhRows(float* x, const float* bias, int64_t rows, int64_t cols);
// Back through those layers: grad *= 1 - y^2 (y the tanh output), and column_sums[j] = the sum
// of column j of the result (the bias's gradient).
void TanhBackwardRows(const float* y, float* grad, int64_t rows, int64_t cols, float* column_sums);

// --- Reductions ---------------------------------------------------------------------------------
// Sum of x[i]^2 accumulated in double (NaN and infinities propagate).
double SquaredSum(const float* x, int64_t n);

// --- AdamW
// ----------------------------------------------------------------------------------------
struct AdamWCoefficients {
  float decay;          // 1 - lr * weight_decay
  float beta1, beta2;   // moment decay rates
  float step_size;      // lr / (1 - beta1^t)
  float inv_sqrt_bias;  // 1 / sqrt(1 - beta2^t)
  float eps;
  float grad_scale = 1.0f;  // the gradient is used times this (clipping folded into the pass)
};

// One AdamW update of n contiguous floats, as torch::optim::AdamW computes it (g = grad *
// grad_scale):
//   p *= decay; m = b1 m + (1 - b1) g; v = b2 v + (1 - b2) g^2;
//   p -= step_size m / (sqrt(v) inv_sqrt_bias + eps)
void AdamWUpdate(float* param, const float* grad, float* exp_avg, float* exp_avg_sq, int64_t n,
                 const AdamWCoefficients& c);

}  // namespace simscale::models::internal
