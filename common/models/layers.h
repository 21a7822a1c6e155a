#pragma once

#include <string>

#include <torch/torch.h>

// Building blocks shared by the policies: a Linear layer with a faster CPU matrix product, MLPs,
// a pre-norm transformer block with a key padding mask, and the image/text/state encoders.
namespace simscale::models {

// "[2, 3]" for a tensor of shape (2, 3); "undefined" for an undefined tensor. For messages.
std::string ShapeString(const torch::Tensor& tensor);

// --- CPU kernels
// ---------------------------------------------------------------------------------- Debian's
// OpenBLAS 0.3.21 does not recognise recent Xeons and falls back to SSE3 kernels (~20 GFLOP/s on
// one core); oneDNN, which Debian's LibTorch links anyway, has its own JIT sgemm that runs at
// ~130-160 GFLOP/s here. And LibTorch 1.13 runs small element-wise work (GELU, softmax, dropout) as
// several passes with a fixed cost each. So on the CPU, in float32 and outside autocast, the layers
// below use oneDNN's sgemm (loaded at run time) and fused kernels (cpu_kernels.h): Dense, the
// attention of TransformerBlock, activation+dropout and residual+dropout. Elsewhere (CUDA, bf16,
// LibTorch builds that hide oneDNN, or kTorch) they are plain LibTorch operations. Both paths
// compute the same function; results agree to float rounding (GELU and exp in the fused kernels are
// accurate to a few 1e-7).
enum class CpuKernels { kAuto, kTorch };
// Process-wide choice (kAuto at start-up), for tests and benchmarks that compare the two paths.
void SetCpuKernels(CpuKernels choice);
// "onednn+fused" if the fused CPU path is in use now, else "torch".
std::string CpuKernelsName();
// Whether `x` takes the fused CPU path.
bool UseFusedCpu(const torch::Tensor& x);

// Row-major C (m x n) = alpha op(A) op(B) + beta C on float32 CPU memory, with row strides lda,
// ldb, ldc (BLAS semantics: with beta = 0, C is not read). oneDNN's sgemm while the fused CPU path
// is on, else LibTorch's matrix product on views of the same memory. For code that keeps its own
// buffers, such as common/rl's autograd-free MLP pass.
void CpuSgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
              int64_t ldc);

// y = x W^T + b over the last dimension of x (any leading shape), W: (out, in), b: (out) or
// undefined. Differentiable in x, W and b.
torch::Tensor DenseForward(const torch::Tensor& x, const torch::Tensor& weight,
                           const torch::Tensor& bias);

enum class Activation { kIdentity, kRelu, kGelu };

// dropout(act(x)) as one operation (exact erf GELU). p = 0 or !training: act(x).
torch::Tensor ActivationDropout(const torch::Tensor& x, Activation activation, double p,
                                bool training);
// x + dropout(r): the residual connection of a transformer block.
torch::Tensor AddDropout(const torch::Tensor& x, const torch::Tensor& r, double p, bool training);

// Dropout (inverted: kept values scaled by 1/(1-p)). On the CPU the mask comes from a
// counter-based hash seeded from LibTorch's default generator, so torch::manual_seed still makes
// it reproducible (LibTorch 1.13's CPU Bernoulli sampling costs ~8 ns per element, which made
// dropout the largest cost of the small models). Elsewhere it is torch::dropout.
torch::Tensor ApplyDropout(const torch::Tensor& x, double p, bool training);

