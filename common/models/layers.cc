#include "common/models/layers.h"

#include <dlfcn.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <limits>
#include <mutex>
#include <vector>

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Parallel.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/models/char_vocabulary.h"
#include "common/models/compat.h"
#include "common/models/cpu_kernels.h"

namespace simscale::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::tensor_list;

// --- oneDNN sgemm, loaded at run time
// ------------------------------------------------------------- dnnl_sgemm is part of oneDNN's
// stable C API (1.x to 3.x): row-major C = alpha op(A) op(B) + beta C. It is looked up in the
// oneDNN library that Debian's LibTorch already links, so no build dependency is added; where it
// cannot be found the LibTorch operations are used.
using SgemmFunction = int (*)(char transa, char transb, int64_t m, int64_t n, int64_t k,
                              float alpha, const float* a, int64_t lda, const float* b, int64_t ldb,
                              float beta, float* c, int64_t ldc);

struct Backend {
  SgemmFunction sgemm = nullptr;
  std::atomic<bool> enabled{false};
};

Backend& GetBackend() {
  static Backend* backend = [] {
    auto* b = new Backend;  // never destroyed: used until exit
    for (const char* name : {"libdnnl.so.3", "libdnnl.so.2"}) {
      if (void* handle = dlopen(name, RTLD_NOW | RTLD_LOCAL)) {
        b->sgemm = reinterpret_cast<SgemmFunction>(dlsym(handle, "dnnl_sgemm"));
        if (b->sgemm) break;
      }
    }
    // On wherever oneDNN is found; SetCpuKernels(kTorch) is the only way to turn it off, so a
    // run's numerics depend on its code, not on its environment.
    b->enabled = b->sgemm != nullptr;
    return b;
  }();
  return *backend;
}

// Row-major C (m x n) = alpha op(A) op(B) + beta C; lda/ldb/ldc are row strides.
void Sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
           int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  if (m == 0 || n == 0) return;
  // oneDNN's OpenMP threads follow this thread's OpenMP setting; make it LibTorch's.
  thread_local bool threads_initialised = false;
  if (!threads_initialised) {
    at::init_num_threads();
    threads_initialised = true;
  }
  const int status = GetBackend().sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', m, n, k, alpha, a,
                                        lda, b, ldb, beta, c, ldc);
  SIMSCALE_CHECK(status == 0, "dnnl_sgemm failed with status {} (m={} n={} k={})", status, m, n, k);
}

uint64_t DrawSeed() {
  auto generator = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(generator.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(generator)->random64();
}

internal::DropoutMask MakeMask(double p, bool training) {
  internal::DropoutMask mask;
  mask.enabled = training && p > 0.0;
  mask.probability = p;
  if (mask.enabled) mask.seed = DrawSeed();
  return mask;
}

void SaveMask(AutogradContext* ctx, const internal::DropoutMask& mask) {
  ctx->saved_data["mask_enabled"] = mask.enabled;
  ctx->saved_data["mask_p"] = mask.probability;
  ctx->saved_data["mask_seed"] = static_cast<int64_t>(mask.seed);
}

internal::DropoutMask LoadMask(AutogradContext* ctx) {
  internal::DropoutMask mask;
  mask.enabled = ctx->saved_data["mask_enabled"].toBool();
  mask.probability = ctx->saved_data["mask_p"].toDouble();
  mask.seed = static_cast<uint64_t>(ctx->saved_data["mask_seed"].toInt());
  return mask;
}

// Runs fn(begin, end, mask) over chunks of [0, n) on LibTorch's threads; each chunk's mask starts
// at its own element index, so the result does not depend on the thread count.
template <typename F>
void ForChunks(int64_t n, const internal::DropoutMask& mask, const F& fn) {
  constexpr int64_t kGrain = 32768;
  at::parallel_for(0, n, kGrain, [&](int64_t begin, int64_t end) {
    internal::DropoutMask chunk = mask;
    chunk.offset = mask.offset + static_cast<uint64_t>(begin);
    fn(begin, end, chunk);
  });
}

// --- Dense
// ----------------------------------------------------------------------------------------

// y = x W^T (+ b) over the last dimension of a contiguous x (..., K), W (N, K): y (..., N).
torch::Tensor LinearForward(const torch::Tensor& x, const torch::Tensor& weight,
                            const torch::Tensor& bias) {
  const int64_t k = weight.size(1), n = weight.size(0), m = x.numel() / k;
  auto sizes = x.sizes().vec();
  sizes.back() = n;
  auto y = torch::empty(sizes, x.options());
  float beta = 0.0f;
  if (bias.defined()) {  // the product accumulates onto the bias
    const float* b = bias.data_ptr<float>();
    float* rows = y.data_ptr<float>();
    for (int64_t i = 0; i < m; ++i) std::memcpy(rows + i * n, b, sizeof(float) * n);
    beta = 1.0f;
  }
  Sgemm(false, true, m, n, k, 1.0f, x.data_ptr<float>(), k, weight.data_ptr<float>(), k, beta,
        y.data_ptr<float>(), n);
  return y;
}

// Gradients of x and W (those needed) for y = x W^T; grad is contiguous (..., N).
void LinearBackward(const torch::Tensor& grad, const torch::Tensor& x, const torch::Tensor& weight,
                    bool need_x, bool need_weight, torch::Tensor* grad_x,
                    torch::Tensor* grad_weight) {
  const int64_t k = weight.size(1), n = weight.size(0), m = x.numel() / k;
  if (need_x) {
    *grad_x = torch::empty_like(x);
    Sgemm(false, false, m, k, n, 1.0f, grad.data_ptr<float>(), n, weight.data_ptr<float>(), k, 0.0f,
          grad_x->data_ptr<float>(), k);
  }
  if (need_weight) {
    *grad_weight = torch::empty_like(weight);
    Sgemm(true, false, n, k, m, 1.0f, grad.data_ptr<float>(), n, x.data_ptr<float>(), k, 0.0f,
          grad_weight->data_ptr<float>(), k);
  }
}

// Custom autograd functions cannot take undefined tensors, hence two variants.
class FusedLinear : public torch::autograd::Function<FusedLinear> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight, const torch::Tensor& bias) {
    ctx->save_for_backward({x, weight});
    return LinearForward(x, weight, bias);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor grad = grad_outputs[0].contiguous();
    torch::Tensor grad_x, grad_weight, grad_bias;
    LinearBackward(grad, saved[0], saved[1], ctx->needs_input_grad(0), ctx->needs_input_grad(1),
                   &grad_x, &grad_weight);
    if (ctx->needs_input_grad(2)) grad_bias = grad.view({-1, grad.size(-1)}).sum(0);
    return {grad_x, grad_weight, grad_bias};
  }
};

