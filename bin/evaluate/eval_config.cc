#include "bin/evaluate/eval_config.h"

namespace simscale::eval {

void DeclareOptions(config::Schema* schema, EvalConfig* c) {
  c->run.output = "runs/eval";
  app::AddRunOptions(schema, &c->run);
  schema->Add("eval.env", &c->env, "environment to evaluate in").NonEmpty().Flag("env");
  schema->Add("eval.policy", &c->policy, "policy: 'scripted', 'random', or a checkpoint directory")
      .NonEmpty()
      .Flag("policy");
  schema->Add("eval.episodes", &c->episodes, "episodes per condition over all ranks")
      .Min(1)
      .Flag("episodes");
  schema->Add("eval.max_steps", &c->max_steps, "episode step limit (0: the env's default)").Min(0);
  schema
      ->Add("eval.conditions", &c->conditions,
            "domain-randomization conditions (presets or single-parameter switches)")
      .NonEmpty()
      .Flag("conditions");
}

}  // namespace simscale::eval
