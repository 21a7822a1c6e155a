#pragma once

#include <vector>

#include <torch/torch.h>

namespace simscale::models {

// torch::optim::AdamW with the same update, options and state (so checkpoints of either load into
// the other), whose step() updates each CPU float32 parameter in one fused pass over its data
// instead of about ten tensor operations. For small models the per-operation overhead of the stock
// step dominates: 16 tensors of the default BC model cost ~0.3 ms per step that way. Parameters on
// other devices or of other types, and amsgrad, take the stock path.
class FusedAdamW : public torch::optim::AdamW {
 public:
  FusedAdamW(std::vector<torch::optim::OptimizerParamGroup> groups,
             torch::optim::AdamWOptions options = {});
  FusedAdamW(std::vector<torch::Tensor> params, torch::optim::AdamWOptions options = {});

  torch::Tensor step(LossClosure closure = nullptr) override;
  // step() on every gradient multiplied by `grad_scale`, in the same pass over the data: gradient
  // clipping without a pass of its own. The .grad tensors are left as they are on the fused path
  // (the stock path scales them in place first).
  void StepScaled(double grad_scale);

 private:
  // Whether every parameter with a gradient takes the fused pass.
  bool AllFusable() const;
  void FusedStep(float grad_scale);
};

}  // namespace simscale::models