class FusedLinearNoBias : public torch::autograd::Function<FusedLinearNoBias> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& weight) {
    ctx->save_for_backward({x, weight});
    return LinearForward(x, weight, torch::Tensor());
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    torch::Tensor grad_x, grad_weight;
    LinearBackward(grad_outputs[0].contiguous(), saved[0], saved[1], ctx->needs_input_grad(0),
                   ctx->needs_input_grad(1), &grad_x, &grad_weight);
    return {grad_x, grad_weight};
  }
};

// --- Activation + dropout, residual + dropout ----------------------------------------------------

internal::ActivationKind KindOf(Activation activation) {
  switch (activation) {
    case Activation::kRelu:
      return internal::ActivationKind::kRelu;
    case Activation::kGelu:
      return internal::ActivationKind::kGelu;
    case Activation::kIdentity:
      break;
  }
  return internal::ActivationKind::kIdentity;
}

class FusedActivationDropout : public torch::autograd::Function<FusedActivationDropout> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               Activation activation, double p, bool training) {
    const auto x = input.contiguous();
    const auto mask = MakeMask(p, training);
    auto y = torch::empty_like(x);
    const float* in = x.data_ptr<float>();
    float* out = y.data_ptr<float>();
    ForChunks(x.numel(), mask, [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
      internal::ActivationDropoutForward(in + begin, out + begin, end - begin, KindOf(activation),
                                         m);
    });
    ctx->save_for_backward({x});
    ctx->saved_data["activation"] = static_cast<int64_t>(activation);
    SaveMask(ctx, mask);
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto x = ctx->get_saved_variables()[0];
    const auto grad = grad_outputs[0].contiguous();
    auto grad_x = torch::empty_like(x);
    const auto activation = static_cast<Activation>(ctx->saved_data["activation"].toInt());
    const float* in = x.data_ptr<float>();
    const float* g = grad.data_ptr<float>();
    float* out = grad_x.data_ptr<float>();
    ForChunks(x.numel(), LoadMask(ctx),
              [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
                internal::ActivationDropoutBackward(in + begin, g + begin, out + begin, end - begin,
                                                    KindOf(activation), m);
              });
    return {grad_x, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

class FusedAddDropout : public torch::autograd::Function<FusedAddDropout> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& r_in, double p, bool training) {
    const auto x = x_in.contiguous();
    const auto r = r_in.contiguous();
    const auto mask = MakeMask(p, training);
    auto out = torch::empty_like(x);
    const float* xp = x.data_ptr<float>();
    const float* rp = r.data_ptr<float>();
    float* op = out.data_ptr<float>();
    ForChunks(x.numel(), mask, [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
      internal::AddDropoutForward(xp + begin, rp + begin, op + begin, end - begin, m);
    });
    SaveMask(ctx, mask);
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto grad = grad_outputs[0].contiguous();
    const auto mask = LoadMask(ctx);
    torch::Tensor grad_r = grad;
    if (mask.enabled) {
      grad_r = torch::empty_like(grad);
      const float* gp = grad.data_ptr<float>();
      float* rp = grad_r.data_ptr<float>();
      ForChunks(grad.numel(), mask,
                [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
                  internal::DropoutBackward(gp + begin, rp + begin, end - begin, m);
                });
    }
    return {grad, grad_r, torch::Tensor(), torch::Tensor()};
  }
};

class FusedLayerNormFunction : public torch::autograd::Function<FusedLayerNormFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               const torch::Tensor& weight, const torch::Tensor& bias, double eps) {
    const auto x = input.contiguous();
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    auto y = torch::empty_like(x);
    auto stats = torch::empty({2, rows}, x.options());  // mean, rstd
    const float* in = x.data_ptr<float>();
    float* out = y.data_ptr<float>();
    float* mean = stats.data_ptr<float>();
    float* rstd = mean + rows;
    const float* w = weight.data_ptr<float>();
    const float* b = bias.data_ptr<float>();
    at::parallel_for(0, rows, std::max<int64_t>(1, 32768 / cols), [&](int64_t begin, int64_t end) {
      internal::LayerNormForward(in + begin * cols, w, b, out + begin * cols, mean + begin,
                                 rstd + begin, end - begin, cols, static_cast<float>(eps));
    });
    ctx->save_for_backward({x, weight});
    ctx->saved_data["stats"] = stats;
    return y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& weight = saved[1];
    const auto stats = ctx->saved_data["stats"].toTensor();
    const int64_t cols = x.size(-1), rows = x.numel() / cols;
    const auto grad = grad_outputs[0].contiguous();
    auto grad_x = torch::empty_like(x);
    auto grad_weight = torch::zeros_like(weight);
    auto grad_bias = torch::zeros_like(weight);
    internal::LayerNormBackward(
        x.data_ptr<float>(), weight.data_ptr<float>(), stats.data_ptr<float>(),
        stats.data_ptr<float>() + rows, grad.data_ptr<float>(), grad_x.data_ptr<float>(),
        grad_weight.data_ptr<float>(), grad_bias.data_ptr<float>(), rows, cols);
    return {grad_x, grad_weight, grad_bias, torch::Tensor()};
  }
};

// --- MLP
// ------------------------------------------------------------------------------------------

struct LayerActivation {
  Activation activation = Activation::kIdentity;
  double dropout = 0.0;
};

struct MlpArgs {
  std::vector<LayerActivation> layers;
  bool training;
};

