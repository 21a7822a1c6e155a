#include "common/rl/actor_critic.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/models/checkpoint.h"

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

ActorCriticImpl::ActorCriticImpl(const ActorCriticOptions& options, PolicyActor actor)
    : options_(options), policy_actor_(std::move(actor)) {
  SIMSCALE_CHECK(options.observation_size > 0 && options.action_size > 0,
                 "actor-critic needs positive sizes, got observation {} and action {}",
                 options.observation_size, options.action_size);
  if (policy_actor_.policy) {
    register_module("policy", policy_actor_.policy);
    // No dropout or other train-mode behaviour: PPO's ratios need the same mean in collection
    // and update.
    policy_actor_.policy->eval();
    state_columns_ = torch::tensor(policy_actor_.state_columns, torch::kInt64);
    const models::NormalizationStats stats = policy_actor_.policy->normalization();
    const torch::Tensor mean = torch::tensor(stats.state_mean, torch::kFloat64).to(torch::kFloat32);
    const torch::Tensor std = torch::tensor(stats.state_std, torch::kFloat64).to(torch::kFloat32);
    state_low_ = mean - kPolicyInputClip * std;
    state_high_ = mean + kPolicyInputClip * std;
  } else {
    actor_ = register_module(
        "actor", TanhMlp(options.observation_size, options.hidden, options.action_size, 0.01));
  }
  critic_ = register_module("critic", TanhMlp(options.observation_size, options.hidden, 1, 1.0));
  torch::Tensor log_std =
      torch::full({options.action_size}, options.initial_log_std, torch::kFloat32);
  if (!options.initial_std.empty()) {
    SIMSCALE_CHECK(static_cast<int64_t>(options.initial_std.size()) == options.action_size,
                   "{} initial stds for {} action dimensions", options.initial_std.size(),
                   options.action_size);
    log_std = torch::tensor(options.initial_std, torch::kFloat64).log().to(torch::kFloat32);
  }
  log_std_ = register_parameter("log_std", log_std);
}

torch::Tensor ActorCriticImpl::ActionMean(const torch::Tensor& normalized,
                                          const torch::Tensor& raw) {
  if (!policy_actor_.policy) return actor_->forward(normalized);
  models::Batch batch;
  batch.state =
      torch::max(torch::min(raw.index_select(1, state_columns_), state_high_), state_low_);
  // The first action of the chunk, the one executed.
  return policy_actor_.policy->ActionMean(batch).select(1, 0);
}

std::vector<torch::Tensor> ActorCriticImpl::ActorParameters() const {
  std::vector<torch::Tensor> out =
      policy_actor_.policy ? policy_actor_.policy->parameters() : actor_->parameters();
  out.push_back(log_std_);
  return out;
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

PolicyActor LoadPolicyActor(const std::filesystem::path& dir, const std::string& env,
                            const std::vector<std::string>& observation_keys,
                            const std::vector<int64_t>& key_sizes) {
  models::CheckpointMetadata meta;
  PolicyActor actor;
  actor.policy = models::LoadCheckpoint(dir, &meta);
  const auto& spec = actor.policy->spec();
  const auto fail = [&](const std::string& what) {
    throw InvalidArgumentError(fmt::format("ppo.init_actor '{}': {}", dir.string(), what));
  };
  if (!spec.policy.env.empty() && spec.policy.env != env) {
    fail(fmt::format("a policy of env '{}', this run trains '{}'", spec.policy.env, env));
  }
  if (!spec.policy.cameras.empty() || spec.policy.uses_language || spec.policy.history != 1) {
    fail("only state-only policies with history 1 can be fine-tuned by PPO");
  }
  std::vector<int64_t> offsets(observation_keys.size(), 0);
  for (size_t i = 1; i < offsets.size(); ++i) offsets[i] = offsets[i - 1] + key_sizes[i - 1];
  // No keys named: the whole observation, in order.
  const std::vector<std::string>& keys =
      spec.policy.state_keys.empty() ? observation_keys : spec.policy.state_keys;
  for (const std::string& key : keys) {
    const auto at = std::find(observation_keys.begin(), observation_keys.end(), key);
    if (at == observation_keys.end()) fail(fmt::format("state key '{}' is not observed", key));
    const auto i = static_cast<size_t>(at - observation_keys.begin());
    for (int64_t j = 0; j < key_sizes[i]; ++j) actor.state_columns.push_back(offsets[i] + j);
  }
  if (static_cast<int64_t>(actor.state_columns.size()) != spec.state_dim) {
    fail(fmt::format("its state keys give {} values, the model takes {}",
                     actor.state_columns.size(), spec.state_dim));
  }
  // The head must regress a mean (throws for diffusion heads).
  models::Batch probe;
  probe.state = torch::zeros({1, spec.state_dim});
  torch::NoGradGuard no_grad;
  actor.policy->ActionMean(probe);
  return actor;
}

}  // namespace simscale::rl
