#pragma once

#include <cstdint>
#include <vector>

#include "common/rl/actor_critic.h"
#include "common/rl/ppo_options.h"
#include "common/rl/tanh_mlp.h"

namespace simscale::rl {

// One minibatch's rows of this rank, gathered row-major.
struct MinibatchRows {
  int64_t rows = 0;
  const float* observations = nullptr;  // rows x observation size
  const float* actions = nullptr;       // rows x action size (the unclipped samples)
  const float* log_probs = nullptr;     // of the actions under the policy that collected them
  const float* values = nullptr;        // V when collected (value clipping)
  const float* advantages = nullptr;    // normalised already, if the options ask for it
  const float* returns = nullptr;
};

// Sums over the rows of the loss terms, not yet divided by the minibatch size.
struct PpoLossSums {
  double policy_loss = 0;    // sum of max(-A r, -A clip(r, 1 - eps, 1 + eps))
  double value_loss = 0;     // sum of 0.5 max((V - R)^2, (V_clipped - R)^2) (or 0.5 (V - R)^2)
  double approx_kl = 0;      // sum of (r - 1) - log r
  double clip_fraction = 0;  // count of |r - 1| > eps
};

// The gradient of CleanRL's ppo_continuous loss for an ActorCritic, without autograd:
//   loss = weight * (sum policy_loss + vf_coef * sum value_loss) - ent_coef * share * entropy
// (a rank's share of the global minibatch mean: weight = 1 / global size, share = rows * weight).
// The actor and critic MLPs run as TanhMlpPass; the loss's derivatives with respect to the action
// means, the log-std and the values are closed forms, with autograd's conventions where max and
// clamp are not differentiable (a tie of max splits the gradient in halves; clamp passes it at
// its bounds). tests/rl checks the gradients against autograd.
class PpoGradient {
 public:
  PpoGradient(ActorCritic model, const PpoOptions& options);

  // Overwrites every parameter's .grad with d loss / d parameter; returns the loss sums.
  PpoLossSums Compute(const MinibatchRows& batch, double weight, double share);

 private:
  // d loss / d mean into grad_mean_, d loss / d log_std into grad_log_std_; the policy sums.
  void PolicyGradient(const MinibatchRows& batch, const float* mean, double weight,
                      PpoLossSums* sums);
  // d loss / d value into grad_value_; the value sum.
  void ValueGradient(const MinibatchRows& batch, const float* value, double weight,
                     PpoLossSums* sums);

  ActorCritic model_;
  PpoOptions options_;
  TanhMlpPass actor_, critic_;
  std::vector<float> grad_mean_, grad_value_, inv_std_;
  std::vector<double> grad_log_std_;
};

}  // namespace simscale::rl
