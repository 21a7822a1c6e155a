#include "bin/ppo_vec/ppo_config.h"

namespace simscale::ppo {

void DeclareOptions(config::Schema* schema, PpoConfig* c) {
  c->run.output = "runs/ppo";
  app::AddRunOptions(schema, &c->run);
  schema->Add("ppo.env", &c->env, "environment to train in").NonEmpty().Flag("env");
  schema->Add("ppo.num_envs", &c->num_envs, "vectorized envs per rank").Min(1).Flag("num-envs");
  schema->Add("ppo.total_steps", &c->total_steps, "env steps over all ranks")
      .Min(1)
      .Flag("total-steps");
  schema->Add("ppo.rollout_steps", &c->rollout_steps, "steps per env between updates").Min(1);
  schema->Add("ppo.lr", &c->lr, "Adam learning rate").GreaterThan(0).Max(1);
  schema->Add("ppo.gamma", &c->gamma, "discount factor").Min(0).Max(1);
  schema->Add("ppo.gae_lambda", &c->gae_lambda, "GAE lambda").Min(0).Max(1);
  schema->Add("ppo.clip_epsilon", &c->clip_epsilon, "PPO ratio clip").GreaterThan(0).Max(1);
}

}  // namespace simscale::ppo