// torch::nn::Linear (same parameters, names and initialisation) whose forward uses DenseForward.
class DenseImpl : public torch::nn::LinearImpl {
 public:
  using torch::nn::LinearImpl::LinearImpl;
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(Dense);

// torch::nn::LayerNorm (same parameters and names) with a fused CPU kernel, for a 1-D normalised
// shape with affine parameters.
class FusedLayerNormImpl : public torch::nn::LayerNormImpl {
 public:
  explicit FusedLayerNormImpl(int64_t dim)
      : torch::nn::LayerNormImpl(torch::nn::LayerNormOptions({dim})) {}
  torch::Tensor forward(const torch::Tensor& input);
};
TORCH_MODULE(FusedLayerNorm);

// Re-initialises every Dense/Linear weight among the submodules of `module` with N(0, std^2) and
// zero bias, and every LayerNorm with (1, 0): the transformer initialisation of the original
// (trunc_normal(0.02) whose truncation at +-2 is never reached).
void InitTransformerWeights(torch::nn::Module& module, double std = 0.02);

struct MlpOptions {
  int64_t in = 0;
  std::vector<int64_t> hidden;  // widths of the hidden layers
  int64_t out = 0;
  Activation activation = Activation::kRelu;
  double dropout = 0.0;           // after every hidden activation
  bool final_activation = false;  // apply the activation (no dropout) after the last layer too
};

// [Linear, act, Dropout] per hidden width, then Linear(last, out) (and act, if final_activation).
// The Linear layers are children "0", "1", ... On the fused CPU path the whole MLP is one
// operation (one autograd node): per-operation overhead, not arithmetic, dominated the small
// policies.
class MlpImpl : public torch::nn::Module {
 public:
  explicit MlpImpl(const MlpOptions& options);
  torch::Tensor forward(const torch::Tensor& x);
  const MlpOptions& options() const { return options_; }

 private:
  MlpOptions options_;
  std::vector<Dense> layers_;
};
TORCH_MODULE(Mlp);

// --- Attention ----------------------------------------------------------------------------------

struct TransformerBlockOptions {
  TransformerBlockOptions(int64_t dim, int64_t heads) : dim_(dim), heads_(heads) {}
  TORCH_ARG(int64_t, dim);
  TORCH_ARG(int64_t, heads);
  TORCH_ARG(double, mlp_ratio) = 4.0;
  TORCH_ARG(double, dropout) = 0.1;
};

// Pre-norm transformer encoder layer, batch first, GELU feed-forward:
//   x = x + Drop(Attn(LN1(x)));  x = x + Drop(W2 Drop(GELU(W1 LN2(x))))   (W1, W2: ffn.0, ffn.1)
// Same parameter count as PyTorch's TransformerEncoderLayer(norm_first=True).
class TransformerBlockImpl : public torch::nn::Module {
 public:
  explicit TransformerBlockImpl(const TransformerBlockOptions& options);
  // x: (B, T, D). key_mask: (B, T) bool (true = real token) or undefined. With query_count q > 0
  // only the first q tokens are updated and returned, (B, q, D): keys and values still come from
  // all T tokens. A final layer whose other outputs are discarded saves most of its work this way.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& key_mask = {},
                        int64_t query_count = 0);
  // The same, with the key mask also given as an additive bias (0 / -inf, float (B, T), on the
  // CPU) for the fused path, so that a stack computes it once.
  torch::Tensor Forward(const torch::Tensor& x, const torch::Tensor& key_mask,
                        const torch::Tensor& key_bias, int64_t query_count);

  const TransformerBlockOptions& options() const { return options_; }

 private:
  TransformerBlockOptions options_;
  FusedLayerNorm norm1_{nullptr}, norm2_{nullptr};
  Dense qkv_{nullptr}, proj_{nullptr};
  Mlp ffn_{nullptr};
};
TORCH_MODULE(TransformerBlock);

// A stack of blocks; the key mask applies in every block.
class TransformerImpl : public torch::nn::Module {
 public:
  TransformerImpl(int64_t layers, const TransformerBlockOptions& options);
  // With query_count > 0 the last block returns only the first query_count tokens.
  torch::Tensor forward(torch::Tensor x, const torch::Tensor& key_mask = {},
                        int64_t query_count = 0);

 private:
  torch::nn::ModuleList blocks_{nullptr};
};
TORCH_MODULE(Transformer);

// --- Encoders -----------------------------------------------------------------------------------

// Non-overlapping patches -> linear embedding (a Conv2d with kernel = stride = patch, computed as
// one matrix product) + learned position embedding: (B, 3, S, S) -> (B, (S/p)^2, D).
class PatchEmbeddingImpl : public torch::nn::Module {
 public:
  PatchEmbeddingImpl(int64_t image_size, int64_t patch_size, int64_t in_channels, int64_t dim);
  torch::Tensor forward(const torch::Tensor& images);
  int64_t num_patches() const { return num_patches_; }

