// Compiled with -fno-math-errno (CMakeLists.txt): errno from sqrt would keep loops scalar. No
// -ffast-math: ExpF relies on exact float rounding.
#include "common/models/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(__SANITIZE_ADDRESS__)
#define SIMSCALE_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SIMSCALE_CPU_CLONES
#endif

namespace simscale::models::internal {
namespace {

constexpr int kLanes = 16;  // partial sums per reduction, so that reductions vectorise

// A 32-bit integer hash (two rounds of Wellons' "lowbias32" mixer keyed by the two halves of the
// seed): 32-bit multiplies vectorise on every x86 ISA, where 64-bit ones need AVX-512DQ.
inline uint32_t Mix32(uint32_t x) {
  x ^= x >> 16;
  x *= 0x7feb352dU;
  x ^= x >> 15;
  x *= 0x846ca68bU;
  x ^= x >> 16;
  return x;
}

inline uint32_t Hash32(uint64_t seed, uint64_t index) {
  const auto low = static_cast<uint32_t>(seed), high = static_cast<uint32_t>(seed >> 32);
  return Mix32(Mix32(static_cast<uint32_t>(index) ^ low) + high);
}

struct MaskParams {
  uint64_t threshold;  // drop when hash < threshold
  float keep_scale;
};

inline MaskParams Params(const DropoutMask& mask) {
  return {static_cast<uint64_t>(mask.probability * 4294967296.0),
          static_cast<float>(1.0 / (1.0 - mask.probability))};
}

// e^x to ~2 ulp for x in [-87, 88]; exactly 0 below -87 (so e^-inf = 0). Range reduction
// x = n ln2 + r, |r| <= ln2/2, then a degree-6 Taylor polynomial and 2^n built from its bits.
inline float ExpF(float x) {
  const float clamped = std::min(std::max(x, -87.0f), 88.0f);
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693359375f;
  constexpr float kLn2Lo = -2.12194440e-4f;
  constexpr float kRound = 12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
  const float n = (clamped * kLog2e + kRound) - kRound;
  const float r = clamped - n * kLn2Hi - n * kLn2Lo;
  const float poly =
      1.0f +
      r * (1.0f + r * (0.5f + r * (1.0f / 6.0f + r * (1.0f / 24.0f +
                                                      r * (1.0f / 120.0f + r * (1.0f / 720.0f))))));
  const uint32_t bits = static_cast<uint32_t>(static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return x < -87.0f ? 0.0f : poly * scale;
}

// erf to ~1.5e-7 absolute (Abramowitz & Stegun 7.1.26).
inline float ErfF(float x) {
  const float a = std::fabs(x);
  const float t = 1.0f / (1.0f + 0.3275911f * a);
  const float poly =
      t * (0.254829592f +
           t * (-0.284496736f + t * (1.421413741f + t * (-1.453152027f + t * 1.061405429f))));
  const float y = 1.0f - poly * ExpF(-a * a);
  return x < 0.0f ? -y : y;
}

// tanh as the odd rational minimax approximation p(x) / q(x) of degrees 13 / 6 that Eigen, XLA
// and ONNX Runtime use for float32: no exp, one division. Clamped at +-7.9053 (where tanh rounds
// to +-1); tanh(x) = x below |x| = 4e-4. Largest error against double-precision tanh over
// [-12, 12]: 4e-7 (about 6 float ulp of 1). NaN propagates.
inline float TanhF(float x) {
  constexpr float kClamp = 7.90531110763549805f;
  const float c = std::min(std::max(x, -kClamp), kClamp);
  const float t = c * c;
  float p = -2.76076847742355e-16f;
  p = p * t + 2.00018790482477e-13f;
  p = p * t - 8.60467152213735e-11f;
  p = p * t + 5.12229709037114e-08f;
  p = p * t + 1.48572235717979e-05f;
  p = p * t + 6.37261928875436e-04f;
  p = p * t + 4.89352455891786e-03f;
  float q = 1.19825839466702e-06f;
  q = q * t + 1.18534705686654e-04f;
  q = q * t + 2.26843463243900e-03f;
  q = q * t + 4.89352518554385e-03f;
  return std::fabs(x) < 4e-4f ? x : c * p / q;
}

constexpr float kInvSqrt2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;

inline float Gelu(float x) { return 0.5f * x * (1.0f + ErfF(x * kInvSqrt2)); }
inline float GeluGrad(float x) {
  return 0.5f * (1.0f + ErfF(x * kInvSqrt2)) + x * kInvSqrt2Pi * ExpF(-0.5f * x * x);
}

inline float RowMax(const float* v, int64_t n) {
  float part[kLanes];
  for (int l = 0; l < kLanes; ++l) part[l] = -std::numeric_limits<float>::infinity();
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] = std::max(part[l], v[j + l]);
  }
  float m = -std::numeric_limits<float>::infinity();
  for (; j < n; ++j) m = std::max(m, v[j]);
  for (int l = 0; l < kLanes; ++l) m = std::max(m, part[l]);
  return m;
}

inline float RowDot(const float* a, const float* b, int64_t n) {
  float part[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += a[j + l] * b[j + l];
  }
  float sum = 0.0f;
  for (; j < n; ++j) sum += a[j] * b[j];
  for (int l = 0; l < kLanes; ++l) sum += part[l];
  return sum;
}

inline float RowSum(const float* v, int64_t n) {
  float part[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= n; j += kLanes) {
    for (int l = 0; l < kLanes; ++l) part[l] += v[j + l];
  }
  float sum = 0.0f;
  for (; j < n; ++j) sum += v[j];
  for (int l = 0; l < kLanes; ++l) sum += part[l];
  return sum;
}

}  // namespace

