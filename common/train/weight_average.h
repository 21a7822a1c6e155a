#pragma once

#include <functional>
#include <vector>

#include <torch/torch.h>

namespace simscale::train {

// Exponential moving average of the trainable parameters (EMA): after every applied step,
// average = decay * average + (1 - decay) * parameter. Often a better policy than the last weights.
// Off (no copies, no work) when decay is 0.
class WeightAverage {
 public:
  WeightAverage(std::vector<torch::Tensor> parameters, double decay);

  bool enabled() const { return !average_.empty(); }
  void Update();
  // Runs `fn` with the averaged weights in the parameters (to save them as a model), then puts the
  // trained weights back. Only when enabled().
  void WithAveragedWeights(const std::function<void()>& fn);
  // Takes the average from the trainable parameters of `model` (a checkpoint of the averaged
  // weights), in order.
  void Load(torch::nn::Module& model);

 private:
  std::vector<torch::Tensor> parameters_;
  std::vector<torch::Tensor> average_;
  double decay_;
};

}  // namespace simscale::train
