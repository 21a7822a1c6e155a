// The PPO update computes its gradients without autograd (PpoGradient, TanhMlpPass). Here they are
// checked against autograd on the loss as CleanRL writes it: the gradients tensor by tensor on a
// random minibatch, and the parameters and metrics after PpoLearner::Update against an update
// written with autograd and torch::optim::AdamW. Runs under mpirun at 1 and 2 ranks; the
// reference sees every rank's data.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "common/core/random.h"
#include "common/models/policy.h"
#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/gae.h"
#include "common/rl/ppo.h"
#include "common/rl/ppo_gradient.h"
#include "common/rl/rollout_buffer.h"

namespace simscale::rl {
namespace {

constexpr int64_t kObservation = 7, kAction = 3;

// Hidden widths 32 and 16 (unequal, so a transposed product would not pass by luck); every
// parameter moved off its initialisation so that no gradient vanishes by symmetry.
ActorCritic RandomModel(uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  ActorCriticOptions options;
  options.observation_size = kObservation;
  options.action_size = kAction;
  options.hidden = {32, 16};
  options.initial_log_std = -0.5;
  ActorCritic model(options);
  torch::NoGradGuard no_grad;
  for (auto& p : model->parameters()) p.add_(0.2 * torch::randn_like(p));
  return model;
}

struct Rows {
  torch::Tensor observations, actions, log_probs, values, advantages, returns;
  MinibatchRows View() const {
    return {observations.size(0),      observations.data_ptr<float>(),
            actions.data_ptr<float>(), log_probs.data_ptr<float>(),
            values.data_ptr<float>(),  advantages.data_ptr<float>(),
            returns.data_ptr<float>()};
  }
};

// The minibatch loss of CleanRL's ppo_continuous, with autograd, weighted as PpoGradient's:
// weight * (sum policy + vf_coef * sum value) - ent_coef * share * entropy.
torch::Tensor ReferenceLoss(ActorCritic& model, const Rows& b, const PpoOptions& o, double weight,
                            double share, PpoLossSums* sums) {
  const double eps = o.clip_epsilon;
  const torch::Tensor mean = model->ActionMean(b.observations, b.observations);
  const torch::Tensor log_ratio = model->LogProb(mean, b.actions) - b.log_probs;
  const torch::Tensor ratio = log_ratio.exp();
  const torch::Tensor policy =
      torch::max(-b.advantages * ratio, -b.advantages * ratio.clamp(1 - eps, 1 + eps)).sum();
  const torch::Tensor value = model->Value(b.observations);
  torch::Tensor value_loss = (value - b.returns).square();
  if (o.clip_value_loss) {
    const torch::Tensor clipped = b.values + (value - b.values).clamp(-eps, eps);
    value_loss = torch::max(value_loss, (clipped - b.returns).square());
  }
  value_loss = 0.5 * value_loss.sum();
  sums->policy_loss = policy.item<double>();
  sums->value_loss = value_loss.item<double>();
  sums->approx_kl = ((ratio - 1) - log_ratio).sum().item<double>();
  sums->clip_fraction = ((ratio - 1).abs() > eps).sum().item<double>();
  return policy * weight + o.vf_coef * value_loss * weight - o.ent_coef * share * model->Entropy();
}

// 60 rows around the model's own outputs: ratios spread so that some are clipped on either side,
// values spread so that value clipping is active in some rows and not in others.
Rows RandomRows(ActorCritic& model) {
  torch::manual_seed(11);
  torch::NoGradGuard no_grad;
  Rows b;
  b.observations = torch::randn({60, kObservation});
  const torch::Tensor mean = model->ActionMean(b.observations, b.observations);
  b.actions = mean + torch::exp(model->log_std()) * torch::randn({60, kAction});
  b.log_probs = model->LogProb(mean, b.actions) + 0.3 * torch::randn({60});
  b.advantages = torch::randn({60});
  const torch::Tensor value = model->Value(b.observations);
  b.values = value + 0.3 * torch::randn({60});
  b.returns = value + torch::randn({60});
  return b;
}

std::vector<torch::Tensor> Gradients(ActorCritic& model) {
  std::vector<torch::Tensor> grads;
  for (const auto& p : model->parameters()) grads.push_back(p.grad().clone());
  return grads;
}

void ExpectClose(const std::vector<torch::Tensor>& actual,
                 const std::vector<torch::Tensor>& expected, const std::vector<std::string>& names,
                 double rtol, double atol) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    const double diff = (actual[i] - expected[i]).abs().max().item<double>();
    EXPECT_TRUE(torch::allclose(actual[i], expected[i], rtol, atol))
        << names[i] << ": largest difference " << diff << ", largest value "
        << expected[i].abs().max().item<double>();
  }
}