SIMSCALE_CPU_CLONES
void FillDropoutMask(float* __restrict out, int64_t n, const DropoutMask& mask) {
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    out[i] = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold ? 0.0f : m.keep_scale;
  }
}

SIMSCALE_CPU_CLONES
void ActivationDropoutForward(const float* __restrict x, float* __restrict y, int64_t n,
                              ActivationKind kind, const DropoutMask& mask) {
  switch (kind) {
    case ActivationKind::kIdentity:
      std::memmove(y, x, static_cast<size_t>(n) * sizeof(float));
      break;
    case ActivationKind::kRelu:
      for (int64_t i = 0; i < n; ++i) y[i] = std::max(x[i], 0.0f);
      break;
    case ActivationKind::kGelu:
      for (int64_t i = 0; i < n; ++i) y[i] = Gelu(x[i]);
      break;
  }
  if (!mask.enabled) return;
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    const bool drop = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold;
    y[i] = drop ? 0.0f : y[i] * m.keep_scale;
  }
}

SIMSCALE_CPU_CLONES
void ActivationDropoutBackward(const float* __restrict x, const float* __restrict grad_y,
                               float* __restrict grad_x, int64_t n, ActivationKind kind,
                               const DropoutMask& mask) {
  switch (kind) {
    case ActivationKind::kIdentity:
      std::memmove(grad_x, grad_y, static_cast<size_t>(n) * sizeof(float));
      break;
    case ActivationKind::kRelu:
      for (int64_t i = 0; i < n; ++i) grad_x[i] = x[i] > 0.0f ? grad_y[i] : 0.0f;
      break;
    case ActivationKind::kGelu:
      for (int64_t i = 0; i < n; ++i) grad_x[i] = grad_y[i] * GeluGrad(x[i]);
      break;
  }
  if (!mask.enabled) return;
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    const bool drop = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold;
    grad_x[i] = drop ? 0.0f : grad_x[i] * m.keep_scale;
  }
}