// A whole MLP as one autograd operation: per layer z = h W^T + b, h' = dropout(act(z)). Keeps each
// layer's input and pre-activation for the backward pass; dropout masks are regenerated from their
// seeds.
class FusedMlpFunction : public torch::autograd::Function<FusedMlpFunction> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& input,
                               torch::TensorList params, const MlpArgs& args) {
    const size_t n = args.layers.size();
    c10::List<torch::Tensor> inputs, pre;
    c10::List<int64_t> seeds;
    torch::Tensor h = input.contiguous();
    for (size_t i = 0; i < n; ++i) {
      const auto& weight = params[2 * i];
      inputs.push_back(h);
      const auto z = LinearForward(h, weight, params[2 * i + 1]);
      const auto mask = MakeMask(args.layers[i].dropout, args.training);
      seeds.push_back(static_cast<int64_t>(mask.seed));
      if (args.layers[i].activation == Activation::kIdentity && !mask.enabled) {
        // Not kept: backward does not need it, and it may be the output, which saved_data must
        // never hold (output -> node -> saved_data -> output would be a reference cycle).
        pre.push_back(torch::Tensor());
        h = z;
        continue;
      }
      pre.push_back(z);
      h = torch::empty_like(z);
      const float* zp = z.data_ptr<float>();
      float* hp = h.data_ptr<float>();
      const auto kind = KindOf(args.layers[i].activation);
      ForChunks(z.numel(), mask, [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
        internal::ActivationDropoutForward(zp + begin, hp + begin, end - begin, kind, m);
      });
    }
    std::vector<torch::Tensor> weights;
    for (size_t i = 0; i < n; ++i) weights.push_back(params[2 * i]);
    ctx->save_for_backward(weights);
    ctx->saved_data["inputs"] = inputs;
    ctx->saved_data["pre"] = pre;
    ctx->saved_data["seeds"] = seeds;
    c10::List<int64_t> kinds;
    c10::List<double> probabilities;
    for (const auto& layer : args.layers) {
      kinds.push_back(static_cast<int64_t>(layer.activation));
      probabilities.push_back(layer.dropout);
    }
    ctx->saved_data["kinds"] = kinds;
    ctx->saved_data["probabilities"] = probabilities;
    ctx->saved_data["training"] = args.training;
    return h;
  }

  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto weights = ctx->get_saved_variables();
    const auto inputs = ctx->saved_data["inputs"].toTensorList();
    const auto pre = ctx->saved_data["pre"].toTensorList();
    const auto seeds = ctx->saved_data["seeds"].toIntList();
    const auto kinds = ctx->saved_data["kinds"].toIntList();
    const auto probabilities = ctx->saved_data["probabilities"].toDoubleList();
    const bool training = ctx->saved_data["training"].toBool();
    const size_t n = weights.size();
    tensor_list grads(1 + 2 * n + 1);  // input, (weight, bias) per layer, args
    torch::Tensor g = grad_outputs[0].contiguous();
    for (size_t k = n; k-- > 0;) {
      const auto activation = static_cast<Activation>(kinds.get(k));
      internal::DropoutMask mask;
      mask.enabled = training && probabilities.get(k) > 0.0;
      mask.probability = probabilities.get(k);
      mask.seed = static_cast<uint64_t>(seeds.get(k));
      if (activation != Activation::kIdentity || mask.enabled) {
        const torch::Tensor z = pre.get(k);
        auto gz = torch::empty_like(z);
        const float* zp = z.data_ptr<float>();
        const float* gp = g.data_ptr<float>();
        float* out = gz.data_ptr<float>();
        const auto kind = KindOf(activation);
        ForChunks(z.numel(), mask, [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
          internal::ActivationDropoutBackward(zp + begin, gp + begin, out + begin, end - begin,
                                              kind, m);
        });
        g = gz;
      }
      const bool need_input = k > 0 || ctx->needs_input_grad(0);
      torch::Tensor grad_h, grad_w;
      LinearBackward(g, inputs.get(k), weights[k], need_input, ctx->needs_input_grad(1 + 2 * k),
                     &grad_h, &grad_w);
      grads[1 + 2 * k] = grad_w;
      if (ctx->needs_input_grad(2 + 2 * k)) grads[2 + 2 * k] = g.view({-1, g.size(-1)}).sum(0);
      g = grad_h;
    }
    if (ctx->needs_input_grad(0)) grads[0] = g;
    return grads;
  }
};

// --- Attention
// ------------------------------------------------------------------------------------

// A (B, rows, H*d) operand viewed per (batch, head): element (b, t, h*d + e) at
// data + b * batch_stride + t * row_stride + h * d + e.
struct Operand {
  float* data;
  int64_t batch_stride;
  int64_t row_stride;
};

// Columns [column, column + H*d) of a contiguous (B, rows, C) tensor.
Operand OperandOf(const torch::Tensor& t, int64_t column = 0) {
  SIMSCALE_CHECK(t.dim() == 3 && t.is_contiguous(), "attention operand {} must be contiguous",
                 ShapeString(t));
  return {t.data_ptr<float>() + column, t.stride(0), t.stride(1)};
}

struct AttentionDims {
  int64_t batch, heads, queries, keys, head_dim;
};

// Additive key bias (B, T): 0 where attended, -inf elsewhere; undefined without a mask.
torch::Tensor KeyBias(const torch::Tensor& key_mask) {
  if (!key_mask.defined()) return torch::Tensor();
  return torch::zeros(key_mask.sizes(), torch::kFloat)
      .masked_fill_(key_mask.logical_not().cpu(), -std::numeric_limits<float>::infinity());
}

// probs (B, H, Tq, T) = softmax(q k^T / sqrt(d) + bias); out (B, Tq, H*d) = dropout(probs) v.
void AttentionForward(const AttentionDims& s, const Operand& q, const Operand& k, const Operand& v,
                      const float* key_bias, float* probs, float* out,
                      const internal::DropoutMask& mask) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t width = s.heads * s.head_dim;
  const int64_t block = s.queries * s.keys;
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> dropped(mask.enabled ? static_cast<size_t>(block) : 0);
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / s.heads, h = index % s.heads;
      const float* qb = q.data + b * q.batch_stride + h * s.head_dim;
      const float* kb = k.data + b * k.batch_stride + h * s.head_dim;
      const float* vb = v.data + b * v.batch_stride + h * s.head_dim;
      float* p = probs + index * block;
      Sgemm(false, true, s.queries, s.keys, s.head_dim, scale, qb, q.row_stride, kb, k.row_stride,
            0.0f, p, s.keys);
      internal::SoftmaxRowsInPlace(p, s.queries, s.keys,
                                   key_bias == nullptr ? nullptr : key_bias + b * s.keys);
      const float* used = p;
      if (mask.enabled) {
        internal::DropoutMask block_mask = mask;
        block_mask.offset = static_cast<uint64_t>(index * block);
        internal::DropoutApply(p, dropped.data(), block, block_mask);
        used = dropped.data();
      }
      Sgemm(false, false, s.queries, s.head_dim, s.keys, 1.0f, used, s.keys, vb, v.row_stride, 0.0f,
            out + b * s.queries * width + h * s.head_dim, width);
    }
  });
}

// Gradients of q, k, v (written through their operands) from grad_out (B, Tq, H*d).
void AttentionBackward(const AttentionDims& s, const Operand& q, const Operand& k, const Operand& v,
                       const float* probs, const float* grad_out, const Operand& grad_q,
                       const Operand& grad_k, const Operand& grad_v,
                       const internal::DropoutMask& mask) {
  const float scale = 1.0f / std::sqrt(static_cast<float>(s.head_dim));
  const int64_t width = s.heads * s.head_dim;
  const int64_t block = s.queries * s.keys;
  at::parallel_for(0, s.batch * s.heads, 1, [&](int64_t begin, int64_t end) {
    std::vector<float> dropped(static_cast<size_t>(block)), grad_p(static_cast<size_t>(block));
    for (int64_t index = begin; index < end; ++index) {
      const int64_t b = index / s.heads, h = index % s.heads;
      const int64_t head = h * s.head_dim;
      const float* qb = q.data + b * q.batch_stride + head;
      const float* kb = k.data + b * k.batch_stride + head;
      const float* vb = v.data + b * v.batch_stride + head;
      const float* p = probs + index * block;
      const float* go = grad_out + b * s.queries * width + head;
      internal::DropoutMask block_mask = mask;
      block_mask.offset = static_cast<uint64_t>(index * block);
      const float* used = p;
      if (mask.enabled) {
        internal::DropoutApply(p, dropped.data(), block, block_mask);
        used = dropped.data();
      }
      // dV = dropout(P)^T dO
      Sgemm(true, false, s.keys, s.head_dim, s.queries, 1.0f, used, s.keys, go, width, 0.0f,
            grad_v.data + b * grad_v.batch_stride + head, grad_v.row_stride);
      // d dropout(P) = dO V^T, then through the dropout and the softmax.
      Sgemm(false, true, s.queries, s.keys, s.head_dim, 1.0f, go, width, vb, v.row_stride, 0.0f,
            grad_p.data(), s.keys);
      if (mask.enabled) {
        internal::DropoutBackward(grad_p.data(), dropped.data(), block, block_mask);
        std::memcpy(grad_p.data(), dropped.data(), static_cast<size_t>(block) * sizeof(float));
      }
      internal::SoftmaxRowsBackward(p, grad_p.data(), s.queries, s.keys);
      // dQ = scale dS K, dK = scale dS^T Q
      Sgemm(false, false, s.queries, s.head_dim, s.keys, scale, grad_p.data(), s.keys, kb,
            k.row_stride, 0.0f, grad_q.data + b * grad_q.batch_stride + head, grad_q.row_stride);
      Sgemm(true, false, s.keys, s.head_dim, s.queries, scale, grad_p.data(), s.keys, qb,
            q.row_stride, 0.0f, grad_k.data + b * grad_k.batch_stride + head, grad_k.row_stride);
    }
  });
}

