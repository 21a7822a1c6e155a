#include "common/rl/actor_critic.h"

#include <cmath>

#include "common/core/error.h"

namespace simscale::rl {
namespace {

constexpr double kHalfLogTwoPi = 0.91893853320467274178;  // 0.5 * log(2 pi)

torch::nn::Linear OrthogonalLinear(int64_t in, int64_t out, double gain) {
  torch::nn::Linear layer(in, out);
  torch::NoGradGuard no_grad;
  torch::nn::init::orthogonal_(layer->weight, gain);
  layer->bias.zero_();
  return layer;
}

torch::nn::Sequential TanhMlp(int64_t in, const std::vector<int64_t>& hidden, int64_t out,
                              double output_gain) {
  torch::nn::Sequential mlp;
  int64_t width = in;
  for (const int64_t h : hidden) {
    mlp->push_back(OrthogonalLinear(width, h, std::sqrt(2.0)));
    mlp->push_back(torch::nn::Tanh());
    width = h;
  }
  mlp->push_back(OrthogonalLinear(width, out, output_gain));
  return mlp;
}

}  // namespace

ActorCriticImpl::ActorCriticImpl(const ActorCriticOptions& options) : options_(options) {
  SIMSCALE_CHECK(options.observation_size > 0 && options.action_size > 0,
                 "actor-critic needs positive sizes, got observation {} and action {}",
                 options.observation_size, options.action_size);
  actor_ = register_module(
      "actor", TanhMlp(options.observation_size, options.hidden, options.action_size, 0.01));
  critic_ = register_module("critic", TanhMlp(options.observation_size, options.hidden, 1, 1.0));
  log_std_ = register_parameter(
      "log_std", torch::full({options.action_size}, options.initial_log_std, torch::kFloat32));
}

torch::Tensor ActorCriticImpl::ActionMean(const torch::Tensor& observations) {
  return actor_->forward(observations);
}

torch::Tensor ActorCriticImpl::Value(const torch::Tensor& observations) {
  return critic_->forward(observations).squeeze(-1);
}

torch::Tensor ActorCriticImpl::LogProb(const torch::Tensor& mean,
                                       const torch::Tensor& actions) const {
  const torch::Tensor z = (actions - mean) * torch::exp(-log_std_);
  return (-0.5 * z.square() - log_std_ - kHalfLogTwoPi).sum(-1);
}

torch::Tensor ActorCriticImpl::Entropy() const { return (0.5 + kHalfLogTwoPi + log_std_).sum(); }

}  // namespace simscale::rl
