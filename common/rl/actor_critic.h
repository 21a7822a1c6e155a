#pragma once

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace simscale::rl {

struct ActorCriticOptions {
  int64_t observation_size = 0;
  int64_t action_size = 0;
  // CleanRL's continuous-control default: two tanh layers of 64 for each of actor and critic.
  // Small networks step fastest on the CPU, where PPO spends its time in the envs and in
  // per-operation overhead, not in arithmetic.
  std::vector<int64_t> hidden = {64, 64};
  double initial_log_std = 0.0;
};

// Gaussian policy with a state-independent log-std, and a value function; actor and critic are
// separate tanh MLPs (no shared trunk). Orthogonal initialisation as CleanRL's ppo_continuous:
// gain sqrt(2) on hidden layers, 0.01 on the action mean (near-zero initial actions), 1 on the
// value output.
class ActorCriticImpl : public torch::nn::Module {
 public:
  explicit ActorCriticImpl(const ActorCriticOptions& options);

  // [B, A] action means.
  torch::Tensor ActionMean(const torch::Tensor& observations);
  // [B] state values.
  torch::Tensor Value(const torch::Tensor& observations);
  // [A]
  const torch::Tensor& log_std() const { return log_std_; }

  // Log-density of `actions` [B, A] under N(mean, exp(log_std)^2), summed over dimensions: [B].
  torch::Tensor LogProb(const torch::Tensor& mean, const torch::Tensor& actions) const;
  // Entropy of the policy (the same for every state: the std does not depend on it), a scalar.
  torch::Tensor Entropy() const;

  const ActorCriticOptions& options() const { return options_; }
  // The two MLPs (Linear, Tanh, ..., Linear), for passes that bypass autograd (TanhMlpPass).
  const torch::nn::Sequential& actor() const { return actor_; }
  const torch::nn::Sequential& critic() const { return critic_; }

 private:
  ActorCriticOptions options_;
  torch::nn::Sequential actor_{nullptr}, critic_{nullptr};
  torch::Tensor log_std_;
};
TORCH_MODULE(ActorCritic);

}  // namespace simscale::rl