struct AttentionArgs {
  int64_t heads;
  torch::Tensor key_bias;  // (B, T) float or undefined; not an autograd input
  double dropout;
  bool training;
};

AttentionDims DimsOf(const torch::Tensor& q, const torch::Tensor& kv_source, int64_t width,
                     int64_t heads) {
  return {q.size(0), heads, q.size(1), kv_source.size(1), width / heads};
}

// Self-attention over a packed (B, T, 3D) qkv tensor; gradient returned packed as well.
class PackedAttention : public torch::autograd::Function<PackedAttention> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& qkv_in,
                               const AttentionArgs& args) {
    const auto qkv = qkv_in.contiguous();
    const int64_t width = qkv.size(2) / 3;
    const AttentionDims dims = DimsOf(qkv, qkv, width, args.heads);
    auto probs = torch::empty({dims.batch, dims.heads, dims.queries, dims.keys}, qkv.options());
    auto out = torch::empty({dims.batch, dims.queries, width}, qkv.options());
    const auto mask = MakeMask(args.dropout, args.training);
    AttentionForward(dims, OperandOf(qkv), OperandOf(qkv, width), OperandOf(qkv, 2 * width),
                     args.key_bias.defined() ? args.key_bias.data_ptr<float>() : nullptr,
                     probs.data_ptr<float>(), out.data_ptr<float>(), mask);
    ctx->save_for_backward({qkv});
    ctx->saved_data["probs"] = probs;
    ctx->saved_data["heads"] = args.heads;
    SaveMask(ctx, mask);
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto qkv = ctx->get_saved_variables()[0];
    const auto probs = ctx->saved_data["probs"].toTensor();
    const int64_t width = qkv.size(2) / 3;
    const AttentionDims dims = DimsOf(qkv, qkv, width, ctx->saved_data["heads"].toInt());
    const auto grad_out = grad_outputs[0].contiguous();
    auto grad = torch::empty_like(qkv);
    AttentionBackward(dims, OperandOf(qkv), OperandOf(qkv, width), OperandOf(qkv, 2 * width),
                      probs.data_ptr<float>(), grad_out.data_ptr<float>(), OperandOf(grad),
                      OperandOf(grad, width), OperandOf(grad, 2 * width), LoadMask(ctx));
    return {grad, torch::Tensor()};
  }
};

// Attention of separate queries (B, Tq, D) over packed keys and values (B, T, 2D).
class SplitAttention : public torch::autograd::Function<SplitAttention> {
 public:
  static torch::Tensor forward(AutogradContext* ctx, const torch::Tensor& q_in,
                               const torch::Tensor& kv_in, const AttentionArgs& args) {
    const auto q = q_in.contiguous();
    const auto kv = kv_in.contiguous();
    const int64_t width = q.size(2);
    const AttentionDims dims = DimsOf(q, kv, width, args.heads);
    auto probs = torch::empty({dims.batch, dims.heads, dims.queries, dims.keys}, q.options());
    auto out = torch::empty({dims.batch, dims.queries, width}, q.options());
    const auto mask = MakeMask(args.dropout, args.training);
    AttentionForward(dims, OperandOf(q), OperandOf(kv), OperandOf(kv, width),
                     args.key_bias.defined() ? args.key_bias.data_ptr<float>() : nullptr,
                     probs.data_ptr<float>(), out.data_ptr<float>(), mask);
    ctx->save_for_backward({q, kv});
    ctx->saved_data["probs"] = probs;
    ctx->saved_data["heads"] = args.heads;
    SaveMask(ctx, mask);
    return out;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grad_outputs) {
    const auto saved = ctx->get_saved_variables();
    const auto& q = saved[0];
    const auto& kv = saved[1];
    const auto probs = ctx->saved_data["probs"].toTensor();
    const int64_t width = q.size(2);
    const AttentionDims dims = DimsOf(q, kv, width, ctx->saved_data["heads"].toInt());
    const auto grad_out = grad_outputs[0].contiguous();
    auto grad_q = torch::empty_like(q);
    auto grad_kv = torch::empty_like(kv);
    AttentionBackward(dims, OperandOf(q), OperandOf(kv), OperandOf(kv, width),
                      probs.data_ptr<float>(), grad_out.data_ptr<float>(), OperandOf(grad_q),
                      OperandOf(grad_kv), OperandOf(grad_kv, width), LoadMask(ctx));
    return {grad_q, grad_kv, torch::Tensor()};
  }
};

// The LibTorch formulation, for every device and dtype.
torch::Tensor TorchAttention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                             int64_t heads, const torch::Tensor& key_mask, double dropout,
                             bool training) {
  const int64_t batch = q.size(0), queries = q.size(1), keys = k.size(1), width = q.size(2);
  const int64_t d = width / heads;
  const auto split = [&](const torch::Tensor& t, int64_t rows) {
    return t.reshape({batch, rows, heads, d}).transpose(1, 2);  // (B, H, rows, d)
  };
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  auto scores = torch::matmul(split(q, queries) * scale, split(k, keys).transpose(-2, -1));
  if (key_mask.defined()) {
    scores = scores.masked_fill(key_mask.logical_not().view({batch, 1, 1, keys}),
                                -std::numeric_limits<double>::infinity());
  }
  const auto weights = ApplyDropout(torch::softmax(scores, -1), dropout, training);
  return torch::matmul(weights, split(v, keys)).transpose(1, 2).reshape({batch, queries, width});
}

}  // namespace

std::string ShapeString(const torch::Tensor& tensor) {
  return tensor.defined() ? fmt::format("[{}]", fmt::join(tensor.sizes(), ", ")) : "undefined";
}