SIMSCALE_CPU_CLONES
void AddDropoutForward(const float* __restrict x, const float* __restrict r, float* __restrict out,
                       int64_t n, const DropoutMask& mask) {
  if (!mask.enabled) {
    for (int64_t i = 0; i < n; ++i) out[i] = x[i] + r[i];
    return;
  }
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    const bool drop = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold;
    out[i] = x[i] + (drop ? 0.0f : r[i] * m.keep_scale);
  }
}

SIMSCALE_CPU_CLONES
void DropoutBackward(const float* __restrict grad, float* __restrict grad_r, int64_t n,
                     const DropoutMask& mask) {
  if (!mask.enabled) {
    std::memmove(grad_r, grad, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    const bool drop = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold;
    grad_r[i] = drop ? 0.0f : grad[i] * m.keep_scale;
  }
}

SIMSCALE_CPU_CLONES
void SoftmaxRowsInPlace(float* __restrict x, int64_t rows, int64_t cols,
                        const float* __restrict key_bias) {
  for (int64_t r = 0; r < rows; ++r) {
    float* out = x + r * cols;
    if (key_bias != nullptr) {
      for (int64_t j = 0; j < cols; ++j) out[j] += key_bias[j];
    }
    const float max = RowMax(out, cols);
    for (int64_t j = 0; j < cols; ++j) out[j] = ExpF(out[j] - max);
    const float inv = 1.0f / RowSum(out, cols);
    for (int64_t j = 0; j < cols; ++j) out[j] *= inv;
  }
}

SIMSCALE_CPU_CLONES
void SoftmaxRowsBackward(const float* __restrict p, float* __restrict grad, int64_t rows,
                         int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* pr = p + r * cols;
    float* g = grad + r * cols;
    const float dot = RowDot(pr, g, cols);
    for (int64_t j = 0; j < cols; ++j) g[j] = pr[j] * (g[j] - dot);
  }
}

SIMSCALE_CPU_CLONES
void DropoutApply(const float* __restrict p, float* __restrict out, int64_t n,
                  const DropoutMask& mask) {
  if (!mask.enabled) {
    std::memmove(out, p, static_cast<size_t>(n) * sizeof(float));
    return;
  }
  const MaskParams m = Params(mask);
  const uint64_t seed = mask.seed, offset = mask.offset;
  for (int64_t i = 0; i < n; ++i) {
    const bool drop = Hash32(seed, offset + static_cast<uint64_t>(i)) < m.threshold;
    out[i] = drop ? 0.0f : p[i] * m.keep_scale;
  }
}

SIMSCALE_CPU_CLONES
void LayerNormForward(const float* __restrict x, const float* __restrict weight,
                      const float* __restrict bias, float* __restrict y, float* __restrict mean,
                      float* __restrict rstd, int64_t rows, int64_t cols, float eps) {
  const float inv_cols = 1.0f / static_cast<float>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    float* out = y + r * cols;
    const float mu = RowSum(in, cols) * inv_cols;
    for (int64_t j = 0; j < cols; ++j) out[j] = in[j] - mu;  // centred, reused below
    const float inv_std = 1.0f / std::sqrt(RowDot(out, out, cols) * inv_cols + eps);
    for (int64_t j = 0; j < cols; ++j) out[j] = out[j] * inv_std * weight[j] + bias[j];
    mean[r] = mu;
    rstd[r] = inv_std;
  }
}