 private:
  int64_t image_size_, patch_size_, in_channels_, dim_, num_patches_;
  torch::nn::Conv2d proj_{nullptr};
  torch::Tensor position_;
};
TORCH_MODULE(PatchEmbedding);

// A convolutional stem with the patch embedding's output: log2(patch) 3x3 stride-2 convolutions
// (GELU between them, widths doubling up to `dim`) + learned position embedding:
// (B, C, S, S) -> (B, (S/p)^2, D). Overlapping kernels see a small object whole, whichever patch
// boundary it sits on; `patch_size` must be a power of two >= 2.
class ConvStemImpl : public torch::nn::Module {
 public:
  ConvStemImpl(int64_t image_size, int64_t patch_size, int64_t in_channels, int64_t dim);
  torch::Tensor forward(const torch::Tensor& images);
  int64_t num_patches() const { return num_patches_; }

 private:
  int64_t image_size_, in_channels_, num_patches_;
  torch::nn::Sequential net_{nullptr};
  torch::Tensor position_;
};
TORCH_MODULE(ConvStem);

// Keypoint tokens (spatial softmax, as robomimic's visual core and Levine et al. 2016): a small
// CNN (stride 4) gives K feature maps; each is turned by a softmax over its positions into the
// expected image coordinates (x, y) in [-1, 1] where it fires, and each keypoint becomes one token
// (a linear map of its coordinates plus a learned embedding of the keypoint):
// (B, C, S, S) -> (B, K, D). Precise object positions from few pixels, few tokens.
// With condition_dim > 0 a condition vector (B, condition_dim) modulates every hidden convolution
// channel-wise before its ReLU, x * (1 + gamma) + beta (FiLM, as RT-1 and BC-Z condition their
// image encoders on the instruction): the keypoints can then fire on what the instruction names.
// The modulation starts as the identity (zero weights).
// With pointers P > 0 (needs the condition) the stem adds P conditioned keypoints after its K: each
// one's map is a 1x1 filter over the last hidden features plus a slope over the image position,
// both computed from the condition (a per-instruction filter, as CLIPort's language-conditioned
// attention): "the blue cube" can become a map that fires on blue only, "the left pad" one that
// fires on white on the left. Fixed filters cannot do that: one map for both pads puts its
// keypoint between them. Output (B, K + P, D), pointer tokens last.
class KeypointStemImpl : public torch::nn::Module {
 public:
  KeypointStemImpl(int64_t image_size, int64_t in_channels, int64_t keypoints, int64_t dim,
                   int64_t condition_dim = 0, int64_t pointers = 0);
  // `condition` (B, condition_dim) is required exactly when condition_dim > 0. With `points`, also
  // stores the keypoint coordinates there: (B, K + P, 2), fp32, (x, y) in [-1, 1].
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& condition = {},
                        torch::Tensor* points = nullptr);
  int64_t num_patches() const { return keypoints_ + pointers_; }

 private:
  // The pointers' map logits (B, P, G*G), fp32, from the last hidden features (B, C, G, G).
  torch::Tensor PointerLogits(const torch::Tensor& hidden, const torch::Tensor& condition) const;

  int64_t image_size_, in_channels_, keypoints_, condition_dim_, pointers_;
  torch::nn::Sequential net_{nullptr};
  // FiLM (condition_dim > 0): (condition_dim, 2 * hidden channels) and its bias, plain parameters
  // (the transformer initialisation leaves them at zero).
  torch::Tensor film_weight_, film_bias_;
  // Pointers: (condition_dim, P * (C + 2)) and its bias: per pointer, a weight for each of the C
  // last hidden channels and for the x and y pixel coordinates.
  torch::Tensor pointer_weight_, pointer_bias_;
  // (2, D) and (D): coordinates -> token; plain parameters, so the transformer initialisation
  // (which rescales every Linear) leaves them at LibTorch's Linear default.
  torch::Tensor coordinates_weight_, coordinates_bias_;
  torch::Tensor embedding_;
  torch::Tensor inverse_temperature_;  // (1, K + P, 1), learned
  torch::Tensor grid_x_, grid_y_;      // buffers: (1, 1, G*G) pixel-centre coordinates in [-1, 1]
};
TORCH_MODULE(KeypointStem);