std::vector<std::string> Names(ActorCritic& model) {
  std::vector<std::string> names;
  for (const auto& item : model->named_parameters()) names.push_back(item.key());
  return names;
}

TEST(PpoGradient, MatchesAutogradTensorByTensor) {
  for (const bool clip_value : {true, false}) {
    SCOPED_TRACE(clip_value ? "value clipping" : "no value clipping");
    ActorCritic model = RandomModel(3);
    const Rows rows = RandomRows(model);
    PpoOptions options;
    options.clip_value_loss = clip_value;
    options.ent_coef = 0.01;
    const double weight = 1.0 / 80, share = 60.0 / 80;  // 60 of a global minibatch of 80

    PpoGradient gradient(model, options);
    const PpoLossSums sums = gradient.Compute(rows.View(), weight, share);
    const std::vector<torch::Tensor> manual = Gradients(model);

    for (auto& p : model->parameters()) p.mutable_grad().zero_();
    PpoLossSums expected;
    ReferenceLoss(model, rows, options, weight, share, &expected).backward();
    ExpectClose(manual, Gradients(model), Names(model), 1e-4, 1e-6);

    EXPECT_NEAR(sums.policy_loss, expected.policy_loss,
                1e-5 * (1 + std::abs(expected.policy_loss)));
    EXPECT_NEAR(sums.value_loss, expected.value_loss, 1e-5 * (1 + expected.value_loss));
    EXPECT_NEAR(sums.approx_kl, expected.approx_kl, 1e-5);
    EXPECT_EQ(sums.clip_fraction, expected.clip_fraction);
    // Both branches of the clipped surrogate are exercised.
    EXPECT_GT(sums.clip_fraction, 5);
    EXPECT_LT(sums.clip_fraction, 55);
  }
}

TEST(PpoGradient, NoRowsGiveTheEntropyGradientAlone) {
  ActorCritic model = RandomModel(5);
  PpoOptions options;
  options.ent_coef = 0.1;
  PpoGradient gradient(model, options);
  for (auto& p : model->parameters()) p.mutable_grad() = torch::full_like(p, 7.0f);
  const PpoLossSums sums = gradient.Compute({}, 0.25, 0.0);
  EXPECT_EQ(sums.policy_loss, 0.0);
  for (const auto& item : model->named_parameters()) {
    EXPECT_EQ(item.value().grad().abs().max().item<float>(), 0.0f) << item.key();
  }
  const PpoLossSums half = gradient.Compute({}, 0.25, 0.5);
  EXPECT_EQ(half.value_loss, 0.0);
  EXPECT_TRUE(torch::allclose(model->log_std().grad(), torch::full({kAction}, -0.05f)));
}

// A rollout of T steps of every env, identical on every rank (a seeded stream).
RolloutBuffer GlobalRollout(int64_t steps, int64_t envs) {
  RolloutBuffer b(steps, envs, kObservation, kAction);
  RandomStream stream(21, 0, StreamPurpose::kTest);
  for (auto* column :
       {&b.observations, &b.actions, &b.values, &b.rewards, &b.final_values, &b.next_values}) {
    for (float& x : *column) x = static_cast<float>(stream.Normal());
  }
  b.raw_observations = b.observations;  // what a policy actor reads
  for (float& x : b.log_probs) x = static_cast<float>(-2.0 + 0.5 * stream.Normal());
  for (size_t i = 0; i < b.terminated.size(); ++i) {
    b.terminated[i] = stream.Bernoulli(0.1) ? 1 : 0;
    b.truncated[i] = !b.terminated[i] && stream.Bernoulli(0.1) ? 1 : 0;
  }
  return b;
}