void SetCpuKernels(CpuKernels choice) {
  Backend& backend = GetBackend();
  backend.enabled = choice == CpuKernels::kAuto && backend.sgemm != nullptr;
}

std::string CpuKernelsName() { return GetBackend().enabled ? "onednn+fused" : "torch"; }

bool UseFusedCpu(const torch::Tensor& x) {
  return x.device().is_cpu() && x.scalar_type() == torch::kFloat &&
         GetBackend().enabled.load(std::memory_order_relaxed) &&
         !AutocastEnabled(c10::DeviceType::CPU);
}

void CpuSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc) {
  if (GetBackend().enabled.load(std::memory_order_relaxed)) {
    Sgemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  if (m == 0 || n == 0) return;
  // op(X) of a row-major matrix with row stride ld, as a strided view.
  const auto view = [](const float* p, int64_t rows, int64_t cols, int64_t ld, bool trans) {
    const torch::Tensor x = torch::from_blob(const_cast<float*>(p), {rows, cols}, {ld, 1});
    return trans ? x.t() : x;
  };
  torch::Tensor out = torch::from_blob(c, {m, n}, {ldc, 1});
  const torch::Tensor op_a = view(a, trans_a ? k : m, trans_a ? m : k, lda, trans_a);
  const torch::Tensor op_b = view(b, trans_b ? n : k, trans_b ? k : n, ldb, trans_b);
  if (beta == 0.0f) {
    at::mm_out(out, op_a, op_b);
    if (alpha != 1.0f) out.mul_(alpha);
  } else {
    out.addmm_(op_a, op_b, beta, alpha);
  }
}

torch::Tensor DenseForward(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias) {
  if (!UseFusedCpu(x) || weight.scalar_type() != torch::kFloat ||
      (bias.defined() && bias.scalar_type() != torch::kFloat)) {
    return torch::linear(x, weight, bias);
  }
  CheckArgument(x.dim() >= 1 && x.size(-1) == weight.size(1), "Dense input shape", ShapeString(x),
                fmt::format("[..., {}]", weight.size(1)));
  const auto input = x.contiguous();
  return bias.defined() ? FusedLinear::apply(input, weight.contiguous(), bias.contiguous())
                        : FusedLinearNoBias::apply(input, weight.contiguous());
}

torch::Tensor ActivationDropout(const torch::Tensor& x, Activation activation, double p,
                                bool training) {
  if (UseFusedCpu(x)) return FusedActivationDropout::apply(x, activation, p, training);
  torch::Tensor y = x;
  if (activation == Activation::kRelu) y = torch::relu(x);
  if (activation == Activation::kGelu) y = torch::gelu(x);
  return ApplyDropout(y, p, training);
}

torch::Tensor AddDropout(const torch::Tensor& x, const torch::Tensor& r, double p, bool training) {
  if (UseFusedCpu(x) && UseFusedCpu(r) && x.sizes() == r.sizes()) {
    return FusedAddDropout::apply(x, r, p, training);
  }
  return x + ApplyDropout(r, p, training);
}

torch::Tensor ApplyDropout(const torch::Tensor& x, double p, bool training) {
  if (!training || p <= 0.0) return x;
  if (p >= 1.0) return x * 0.0;
  if (!x.device().is_cpu()) return torch::dropout(x, p, /*train=*/true);
  auto mask = torch::empty(x.sizes(), x.options().dtype(torch::kFloat));
  float* out = mask.data_ptr<float>();
  ForChunks(mask.numel(), MakeMask(p, true),
            [&](int64_t begin, int64_t end, const internal::DropoutMask& m) {
              internal::FillDropoutMask(out + begin, end - begin, m);
            });
  return x * (x.scalar_type() == torch::kFloat ? mask : mask.to(x.scalar_type()));
}

torch::Tensor DenseImpl::forward(const torch::Tensor& input) {
  return DenseForward(input, weight, bias);
}

torch::Tensor FusedLayerNormImpl::forward(const torch::Tensor& input) {
  if (!UseFusedCpu(input) || !weight.defined() || options.normalized_shape().size() != 1) {
    return torch::nn::LayerNormImpl::forward(input);
  }
  return FusedLayerNormFunction::apply(input, weight, bias, options.eps());
}

void InitTransformerWeights(torch::nn::Module& module, double std) {
  torch::NoGradGuard no_grad;
  for (const auto& child : module.modules(/*include_self=*/false)) {
    if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(child.get())) {
      linear->weight.normal_(0.0, std);
      if (linear->bias.defined()) linear->bias.zero_();
    } else if (auto* norm = dynamic_cast<torch::nn::LayerNormImpl*>(child.get())) {
      if (norm->weight.defined()) norm->weight.fill_(1.0);
      if (norm->bias.defined()) norm->bias.zero_();
    }
  }
}

MlpImpl::MlpImpl(const MlpOptions& options) : options_(options) {
  int64_t width = options.in;
  std::vector<int64_t> widths = options.hidden;
  widths.push_back(options.out);
  for (size_t i = 0; i < widths.size(); ++i) {
    layers_.push_back(register_module(std::to_string(i), Dense(width, widths[i])));
    width = widths[i];
  }
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  const size_t n = layers_.size();
  std::vector<LayerActivation> acts(n);
  for (size_t i = 0; i < n; ++i) {
    const bool last = i + 1 == n;
    acts[i].activation =
        !last || options_.final_activation ? options_.activation : Activation::kIdentity;
    acts[i].dropout = last ? 0.0 : options_.dropout;
  }
  const bool training = is_training();
  if (UseFusedCpu(x)) {
    std::vector<torch::Tensor> params;
    for (const auto& layer : layers_) {
      params.push_back(layer->weight);
      params.push_back(layer->bias);
    }
    return FusedMlpFunction::apply(x, torch::TensorList(params), MlpArgs{acts, training});
  }
  torch::Tensor h = x;
  for (size_t i = 0; i < n; ++i) {
    h = ActivationDropout(layers_[i](h), acts[i].activation, acts[i].dropout, training);
  }
  return h;
}

TransformerBlockImpl::TransformerBlockImpl(const TransformerBlockOptions& options)
    : options_(options) {
  const int64_t dim = options.dim();
  CheckArgument(dim % options.heads() == 0, "transformer width", dim,
                fmt::format("a multiple of the head count {}", options.heads()));
  const auto hidden = static_cast<int64_t>(std::llround(dim * options.mlp_ratio()));
  norm1_ = register_module("norm1", FusedLayerNorm(dim));
  qkv_ = register_module("qkv", Dense(dim, 3 * dim));
  proj_ = register_module("proj", Dense(dim, dim));
  norm2_ = register_module("norm2", FusedLayerNorm(dim));
  MlpOptions ffn;
  ffn.in = dim;
  ffn.hidden = {hidden};
  ffn.out = dim;
  ffn.activation = Activation::kGelu;
  ffn.dropout = options.dropout();
  ffn_ = register_module("ffn", Mlp(ffn));
}

