#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/models/policy.h"

namespace simscale::rl {

struct ActorCriticOptions {
  int64_t observation_size = 0;
  int64_t action_size = 0;
  // CleanRL's continuous-control default: two tanh layers of 64 for each of actor and critic.
  // Small networks step fastest on the CPU, where PPO spends its time in the envs and in
  // per-operation overhead, not in arithmetic.
  std::vector<int64_t> hidden = {64, 64};
  double initial_log_std = 0.0;     // of every dimension, unless initial_std is given
  std::vector<double> initial_std;  // per action dimension (e.g. scaled from demonstrations)
};

// A toolkit policy (a train_ddp checkpoint) as PPO's actor: its deterministic action is the
// Gaussian's mean. Its input is its own state keys, picked from the env's raw observation by
// `state_columns`, clipped to its training data's mean +- kPolicyInputClip std (as PPO clips its
// own normalised observations); it normalises them itself. Without the clip, a dimension that
// barely varied in the demonstrations (a cube's orientation: std ~1e-6) turns the small tilts
// that exploration causes into inputs of thousands of std, where the policy's output is
// arbitrary and hypersensitive to its weights.
inline constexpr double kPolicyInputClip = 10.0;
struct PolicyActor {
  std::shared_ptr<models::Policy> policy;
  std::vector<int64_t> state_columns;
};

// Loads the train_ddp checkpoint `dir` as an actor for `env` whose observation slices are
// `observation_keys` (with their sizes `key_sizes`): a state-only policy of that env, history 1,
// with an mlp head whose first action of the chunk is taken. InvalidArgumentError naming the
// checkpoint and what does not fit.
PolicyActor LoadPolicyActor(const std::filesystem::path& dir, const std::string& env,
                            const std::vector<std::string>& observation_keys,
                            const std::vector<int64_t>& key_sizes);

// Gaussian policy with a state-independent log-std, and a value function; actor and critic are
// separate tanh MLPs (no shared trunk). Orthogonal initialisation as CleanRL's ppo_continuous:
// gain sqrt(2) on hidden layers, 0.01 on the action mean (near-zero initial actions), 1 on the
// value output.
class ActorCriticImpl : public torch::nn::Module {
 public:
  // With a policy actor (its .policy set), the actor is that policy; otherwise a tanh MLP.
  explicit ActorCriticImpl(const ActorCriticOptions& options, PolicyActor actor = {});

  // [B, A] action means from the observations normalised by PPO's statistics and the same
  // observations raw (a policy actor's input; may be undefined without one).
  torch::Tensor ActionMean(const torch::Tensor& normalized, const torch::Tensor& raw);
  // [B] state values.
  torch::Tensor Value(const torch::Tensor& observations);
  // [A]
  const torch::Tensor& log_std() const { return log_std_; }

  // Log-density of `actions` [B, A] under N(mean, exp(log_std)^2), summed over dimensions: [B].
  torch::Tensor LogProb(const torch::Tensor& mean, const torch::Tensor& actions) const;
  // Entropy of the policy (the same for every state: the std does not depend on it), a scalar.
  torch::Tensor Entropy() const;

  const ActorCriticOptions& options() const { return options_; }
  // The policy actor, if the actor is one (else .policy is null).
  const PolicyActor& policy_actor() const { return policy_actor_; }
  // The two MLPs (Linear, Tanh, ..., Linear), for passes that bypass autograd (TanhMlpPass); the
  // actor is null with a policy actor.
  const torch::nn::Sequential& actor() const { return actor_; }
  const torch::nn::Sequential& critic() const { return critic_; }
  // The parameters that only the policy loss reaches: the actor's and the log-std.
  std::vector<torch::Tensor> ActorParameters() const;

 private:
  ActorCriticOptions options_;
  PolicyActor policy_actor_;
  torch::Tensor state_columns_;  // int64 indices into the raw observation, for a policy actor
  torch::Tensor state_low_, state_high_;  // its input clip (raw units)
  torch::nn::Sequential actor_{nullptr}, critic_{nullptr};
  torch::Tensor log_std_;
};
TORCH_MODULE(ActorCritic);

}  // namespace simscale::rl