// Envs [first, first + count) of a rollout.
RolloutBuffer EnvSlice(const RolloutBuffer& g, int64_t first, int64_t count) {
  RolloutBuffer b(g.steps, count, g.observation_size, g.action_size);
  const auto copy = [&](const auto& from, auto& to, int64_t width) {
    for (int64_t t = 0; t < g.steps; ++t) {
      std::copy_n(from.begin() + (t * g.envs + first) * width, count * width,
                  to.begin() + t * count * width);
    }
  };
  copy(g.observations, b.observations, g.observation_size);
  copy(g.raw_observations, b.raw_observations, g.observation_size);
  copy(g.actions, b.actions, g.action_size);
  copy(g.log_probs, b.log_probs, 1);
  copy(g.values, b.values, 1);
  copy(g.rewards, b.rewards, 1);
  copy(g.final_values, b.final_values, 1);
  copy(g.terminated, b.terminated, 1);
  copy(g.truncated, b.truncated, 1);
  std::copy_n(g.next_values.begin() + first, count, b.next_values.begin());
  return b;
}

Rows AllRows(RolloutBuffer& g, const PpoOptions& o) {
  ComputeGae(
      {g.steps, g.envs, g.rewards.data(), g.values.data(), g.terminated.data(), g.truncated.data(),
       g.final_values.data(), g.next_values.data(), o.gamma, o.gae_lambda},
      g.advantages.data(), g.returns.data());
  const int64_t n = g.steps * g.envs;
  const auto rows = [n](std::vector<float>& v, int64_t cols) {
    return torch::from_blob(v.data(), {n, cols}).clone().squeeze(-1);
  };
  return {rows(g.observations, kObservation),
          rows(g.actions, kAction),
          rows(g.log_probs, 1),
          rows(g.values, 1),
          rows(g.advantages, 1),
          rows(g.returns, 1)};
}

// The reference: with one minibatch per epoch every epoch sees every sample, so the order of the
// permutation does not matter. Advantages normalised over the batch, clip, AdamW; metrics as
// UpdateMetrics defines them.
UpdateMetrics ReferenceUpdate(ActorCritic& model, Rows rows, const PpoOptions& o) {
  torch::optim::AdamW adam(model->parameters(),
                           torch::optim::AdamWOptions(o.lr).eps(1e-5).weight_decay(0.0));
  rows.advantages = (rows.advantages - rows.advantages.mean()) / (rows.advantages.std() + 1e-8);
  const double weight = 1.0 / static_cast<double>(rows.observations.size(0));
  UpdateMetrics m;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    adam.zero_grad();
    PpoLossSums sums;
    ReferenceLoss(model, rows, o, weight, 1.0, &sums).backward();
    double squared = 0;
    for (const auto& p : model->parameters()) squared += p.grad().square().sum().item<double>();
    const double norm = std::sqrt(squared);
    if (norm > o.max_grad_norm) {
      for (auto& p : model->parameters()) p.mutable_grad().mul_(o.max_grad_norm / (norm + 1e-6));
    }
    adam.step();
    m.policy_loss += sums.policy_loss * weight / o.epochs;
    m.value_loss += sums.value_loss * weight / o.epochs;
    m.approx_kl += sums.approx_kl * weight / o.epochs;
    m.clip_fraction += sums.clip_fraction * weight / o.epochs;
    m.grad_norm += norm / o.epochs;
  }
  return m;
}