torch::Tensor TransformerBlockImpl::forward(const torch::Tensor& x, const torch::Tensor& key_mask,
                                            int64_t query_count) {
  return Forward(x, key_mask, UseFusedCpu(x) ? KeyBias(key_mask) : torch::Tensor(), query_count);
}

torch::Tensor TransformerBlockImpl::Forward(const torch::Tensor& x, const torch::Tensor& key_mask,
                                            const torch::Tensor& key_bias, int64_t query_count) {
  const int64_t tokens = x.size(1), dim = options_.dim(), heads = options_.heads();
  const int64_t queries = query_count > 0 ? std::min(query_count, tokens) : tokens;
  const double p = options_.dropout();
  const bool training = is_training();
  const bool fused = UseFusedCpu(x);

  const auto h = norm1_(x);
  torch::Tensor attended;
  if (queries == tokens) {
    const auto qkv = qkv_(h);
    if (fused) {
      attended = PackedAttention::apply(qkv, AttentionArgs{heads, key_bias, p, training});
    } else {
      attended = TorchAttention(qkv.narrow(2, 0, dim), qkv.narrow(2, dim, dim),
                                qkv.narrow(2, 2 * dim, dim), heads, key_mask, p, training);
    }
  } else {
    // Only the first `queries` tokens are updated: their queries against every key and value.
    const auto& w = qkv_->weight;
    const auto& b = qkv_->bias;
    const auto q = DenseForward(h.narrow(1, 0, queries), w.narrow(0, 0, dim), b.narrow(0, 0, dim));
    const auto kv = DenseForward(h, w.narrow(0, dim, 2 * dim), b.narrow(0, dim, 2 * dim));
    if (fused) {
      attended = SplitAttention::apply(q, kv, AttentionArgs{heads, key_bias, p, training});
    } else {
      attended = TorchAttention(q, kv.narrow(2, 0, dim), kv.narrow(2, dim, dim), heads, key_mask, p,
                                training);
    }
  }
  const auto residual = queries == tokens ? x : x.narrow(1, 0, queries);
  const auto y = AddDropout(residual, proj_(attended), p, training);
  return AddDropout(y, ffn_(norm2_(y)), p, training);
}

TransformerImpl::TransformerImpl(int64_t layers, const TransformerBlockOptions& options) {
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < layers; ++i) blocks_->push_back(TransformerBlock(options));
}

torch::Tensor TransformerImpl::forward(torch::Tensor x, const torch::Tensor& key_mask,
                                       int64_t query_count) {
  const size_t n = blocks_->size();
  const auto key_bias = UseFusedCpu(x) ? KeyBias(key_mask) : torch::Tensor();
  for (size_t i = 0; i < n; ++i) {
    x = blocks_->ptr<TransformerBlockImpl>(i)->Forward(x, key_mask, key_bias,
                                                       i + 1 == n ? query_count : 0);
  }
  return x;
}

namespace {

// Throws unless `images` is (B, channels, size, size): every image tokenizer's input check.
void CheckImageBatch(const torch::Tensor& images, int64_t channels, int64_t size) {
  CheckArgument(images.dim() == 4 && images.size(1) == channels && images.size(2) == size &&
                    images.size(3) == size,
                "image batch shape", ShapeString(images),
                fmt::format("(B, {}, {}, {})", channels, size, size));
}

}  // namespace

PatchEmbeddingImpl::PatchEmbeddingImpl(int64_t image_size, int64_t patch_size, int64_t in_channels,
                                       int64_t dim)
    : image_size_(image_size),
      patch_size_(patch_size),
      in_channels_(in_channels),
      dim_(dim),
      num_patches_((image_size / patch_size) * (image_size / patch_size)) {
  CheckArgument(image_size % patch_size == 0, "image size", image_size,
                fmt::format("a multiple of the patch size {}", patch_size));
  proj_ = register_module(
      "proj",
      torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, dim, patch_size).stride(patch_size)));
  position_ = register_parameter("position", 0.02 * torch::randn({1, num_patches_, dim}));
}

torch::Tensor PatchEmbeddingImpl::forward(const torch::Tensor& images) {
  const int64_t batch = images.size(0), grid = image_size_ / patch_size_, p = patch_size_;
  CheckImageBatch(images, in_channels_, image_size_);
  // (B, C, G, p, G, p) -> (B, G, G, C, p, p): each row is one patch in the conv weight's layout.
  const auto patches = images.reshape({batch, in_channels_, grid, p, grid, p})
                           .permute({0, 2, 4, 1, 3, 5})
                           .reshape({batch * grid * grid, in_channels_ * p * p});
  const auto embedded = DenseForward(patches, proj_->weight.view({dim_, -1}), proj_->bias);
  return embedded.view({batch, grid * grid, dim_}) + position_;
}

ConvStemImpl::ConvStemImpl(int64_t image_size, int64_t patch_size, int64_t in_channels, int64_t dim)
    : image_size_(image_size),
      in_channels_(in_channels),
      num_patches_((image_size / patch_size) * (image_size / patch_size)) {
  CheckArgument(patch_size >= 2 && (patch_size & (patch_size - 1)) == 0, "conv stem patch size",
                patch_size, "a power of two >= 2");
  CheckArgument(image_size % patch_size == 0, "image size", image_size,
                fmt::format("a multiple of the patch size {}", patch_size));
  int convs = 0;
  for (int64_t p = patch_size; p > 1; p /= 2) ++convs;
  net_ = register_module("net", torch::nn::Sequential());
  int64_t channels = in_channels;
  for (int i = 0; i < convs; ++i) {
    // Widths dim / 2^(convs - 1 - i), at least 16 (and at most dim): 32, 64, 128 for 8 x 8 at 128.
    const int64_t out =
        i + 1 == convs ? dim : std::min(dim, std::max<int64_t>(16, dim >> (convs - 1 - i)));
    net_->push_back(
        torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, out, 3).stride(2).padding(1)));
    if (i + 1 < convs) net_->push_back(torch::nn::GELU());
    channels = out;
  }
  position_ = register_parameter("position", 0.02 * torch::randn({1, num_patches_, dim}));
}

torch::Tensor ConvStemImpl::forward(const torch::Tensor& images) {
  CheckImageBatch(images, in_channels_, image_size_);
  const auto features = net_->forward(images);  // (B, D, G, G)
  return features.flatten(2).transpose(1, 2) + position_;
}

namespace {
constexpr std::array<int64_t, 3> kKeypointHidden = {32, 64, 64};  // the stem's hidden widths
}  // namespace

