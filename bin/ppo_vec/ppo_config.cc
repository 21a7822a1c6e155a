#include "bin/ppo_vec/ppo_config.h"

#include <fmt/format.h>

#include "common/envs/registry.h"

namespace simscale::ppo {
namespace {

void DeclareLossOptions(config::Schema* schema, rl::PpoOptions* p) {
  schema->Add("ppo.lr", &p->lr, "Adam learning rate").GreaterThan(0).Max(1);
  schema->Add("ppo.gamma", &p->gamma, "discount factor").Min(0).Max(1);
  schema->Add("ppo.gae_lambda", &p->gae_lambda, "GAE lambda").Min(0).Max(1);
  schema->Add("ppo.clip_epsilon", &p->clip_epsilon, "PPO ratio clip").GreaterThan(0).Max(1);
  schema->Add("ppo.epochs", &p->epochs, "passes over each rollout").Min(1);
  schema
      ->Add("ppo.minibatches", &p->minibatches,
            "minibatches per epoch over all ranks' samples (must divide rollout_steps x num_envs)")
      .Min(1);
  schema->Add("ppo.ent_coef", &p->ent_coef, "entropy bonus coefficient").Min(0);
  schema->Add("ppo.vf_coef", &p->vf_coef, "value loss coefficient").Min(0);
  schema->Add("ppo.max_grad_norm", &p->max_grad_norm, "global gradient-norm clip (0: off)").Min(0);
  schema->Add("ppo.clip_vloss", &p->clip_value_loss, "clip the value loss like the ratio");
  schema->Add("ppo.norm_adv", &p->normalize_advantages, "normalise advantages per minibatch");
  schema
      ->Add("ppo.target_kl", &p->target_kl,
            "stop an update's epochs once an epoch's mean approx KL exceeds this (0: off)")
      .Min(0);
  schema
      ->Add("ppo.max_nonfinite", &p->max_nonfinite,
            "non-finite minibatch steps in a row (skipped) that stop the run")
      .Min(1);
}

}  // namespace

void DeclareOptions(config::Schema* schema, PpoConfig* c) {
  c->run.output = "runs/ppo";
  app::AddRunOptions(schema, &c->run);
  schema->Add("ppo.env", &c->env, "environment to train in").OneOf(envs::ListEnvs()).Flag("env");
  schema
      ->Add("ppo.reward", &c->reward,
            "the env's reward: default, or staged (pick_place: bounded stages, success pays most)")
      .OneOf({"default", "staged"});
  schema->Add("ppo.num_envs", &c->num_envs, "vectorized envs per rank").Min(1).Flag("num-envs");
  schema->Add("ppo.total_steps", &c->total_steps, "env steps over all ranks")
      .Min(1)
      .Flag("total-steps");
  schema->Add("ppo.rollout_steps", &c->rollout_steps, "steps per env between updates").Min(1);
  schema->Add("ppo.max_steps", &c->max_steps, "episode step limit (0: the env's default)").Min(0);
  schema->Add("ppo.threads", &c->threads, "env-stepping threads per rank").Min(1).Max(256);
  schema->Add("ppo.hidden_size", &c->hidden_size, "width of actor and critic hidden layers").Min(1);
  schema->Add("ppo.hidden_layers", &c->hidden_layers, "hidden layers of actor and critic").Min(1);
  schema->Add("ppo.init_log_std", &c->initial_log_std, "initial log-std of the policy")
      .Min(-5)
      .Max(2);
  schema->Add("ppo.norm_obs", &c->norm_obs, "normalise observations by running statistics");
  schema->Add("ppo.norm_reward", &c->norm_reward, "scale rewards by the running return std");
  schema->Add("ppo.anneal_lr", &c->anneal_lr, "anneal the learning rate linearly to 0");
  schema->Add("ppo.checkpoint_every", &c->checkpoint_every, "updates between checkpoints (0: end)")
      .Min(0);
  schema->Add("ppo.keep_checkpoints", &c->keep_checkpoints, "newest checkpoints kept").Min(1);
  schema->Add(
      "ppo.init_actor", &c->init_actor,
      "train_ddp run or checkpoint whose (state-only, mlp-head) policy is the initial actor");
  schema
      ->Add("ppo.init_std_scale", &c->init_std_scale,
            "with ppo.init_actor: initial exploration std as a multiple of the demonstrations' "
            "action std")
      .GreaterThan(0);
  schema
      ->Add("ppo.actor_frozen_updates", &c->ppo.actor_frozen_updates,
            "first updates that train the critic only")
      .Min(0);
  DeclareLossOptions(schema, &c->ppo);
  schema->AddCheck([c] {
    // Holds per rank, so the global batch splits into equal minibatches at any rank count.
    const int64_t batch = c->rollout_steps * c->num_envs;
    if (batch % c->ppo.minibatches != 0) {
      config::Fail("ppo.minibatches",
                   fmt::format("a divisor of rollout_steps x num_envs ({})", batch),
                   fmt::format("{}", c->ppo.minibatches));
    }
  });
}

}  // namespace simscale::ppo