TEST(PpoLearner, UpdateMatchesAnAutogradReferenceAtAnyRankCount) {
  const mpi::Communicator world(MPI_COMM_WORLD);
  const int64_t total_envs = 4, local_envs = total_envs / world.size();
  ASSERT_EQ(total_envs % world.size(), 0) << "run at 1, 2 or 4 ranks";
  PpoOptions options;
  options.epochs = 3;
  options.minibatches = 1;
  options.lr = 3e-3;
  options.ent_coef = 0.01;
  options.max_grad_norm = 0.2;
  RolloutBuffer global = GlobalRollout(16, total_envs);
  RolloutBuffer local = EnvSlice(global, world.rank() * local_envs, local_envs);

  ActorCritic model = RandomModel(8);
  PpoLearner learner(model, options, world, world.rank() * local_envs, local_envs, total_envs);
  const UpdateMetrics m = learner.Update(&local, 1, options.lr);

  ActorCritic reference = RandomModel(8);
  const UpdateMetrics r = ReferenceUpdate(reference, AllRows(global, options), options);
  std::vector<torch::Tensor> actual, expected;
  for (const auto& p : model->parameters()) actual.push_back(p.detach());
  for (const auto& p : reference->parameters()) expected.push_back(p.detach());
  ExpectClose(actual, expected, Names(model), 1e-4, 1e-6);
  const auto near = [](double x, double y) { return std::abs(x - y) <= 1e-5 * (1 + std::abs(y)); };
  EXPECT_PRED2(near, m.policy_loss, r.policy_loss);
  EXPECT_PRED2(near, m.value_loss, r.value_loss);
  EXPECT_PRED2(near, m.approx_kl, r.approx_kl);
  EXPECT_PRED2(near, m.clip_fraction, r.clip_fraction);
  EXPECT_PRED2(near, m.grad_norm, r.grad_norm);
  EXPECT_GT(r.grad_norm, options.max_grad_norm);  // clipping was exercised
}

// An actor-critic whose actor is a BC policy (ppo.init_actor) reading the whole observation.
ActorCritic PolicyActorModel(uint64_t seed) {
  torch::manual_seed(static_cast<int64_t>(seed));
  models::ModelOptions options;
  options.spec.state_dim = kObservation;
  options.spec.action_dim = kAction;
  options.bc.hidden_dim = 32;
  options.head.hidden_dim = 32;
  PolicyActor actor;
  actor.policy = models::MakeModel("bc", options);
  for (int64_t i = 0; i < kObservation; ++i) actor.state_columns.push_back(i);
  ActorCriticOptions ac;
  ac.observation_size = kObservation;
  ac.action_size = kAction;
  ac.hidden = {32, 16};
  ac.initial_log_std = -0.5;
  return ActorCritic(ac, actor);
}

// A policy actor has no closed-form gradient: the learner takes autograd and must still match
// the reference; and while the actor is frozen (first updates), only the critic moves.
TEST(PpoLearner, APolicyActorLearnsByAutogradAndAFrozenActorStaysPut) {
  const mpi::Communicator world(MPI_COMM_WORLD);
  const int64_t total_envs = 4, local_envs = total_envs / world.size();
  PpoOptions options;
  options.epochs = 2;
  options.minibatches = 1;
  options.lr = 1e-3;
  RolloutBuffer global = GlobalRollout(16, total_envs);
  RolloutBuffer local = EnvSlice(global, world.rank() * local_envs, local_envs);

  ActorCritic model = PolicyActorModel(4);
  PpoLearner learner(model, options, world, world.rank() * local_envs, local_envs, total_envs);
  learner.Update(&local, 1, options.lr);
  ActorCritic reference = PolicyActorModel(4);
  ReferenceUpdate(reference, AllRows(global, options), options);
  std::vector<torch::Tensor> actual, expected;
  for (const auto& p : model->parameters()) actual.push_back(p.detach());
  for (const auto& p : reference->parameters()) expected.push_back(p.detach());
  ExpectClose(actual, expected, Names(model), 1e-4, 1e-6);

  options.actor_frozen_updates = 1;
  ActorCritic frozen = PolicyActorModel(4);
  ActorCritic untouched = PolicyActorModel(4);
  RolloutBuffer again = EnvSlice(global, world.rank() * local_envs, local_envs);
  PpoLearner frozen_learner(frozen, options, world, world.rank() * local_envs, local_envs,
                            total_envs);
  frozen_learner.Update(&again, 1, options.lr);
  const auto actor = frozen->ActorParameters(), before = untouched->ActorParameters();
  for (size_t i = 0; i < actor.size(); ++i) EXPECT_TRUE(torch::equal(actor[i], before[i])) << i;
  EXPECT_FALSE(torch::equal(frozen->critic()->parameters().front(),
                            untouched->critic()->parameters().front()));
}

}  // namespace
}  // namespace simscale::rl