KeypointStemImpl::KeypointStemImpl(int64_t image_size, int64_t in_channels, int64_t keypoints,
                                   int64_t dim, int64_t condition_dim, int64_t pointers)
    : image_size_(image_size),
      in_channels_(in_channels),
      keypoints_(keypoints),
      condition_dim_(condition_dim),
      pointers_(pointers) {
  CheckArgument(image_size % 4 == 0 && image_size >= 8, "keypoint stem image size", image_size,
                "a multiple of 4, at least 8");
  CheckArgument(pointers >= 0 && (pointers == 0 || condition_dim > 0), "keypoint stem pointers",
                pointers, "0 without a condition, >= 0 with one");
  using torch::nn::Conv2dOptions;
  net_ = register_module(
      "net",
      torch::nn::Sequential(
          torch::nn::Conv2d(Conv2dOptions(in_channels, kKeypointHidden[0], 3).stride(2).padding(1)),
          torch::nn::ReLU(),
          torch::nn::Conv2d(
              Conv2dOptions(kKeypointHidden[0], kKeypointHidden[1], 3).stride(2).padding(1)),
          torch::nn::ReLU(),
          torch::nn::Conv2d(
              Conv2dOptions(kKeypointHidden[1], kKeypointHidden[2], 3).stride(1).padding(1)),
          torch::nn::ReLU(), torch::nn::Conv2d(Conv2dOptions(kKeypointHidden[2], keypoints, 1))));
  if (condition_dim > 0) {
    const int64_t channels = kKeypointHidden[0] + kKeypointHidden[1] + kKeypointHidden[2];
    film_weight_ = register_parameter("film_weight", torch::zeros({condition_dim, 2 * channels}));
    film_bias_ = register_parameter("film_bias", torch::zeros({2 * channels}));
  }
  if (pointers > 0) {
    // torch::nn::Linear's default range: the pointers start as different random filters.
    const double range = 1.0 / std::sqrt(static_cast<double>(condition_dim));
    const int64_t width = pointers * (kKeypointHidden[2] + 2);
    pointer_weight_ = register_parameter(
        "pointer_weight", torch::empty({condition_dim, width}).uniform_(-range, range));
    pointer_bias_ =
        register_parameter("pointer_bias", torch::empty({width}).uniform_(-range, range));
  }
  const int64_t tokens = keypoints + pointers;
  const double bound = 1.0 / std::sqrt(2.0);  // torch::nn::Linear's default for 2 inputs
  coordinates_weight_ =
      register_parameter("coordinates_weight", torch::empty({2, dim}).uniform_(-bound, bound));
  coordinates_bias_ =
      register_parameter("coordinates_bias", torch::empty({dim}).uniform_(-bound, bound));
  embedding_ = register_parameter("embedding", 0.02 * torch::randn({1, tokens, dim}));
  // A sharp start: freshly initialised features are small, and a near-uniform softmax puts every
  // keypoint at the image centre with almost no gradient.
  inverse_temperature_ =
      register_parameter("inverse_temperature", torch::full({1, tokens, 1}, 10.0));
  const int64_t grid = image_size / 4;
  const auto centres =
      (torch::arange(grid, torch::kFloat32) + 0.5) * (2.0 / static_cast<double>(grid)) - 1.0;
  grid_x_ = register_buffer("grid_x", centres.repeat({grid}).view({1, 1, grid * grid}));
  grid_y_ = register_buffer("grid_y", centres.repeat_interleave(grid).view({1, 1, grid * grid}));
}

torch::Tensor KeypointStemImpl::forward(const torch::Tensor& images, const torch::Tensor& condition,
                                        torch::Tensor* points) {
  CheckImageBatch(images, in_channels_, image_size_);
  torch::Tensor film;  // (B, 2 * channels): gammas then betas of each hidden layer, in order
  if (condition_dim_ == 0) {
    CheckArgument(!condition.defined(), "keypoint stem condition", "a tensor",
                  "none (the stem was built without FiLM)");
  } else {
    CheckArgument(condition.defined() && condition.dim() == 2 &&
                      condition.size(0) == images.size(0) && condition.size(1) == condition_dim_,
                  "keypoint stem condition",
                  condition.defined() ? fmt::format("{}", condition.sizes()) : "none",
                  fmt::format("({}, {})", images.size(0), condition_dim_));
    film = torch::addmm(film_bias_.to(condition.scalar_type()), condition,
                        film_weight_.to(condition.scalar_type()));
  }
  auto maps = images;
  torch::Tensor last_hidden;  // the pointers' input
  int64_t offset = 0;
  size_t layer = 0;
  const size_t last = net_->size() - 1;
  size_t index = 0;
  for (auto& module : *net_) {
    if (index++ == last) last_hidden = maps;
    maps = module.forward(maps);
    const bool hidden =
        layer < kKeypointHidden.size() && module.ptr()->as<torch::nn::Conv2d>() != nullptr;
    if (!hidden) continue;
    const int64_t c = kKeypointHidden[layer++];
    if (film.defined()) {
      const auto gamma = film.narrow(1, 2 * offset, c).view({-1, c, 1, 1});
      const auto beta = film.narrow(1, 2 * offset + c, c).view({-1, c, 1, 1});
      maps = maps * (1.0 + gamma.to(maps.scalar_type())) + beta.to(maps.scalar_type());
    }
    offset += c;
  }
  auto features = maps.flatten(2).to(torch::kFloat32);  // (B, K, G*G)
  if (pointers_ > 0) features = torch::cat({features, PointerLogits(last_hidden, condition)}, 1);
  // Softmax in fp32: the expected coordinates are the whole signal.
  const auto attention = torch::softmax(features * inverse_temperature_.to(torch::kFloat32), -1);
  const auto x = (attention * grid_x_).sum(-1);
  const auto y = (attention * grid_y_).sum(-1);
  const auto coordinates = torch::stack({x, y}, -1);  // (B, K + P, 2)
  if (points != nullptr) *points = coordinates;
  return torch::matmul(coordinates, coordinates_weight_.to(coordinates.scalar_type())) +
         coordinates_bias_.to(coordinates.scalar_type()) + embedding_;
}

torch::Tensor KeypointStemImpl::PointerLogits(const torch::Tensor& hidden,
                                              const torch::Tensor& condition) const {
  const int64_t b = hidden.size(0);
  const int64_t channels = hidden.size(1) + 2;
  const auto positions = grid_x_.size(2);
  // (B, C + 2, G*G): the hidden channels and the pixel coordinates.
  const auto inputs =
      torch::cat({hidden.flatten(2).to(torch::kFloat32), grid_x_.expand({b, 1, positions}),
                  grid_y_.expand({b, 1, positions})},
                 1);
  // Products and sums, not addmm/bmm: autocast leaves these in fp32, where it would round the
  // matrix products to bf16 (the logits are scaled by the inverse temperature before the softmax).
  const auto filters =
      ((condition.to(torch::kFloat32).unsqueeze(2) * pointer_weight_.unsqueeze(0)).sum(1) +
       pointer_bias_)
          .view({b, pointers_, channels, 1});
  return (filters * inputs.unsqueeze(1)).sum(2);  // (B, P, G*G)
}

