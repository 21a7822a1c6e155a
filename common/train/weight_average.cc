#include "common/train/weight_average.h"

#include "common/core/error.h"

namespace simscale::train {

WeightAverage::WeightAverage(std::vector<torch::Tensor> parameters, double decay)
    : parameters_(std::move(parameters)), decay_(decay) {
  if (decay_ > 0) {
    for (const auto& p : parameters_) average_.push_back(p.detach().clone());
  }
}

void WeightAverage::Update() {
  if (!enabled()) return;
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < average_.size(); ++k) {
    average_[k].mul_(decay_).add_(parameters_[k].detach(), 1.0 - decay_);
  }
}

void WeightAverage::WithAveragedWeights(const std::function<void()>& fn) {
  SIMSCALE_CHECK(enabled(), "no weight average is kept (decay {})", decay_);
  std::vector<torch::Tensor> trained;
  {
    torch::NoGradGuard no_grad;
    for (size_t k = 0; k < parameters_.size(); ++k) {
      trained.push_back(parameters_[k].detach().clone());
      parameters_[k].copy_(average_[k]);
    }
  }
  fn();
  torch::NoGradGuard no_grad;
  for (size_t k = 0; k < parameters_.size(); ++k) parameters_[k].copy_(trained[k]);
}

void WeightAverage::Load(torch::nn::Module& model) {
  size_t k = 0;
  torch::NoGradGuard no_grad;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad() && k < average_.size()) average_[k++].copy_(p);
  }
}

}  // namespace simscale::train