SIMSCALE_CPU_CLONES
void LayerNormBackward(const float* __restrict x, const float* __restrict weight,
                       const float* __restrict mean, const float* __restrict rstd,
                       const float* __restrict grad_y, float* __restrict grad_x,
                       float* __restrict grad_weight, float* __restrict grad_bias, int64_t rows,
                       int64_t cols) {
  const float inv_cols = 1.0f / static_cast<float>(cols);
  for (int64_t r = 0; r < rows; ++r) {
    const float* in = x + r * cols;
    const float* g = grad_y + r * cols;
    float* gx = grad_x + r * cols;
    const float mu = mean[r], inv_std = rstd[r];
    // gx temporarily holds x_hat; the sums give mean(dx_hat) and mean(dx_hat * x_hat).
    float sum_dxhat = 0.0f, sum_dxhat_xhat = 0.0f;
    for (int64_t j = 0; j < cols; ++j) gx[j] = (in[j] - mu) * inv_std;
    for (int64_t j = 0; j < cols; ++j) {
      grad_weight[j] += g[j] * gx[j];
      grad_bias[j] += g[j];
    }
    {
      float part_a[kLanes] = {}, part_b[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= cols; j += kLanes) {
        for (int l = 0; l < kLanes; ++l) {
          const float dxhat = g[j + l] * weight[j + l];
          part_a[l] += dxhat;
          part_b[l] += dxhat * gx[j + l];
        }
      }
      for (; j < cols; ++j) {
        const float dxhat = g[j] * weight[j];
        sum_dxhat += dxhat;
        sum_dxhat_xhat += dxhat * gx[j];
      }
      for (int l = 0; l < kLanes; ++l) {
        sum_dxhat += part_a[l];
        sum_dxhat_xhat += part_b[l];
      }
    }
    const float mean_a = sum_dxhat * inv_cols, mean_b = sum_dxhat_xhat * inv_cols;
    for (int64_t j = 0; j < cols; ++j) {
      gx[j] = inv_std * (g[j] * weight[j] - mean_a - gx[j] * mean_b);
    }
  }
}

SIMSCALE_CPU_CLONES
void BiasTanhRows(float* __restrict x, const float* __restrict bias, int64_t rows, int64_t cols) {
  for (int64_t r = 0; r < rows; ++r) {
    float* row = x + r * cols;
    for (int64_t j = 0; j < cols; ++j) row[j] = TanhF(row[j] + bias[j]);
  }
}

SIMSCALE_CPU_CLONES
void TanhBackwardRows(const float* __restrict y, float* __restrict grad, int64_t rows, int64_t cols,
                      float* __restrict column_sums) {
  std::fill_n(column_sums, cols, 0.0f);
  for (int64_t r = 0; r < rows; ++r) {
    const float* out = y + r * cols;
    float* g = grad + r * cols;
    for (int64_t j = 0; j < cols; ++j) {
      g[j] *= 1.0f - out[j] * out[j];
      column_sums[j] += g[j];
    }
  }
}

SIMSCALE_CPU_CLONES
double SquaredSum(const float* __restrict x, int64_t n) {
  constexpr int kDoubleLanes = 32;  // four AVX-512 accumulators: the adds' latency is hidden
  double part[kDoubleLanes] = {};
  int64_t i = 0;
  for (; i + kDoubleLanes <= n; i += kDoubleLanes) {
    for (int l = 0; l < kDoubleLanes; ++l) {
      const double v = x[i + l];
      part[l] += v * v;
    }
  }
  double sum = 0.0;
  for (; i < n; ++i) sum += static_cast<double>(x[i]) * x[i];
  for (int l = 0; l < kDoubleLanes; ++l) sum += part[l];
  return sum;
}

SIMSCALE_CPU_CLONES
void AdamWUpdate(float* __restrict param, const float* __restrict grad, float* __restrict exp_avg,
                 float* __restrict exp_avg_sq, int64_t n, const AdamWCoefficients& coefficients) {
  const AdamWCoefficients c = coefficients;  // a local copy cannot alias the arrays
  const float one_minus_beta1 = 1.0f - c.beta1;
  const float one_minus_beta2 = 1.0f - c.beta2;
  for (int64_t i = 0; i < n; ++i) {
    const float g = grad[i] * c.grad_scale;
    const float m = c.beta1 * exp_avg[i] + one_minus_beta1 * g;
    const float v = c.beta2 * exp_avg_sq[i] + one_minus_beta2 * g * g;
    exp_avg[i] = m;
    exp_avg_sq[i] = v;
    param[i] = param[i] * c.decay - c.step_size * m / (std::sqrt(v) * c.inv_sqrt_bias + c.eps);
  }
}

}  // namespace simscale::models::internal