VisionEncoderImpl::VisionEncoderImpl(const VisionEncoderOptions& o) {
  CheckArgument(o.stem == "patch" || o.stem == "conv" || o.stem == "keypoints", "vision stem",
                o.stem, "patch, conv or keypoints");
  CheckArgument(o.condition_dim == 0 || o.stem == "keypoints", "vision condition width",
                o.condition_dim, "0 unless the stem is keypoints");
  if (o.stem == "keypoints") {
    keypoint_stem_ = register_module("keypoints", KeypointStem(o.image_size, 3, o.keypoints, o.dim,
                                                               o.condition_dim, o.pointers));
    num_patches_ = keypoint_stem_->num_patches();
  } else if (o.stem == "conv") {
    stem_ = register_module("stem", ConvStem(o.image_size, o.patch_size, 3, o.dim));
    num_patches_ = stem_->num_patches();
  } else {
    patches_ = register_module("patches", PatchEmbedding(o.image_size, o.patch_size, 3, o.dim));
    num_patches_ = patches_->num_patches();
  }
  cls_ = register_parameter("cls", 0.02 * torch::randn({1, 1, o.dim}));
  transformer_ = register_module(
      "transformer",
      Transformer(
          o.layers,
          TransformerBlockOptions(o.dim, o.heads).mlp_ratio(o.mlp_ratio).dropout(o.dropout)));
  norm_ = register_module("norm", FusedLayerNorm(o.dim));
}

torch::Tensor VisionEncoderImpl::forward(const torch::Tensor& images,
                                         const torch::Tensor& condition, torch::Tensor* points) {
  CheckArgument(points == nullptr || keypoint_stem_, "vision encoder keypoint output", "requested",
                "only from the keypoints stem");
  const auto patches = keypoint_stem_ ? keypoint_stem_->forward(images, condition, points)
                                      : (stem_ ? stem_(images) : patches_(images));
  const auto tokens = torch::cat({cls_.expand({patches.size(0), 1, cls_.size(2)}), patches}, 1);
  return norm_(transformer_(tokens));
}

LanguageEncoderImpl::LanguageEncoderImpl(const LanguageEncoderOptions& o) : options_(o) {
  embedding_ = register_module("embedding", torch::nn::Embedding(o.vocab_size, o.dim));
  position_ = register_parameter("position", 0.02 * torch::randn({1, o.max_len, o.dim}));
  transformer_ = register_module(
      "transformer",
      Transformer(o.layers, TransformerBlockOptions(o.dim, o.heads).dropout(o.dropout)));
  norm_ = register_module("norm", FusedLayerNorm(o.dim));
}

torch::Tensor LanguageEncoderImpl::forward(const torch::Tensor& tokens, const torch::Tensor& mask) {
  const int64_t length = tokens.size(1);
  CheckArgument(length <= options_.max_len, "language token length", length,
                fmt::format("<= max_text_len {}", options_.max_len));
  const auto x = embedding_(tokens) + position_.narrow(1, 0, length);
  // A row with no real token would leave its queries nothing to attend: let such rows attend
  // everything. Their outputs are zeroed below, like every padded position.
  const auto key_mask = mask.logical_or(mask.any(1, /*keepdim=*/true).logical_not());
  const auto encoded = norm_(transformer_(x, key_mask));
  return encoded.masked_fill(mask.logical_not().unsqueeze(-1), 0.0);
}

WordBagImpl::WordBagImpl(int64_t buckets, int64_t dim) : buckets_(buckets) {
  CheckArgument(buckets >= 1, "word buckets", buckets, ">= 1");
  bag_ = register_module(
      "bag",
      torch::nn::EmbeddingBag(torch::nn::EmbeddingBagOptions(buckets, dim).mode(torch::kMean)));
  torch::NoGradGuard no_grad;
  bag_->weight.normal_(0.0, 1.0);  // as torch::nn::Embedding: distinct words, distinct vectors
}

int64_t WordBagImpl::Bucket(const int64_t* ids, int64_t count, int64_t buckets) {
  uint64_t hash = 1469598103934665603ULL;  // FNV-1a, 64 bit
  for (int64_t i = 0; i < count; ++i) {
    hash ^= static_cast<uint64_t>(ids[i]);
    hash *= 1099511628211ULL;
  }
  return static_cast<int64_t>(hash % static_cast<uint64_t>(buckets));
}

torch::Tensor WordBagImpl::forward(const torch::Tensor& tokens, const torch::Tensor& mask) {
  CheckArgument(tokens.dim() == 2 && mask.sizes() == tokens.sizes(), "word bag input",
                fmt::format("tokens {} mask {}", tokens.sizes(), mask.sizes()),
                "tokens and mask of the same shape (B, L)");
  const auto ids = tokens.to(torch::kCPU, torch::kInt64).contiguous();
  const auto real = mask.to(torch::kCPU, torch::kBool).contiguous();
  const int64_t rows = ids.size(0), length = ids.size(1);
  const int64_t* id = ids.data_ptr<int64_t>();
  const bool* keep = real.data_ptr<bool>();
  // Separators: the space and . , ! ? (ids are positions in the vocabulary + 1).
  auto separator = [](int64_t v) {
    if (v < 1 || v >= CharVocabulary::kSize) return false;
    const char c = CharVocabulary::kCharacters[static_cast<size_t>(v - 1)];
    return c == ' ' || c == '.' || c == ',' || c == '!' || c == '?';
  };
  std::vector<int64_t> words, offsets;
  for (int64_t r = 0; r < rows; ++r) {
    offsets.push_back(static_cast<int64_t>(words.size()));
    std::vector<int64_t> word;
    for (int64_t i = 0; i <= length; ++i) {
      const int64_t at = r * length + i;
      const bool letter = i < length && keep[at] && !separator(id[at]);
      if (letter) word.push_back(id[at]);
      if (!letter && !word.empty()) {
        words.push_back(Bucket(word.data(), static_cast<int64_t>(word.size()), buckets_));
        word.clear();
      }
    }
  }
  const auto device = bag_->weight.device();
  return bag_(torch::tensor(words, torch::kInt64).to(device),
              torch::tensor(offsets, torch::kInt64).to(device));
}

ConvImageEncoderImpl::ConvImageEncoderImpl(int64_t in_channels, int64_t embed_dim) {
  using torch::nn::Conv2dOptions;
  net_ = register_module(
      "net",
      torch::nn::Sequential(
          torch::nn::Conv2d(Conv2dOptions(in_channels, 32, 8).stride(4).padding(2)),
          torch::nn::ReLU(), torch::nn::Conv2d(Conv2dOptions(32, 64, 4).stride(2).padding(1)),
          torch::nn::ReLU(), torch::nn::Conv2d(Conv2dOptions(64, 64, 3).stride(1).padding(1)),
          torch::nn::ReLU(), torch::nn::AdaptiveAvgPool2d(4), torch::nn::Flatten(),
          Dense(64 * 4 * 4, embed_dim), torch::nn::ReLU()));
}

torch::Tensor ConvImageEncoderImpl::forward(const torch::Tensor& images) {
  return net_->forward(images);
}

}  // namespace simscale::models
