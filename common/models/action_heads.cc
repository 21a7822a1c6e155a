#include "common/models/action_heads.h"

#include <cmath>

#include "common/core/error.h"

namespace simscale::models {
namespace {

torch::Tensor Gelu(const torch::Tensor& x) {
  return ActivationDropout(x, Activation::kGelu, 0.0, false);
}

}  // namespace

torch::Tensor ActionHead::Clamp(const torch::Tensor& x, const torch::Tensor& low,
                                const torch::Tensor& high) const {
  const auto chunk = x.view({x.size(0), horizon_, action_dim_});
  return torch::max(torch::min(chunk, high.to(chunk.scalar_type())), low.to(chunk.scalar_type()));
}

torch::Tensor ActionHead::Mean(const torch::Tensor& /*features*/) {
  throw InvalidArgumentError(
      "this action head samples its actions (diffusion): it has no action mean to fine-tune; use "
      "a model with an mlp head");
}

// --- MLP head ------------------------------------------------------------------------------------

MlpActionHead::MlpActionHead(const MlpHeadOptions& options, int64_t horizon, int64_t action_dim)
    : ActionHead(horizon, action_dim), loss_(options.loss) {
  MlpOptions mlp;
  mlp.in = options.input_dim;
  mlp.hidden = options.hidden;
  mlp.out = horizon * action_dim;
  mlp.activation = options.activation;
  mlp.dropout = options.dropout;
  mlp_ = register_module("mlp", Mlp(mlp));
}

HeadOutput MlpActionHead::Loss(const torch::Tensor& features, const torch::Tensor& targets) {
  const auto prediction = mlp_(features).view(targets.sizes());
  auto loss = loss_ == RegressionLoss::kMse ? torch::mse_loss(prediction, targets)
                                            : torch::l1_loss(prediction, targets);
  return {loss, prediction.detach()};
}

torch::Tensor MlpActionHead::Sample(const torch::Tensor& features, const torch::Tensor& low,
                                    const torch::Tensor& high) {
  return Clamp(mlp_(features), low, high);
}

torch::Tensor MlpActionHead::Mean(const torch::Tensor& features) {
  return mlp_(features).view({features.size(0), horizon(), action_dim()});
}

// --- Diffusion head ------------------------------------------------------------------------------

torch::Tensor NoiseSchedule(const std::string& schedule, int64_t steps, double beta_start,
                            double beta_end) {
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  torch::Tensor betas;
  if (schedule == "linear") {
    const double scale = 1000.0 / static_cast<double>(steps);
    betas = torch::linspace(beta_start * scale, beta_end * scale, steps, f64);
  } else if (schedule == "cosine") {
    // abar(t) = f(t) / f(0), f(t) = cos^2(((t / T) + s) / (1 + s) * pi / 2), s = 0.008.
    constexpr double kOffset = 0.008;
    constexpr double kPi = 3.14159265358979323846;
    const auto t = torch::arange(steps + 1, f64) / static_cast<double>(steps);
    const auto f = torch::cos((t + kOffset) / (1.0 + kOffset) * (kPi / 2.0)).pow(2);
    const auto abar = f / f[0];
    betas = 1.0 - abar.slice(0, 1) / abar.slice(0, 0, steps);
  } else {
    throw InvalidArgumentError(
        fmt::format("noise schedule: expected one of linear, cosine, got '{}'", schedule));
  }
  return betas.clamp(1e-8, 0.999);
}

ResidualBlockImpl::ResidualBlockImpl(int64_t in, int64_t hidden) {
  MlpOptions mlp;
  mlp.in = in;
  mlp.hidden = {hidden};
  mlp.out = hidden;
  mlp.activation = Activation::kGelu;
  mlp.final_activation = true;
  mlp_ = register_module("mlp", Mlp(mlp));
  if (in != hidden) skip_ = register_module("skip", Dense(in, hidden));
}

torch::Tensor ResidualBlockImpl::forward(const torch::Tensor& x) {
  return mlp_(x) + (skip_ ? skip_(x) : x);
}

DiffusionActionHead::DiffusionActionHead(int64_t input_dim, const ActionHeadOptions& options,
                                         int64_t horizon, int64_t action_dim)
    : ActionHead(horizon, action_dim),
      hidden_dim_(options.hidden_dim),
      diffusion_steps_(options.diffusion_steps),
      inference_steps_(options.inference_steps) {
  CheckArgument(hidden_dim_ >= 4 && hidden_dim_ % 2 == 0, "model.head.hidden_dim", hidden_dim_,
                "an even integer >= 4");
  CheckArgument(diffusion_steps_ >= 2, "model.head.diffusion_steps", diffusion_steps_,
                "an integer >= 2");
  set_inference_steps(options.inference_steps);
  const auto betas =
      NoiseSchedule(options.schedule, diffusion_steps_, options.beta_start, options.beta_end);
  alphas_cumprod_ =
      register_buffer("alphas_cumprod", torch::cumprod(1.0 - betas, 0).to(torch::kFloat));
  const int64_t half = hidden_dim_ / 2;
  frequencies_ = register_buffer("frequencies", torch::exp(torch::arange(half, torch::kFloat) *
                                                           (-std::log(10000.0) / (half - 1))));

  const int64_t chunk = horizon * action_dim;
  condition_ = register_module("condition", Dense(input_dim, hidden_dim_));
  time_ = register_module("time", Dense(hidden_dim_, hidden_dim_));
  blocks_ = register_module("blocks", torch::nn::ModuleList());
  for (int64_t i = 0; i < options.num_layers; ++i) {
    // The first block sees [condition, time, noisy chunk]; the others the previous block's output.
    blocks_->push_back(ResidualBlock(i == 0 ? 2 * hidden_dim_ + chunk : hidden_dim_, hidden_dim_));
  }
  output_ = register_module("output", Dense(hidden_dim_, chunk));
}

void DiffusionActionHead::set_inference_steps(int64_t steps) {
  CheckArgument(steps >= 1 && steps <= diffusion_steps_, "diffusion inference steps", steps,
                fmt::format("an integer in [1, {}]", diffusion_steps_));
  inference_steps_ = steps;
}

std::vector<int64_t> DiffusionActionHead::SamplingTimesteps() const {
  std::vector<int64_t> steps;
  const int64_t last = diffusion_steps_ - 1;
  for (int64_t i = 0; i < inference_steps_; ++i) {
    const double position =
        inference_steps_ == 1 ? 0.0 : static_cast<double>(i) / (inference_steps_ - 1);
    const auto t = static_cast<int64_t>(std::llround(last * (1.0 - position)));
    if (steps.empty() || t < steps.back()) steps.push_back(t);
  }
  return steps;
}

torch::Tensor DiffusionActionHead::TimeEmbedding(const torch::Tensor& t) const {
  const auto angles = t.to(frequencies_.scalar_type()).unsqueeze(1) * frequencies_.unsqueeze(0);
  return torch::cat({torch::sin(angles), torch::cos(angles)}, 1);
}

torch::Tensor DiffusionActionHead::PredictNoise(const torch::Tensor& features,
                                                const torch::Tensor& x, const torch::Tensor& t) {
  auto h = torch::cat({condition_(features), Gelu(time_(TimeEmbedding(t))), x}, 1);
  for (const auto& block : *blocks_) h = block->as<ResidualBlockImpl>()->forward(h);
  return output_(h);
}

HeadOutput DiffusionActionHead::Loss(const torch::Tensor& features, const torch::Tensor& targets) {
  const int64_t batch = targets.size(0);
  const auto x0 = targets.reshape({batch, -1});
  const auto t = torch::randint(diffusion_steps_, {batch}, targets.options().dtype(torch::kInt64));
  const auto abar = alphas_cumprod_.index_select(0, t).unsqueeze(1).to(x0.scalar_type());
  const auto noise = torch::randn_like(x0);
  const auto signal_scale = abar.sqrt();
  const auto noise_scale = (1.0 - abar).sqrt();
  const auto noisy = signal_scale * x0 + noise_scale * noise;
  const auto predicted_noise = PredictNoise(features, noisy, t);
  const auto loss = torch::mse_loss(predicted_noise, noise.to(predicted_noise.scalar_type()));
  // One-step estimate of the clean chunk at the sampled noise level (cheap, for metrics).
  const auto estimate = ((noisy - noise_scale * predicted_noise.detach()) / signal_scale)
                            .view({batch, horizon(), action_dim()});
  return {loss, estimate};
}

torch::Tensor DiffusionActionHead::Sample(const torch::Tensor& features, const torch::Tensor& low,
                                          const torch::Tensor& high) {
  const int64_t batch = features.size(0);
  const auto options = features.options();
  auto x = torch::randn({batch, horizon() * action_dim()}, options);
  const auto timesteps = SamplingTimesteps();
  // abar on the host: the step coefficients are scalars.
  const auto abar_host = alphas_cumprod_.to(torch::kCPU, torch::kDouble);
  const auto* abar = abar_host.data_ptr<double>();
  torch::Tensor x0;
  for (size_t i = 0; i < timesteps.size(); ++i) {
    const int64_t t = timesteps[i];
    const auto t_batch = torch::full({batch}, t, options.dtype(torch::kInt64));
    const auto eps = PredictNoise(features, x, t_batch).to(x.scalar_type());
    const double a = abar[t];
    x0 = Clamp((x - std::sqrt(1.0 - a) * eps) / std::sqrt(a), low, high).view({batch, -1});
    if (i + 1 == timesteps.size()) break;
    // Noise direction consistent with the clamped x0, then the deterministic DDIM step.
    const auto direction = (x - std::sqrt(a) * x0) / std::sqrt(1.0 - a);
    const double a_next = abar[timesteps[i + 1]];
    x = std::sqrt(a_next) * x0 + std::sqrt(1.0 - a_next) * direction;
  }
  return x0.view({batch, horizon(), action_dim()});
}

}  // namespace simscale::models
