#pragma once

#include <memory>
#include <vector>

#include <torch/torch.h>

#include "common/models/layers.h"
#include "common/models/model_options.h"

// Action heads map a feature vector (B, F) to a chunk of H actions (B, H, A) in normalised action
// units. Both policies (BC, VLA) use either head.
namespace simscale::models {

struct HeadOutput {
  torch::Tensor loss;        // scalar, differentiable
  torch::Tensor prediction;  // (B, H, A), normalised units, detached
};

class ActionHead : public torch::nn::Module {
 public:
  ActionHead(int64_t horizon, int64_t action_dim) : horizon_(horizon), action_dim_(action_dim) {}

  // Training loss against normalised targets (B, H, A), and the head's estimate of the actions.
  virtual HeadOutput Loss(const torch::Tensor& features, const torch::Tensor& targets) = 0;
  // Actions (B, H, A) for inference, clamped to the normalised bounds low/high (A).
  virtual torch::Tensor Sample(const torch::Tensor& features, const torch::Tensor& low,
                               const torch::Tensor& high) = 0;

  // The deterministic chunk (B, H, A) in normalised units, unclamped and differentiable, for
  // heads that regress one (RL fine-tuning takes it as a Gaussian's mean). Heads that sample
  // (diffusion) have none: InvalidArgumentError.
  virtual torch::Tensor Mean(const torch::Tensor& features);

  int64_t horizon() const { return horizon_; }
  int64_t action_dim() const { return action_dim_; }

 protected:
  // x (B, H*A or H, A) clamped per action dimension to [low, high].
  torch::Tensor Clamp(const torch::Tensor& x, const torch::Tensor& low,
                      const torch::Tensor& high) const;

 private:
  int64_t horizon_;
  int64_t action_dim_;
};

enum class RegressionLoss { kMse, kL1 };

struct MlpHeadOptions {
  int64_t input_dim = 256;
  std::vector<int64_t> hidden = {256, 256};
  Activation activation = Activation::kGelu;
  double dropout = 0.1;
  RegressionLoss loss = RegressionLoss::kMse;
};

// Regression: an MLP (Linear-act-Dropout per hidden width, then Linear) outputs the whole chunk.
// No output squashing: the policy clamps actions to their bounds.
class MlpActionHead : public ActionHead {
 public:
  MlpActionHead(const MlpHeadOptions& options, int64_t horizon, int64_t action_dim);
  HeadOutput Loss(const torch::Tensor& features, const torch::Tensor& targets) override;
  torch::Tensor Sample(const torch::Tensor& features, const torch::Tensor& low,
                       const torch::Tensor& high) override;
  torch::Tensor Mean(const torch::Tensor& features) override;

 private:
  RegressionLoss loss_;
  Mlp mlp_{nullptr};
};

// Diffusion over the action chunk (Chi et al., Diffusion Policy, with an MLP denoiser):
// - training (DDPM, Ho et al. 2020): t ~ U{0..T-1}, x_t = sqrt(abar_t) a + sqrt(1 - abar_t) eps,
//   loss = |eps_hat(x_t, t, features) - eps|^2;
// - inference (DDIM, Song et al. 2021, eta = 0): S evenly spaced steps from T-1 down to 0, each
//   predicting x_0, clamping it to the action bounds and stepping deterministically to the next
//   timestep; the result is the last x_0 estimate.
// Schedules: "linear" betas from beta_start to beta_end given for 1000 steps and rescaled by
// 1000/T (so abar_{T-1} ~ 0 for any T; unscaled, T = 100 would leave abar ~ 0.36 of signal at the
// start of sampling), or "cosine" (Nichol & Dhariwal 2021). The denoiser: condition projection
// and sinusoidal time embedding concatenated with the noisy chunk, then residual MLP blocks (any
// number), then Linear to H*A.
class DiffusionActionHead : public ActionHead {
 public:
  DiffusionActionHead(int64_t input_dim, const ActionHeadOptions& options, int64_t horizon,
                      int64_t action_dim);
  HeadOutput Loss(const torch::Tensor& features, const torch::Tensor& targets) override;
  torch::Tensor Sample(const torch::Tensor& features, const torch::Tensor& low,
                       const torch::Tensor& high) override;

  // DDIM steps used by Sample (1..T).
  void set_inference_steps(int64_t steps);
  int64_t inference_steps() const { return inference_steps_; }
  // The timesteps Sample visits, from T-1 down to 0.
  std::vector<int64_t> SamplingTimesteps() const;
  // abar_t for t = 0..T-1 (a buffer; moves with the module).
  const torch::Tensor& alphas_cumprod() const { return alphas_cumprod_; }
  // The noise predicted for noisy chunks x (B, H*A) at integer timesteps t (B).
  torch::Tensor PredictNoise(const torch::Tensor& features, const torch::Tensor& x,
                             const torch::Tensor& t);

 private:
  torch::Tensor TimeEmbedding(const torch::Tensor& t) const;

  int64_t hidden_dim_;
  int64_t diffusion_steps_;
  int64_t inference_steps_;
  torch::Tensor alphas_cumprod_;
  torch::Tensor frequencies_;  // sinusoidal embedding frequencies (hidden/2)
  Dense condition_{nullptr};
  Dense time_{nullptr};
  torch::nn::ModuleList blocks_{nullptr};
  Dense output_{nullptr};
};

// Linear(in, h)-GELU-Linear(h, h)-GELU plus a skip connection (Linear(in, h) when in != h).
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t hidden);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  Mlp mlp_{nullptr};
  Dense skip_{nullptr};
};
TORCH_MODULE(ResidualBlock);

// betas (T) for a schedule ("linear" rescaled to T as above, or "cosine"), float64.
torch::Tensor NoiseSchedule(const std::string& schedule, int64_t steps, double beta_start,
                            double beta_end);

}  // namespace simscale::models