struct VisionEncoderOptions {
  // patch (ViT linear patches) | conv (ConvStem) | keypoints (KeypointStem)
  std::string stem = "patch";
  int64_t keypoints = 32;     // stem "keypoints": tokens per image
  int64_t condition_dim = 0;  // stem "keypoints": FiLM condition width (0: none)
  int64_t pointers = 0;       // stem "keypoints": conditioned keypoints (need condition_dim > 0)
  int64_t image_size = 64;
  int64_t patch_size = 8;
  int64_t dim = 128;
  int64_t heads = 4;
  int64_t layers = 2;
  double mlp_ratio = 4.0;
  double dropout = 0.1;
};

// ViT: patch (or conv stem) tokens + CLS token -> transformer -> LayerNorm:
// (B, 3, S, S) -> (B, 1 + N, D), CLS first.
class VisionEncoderImpl : public torch::nn::Module {
 public:
  explicit VisionEncoderImpl(const VisionEncoderOptions& options);
  // `condition`: see KeypointStem (only with options.condition_dim > 0). `points`: see
  // KeypointStem (only with stem keypoints).
  torch::Tensor forward(const torch::Tensor& images, const torch::Tensor& condition = {},
                        torch::Tensor* points = nullptr);
  int64_t num_tokens() const { return 1 + num_patches_; }

 private:
  int64_t num_patches_ = 0;
  PatchEmbedding patches_{nullptr};  // stem "patch"
  ConvStem stem_{nullptr};           // stem "conv"
  KeypointStem keypoint_stem_{nullptr};
  torch::Tensor cls_;
  Transformer transformer_{nullptr};
  FusedLayerNorm norm_{nullptr};
};
TORCH_MODULE(VisionEncoder);

struct LanguageEncoderOptions {
  int64_t vocab_size = 1000;
  int64_t max_len = 64;
  int64_t dim = 128;
  int64_t heads = 4;
  int64_t layers = 2;
  double dropout = 0.1;
};

// Token + position embedding -> transformer that never attends padded positions -> LayerNorm.
// tokens: (B, L) int64 with L <= max_len; mask: (B, L) bool, true for real tokens. Outputs at
// padded positions are set to zero, so nothing downstream can depend on their content.
class LanguageEncoderImpl : public torch::nn::Module {
 public:
  explicit LanguageEncoderImpl(const LanguageEncoderOptions& options);
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& mask);

 private:
  LanguageEncoderOptions options_;
  torch::nn::Embedding embedding_{nullptr};
  torch::Tensor position_;
  Transformer transformer_{nullptr};
  FusedLayerNorm norm_{nullptr};
};
TORCH_MODULE(LanguageEncoder);

// Bag of words over the character tokenizer's ids: each word (a run of ids between spaces and
// . , ! ?) is hashed (FNV-1a over its ids) into one of `buckets` learned vectors, and an
// instruction becomes the mean of its words' vectors (zero when it has none). Each word has its
// own vector from the first step on, where a character-level transformer must first learn to
// spell: "blue" and "green" differ in one of seven words, not in a few of forty characters.
// tokens, mask: (B, L) as LanguageEncoder -> (B, dim).
class WordBagImpl : public torch::nn::Module {
 public:
  WordBagImpl(int64_t buckets, int64_t dim);
  torch::Tensor forward(const torch::Tensor& tokens, const torch::Tensor& mask);
  // The bucket of one word's character ids.
  static int64_t Bucket(const int64_t* ids, int64_t count, int64_t buckets);

 private:
  int64_t buckets_;
  torch::nn::EmbeddingBag bag_{nullptr};
};
TORCH_MODULE(WordBag);

// The BC image encoder of the original: three ReLU convolutions (kernels 8/4/3, strides 4/2/1),
// 4x4 average pooling, Linear(1024, embed_dim), ReLU. (B, 3, S, S) -> (B, embed_dim).
class ConvImageEncoderImpl : public torch::nn::Module {
 public:
  ConvImageEncoderImpl(int64_t in_channels, int64_t embed_dim);
  torch::Tensor forward(const torch::Tensor& images);

 private:
  torch::nn::Sequential net_{nullptr};
};
TORCH_MODULE(ConvImageEncoder);

}  // namespace simscale::models
