#include "bin/evaluate/eval_config.h"

#include "common/envs/registry.h"
#include "common/sim/randomization.h"

namespace simscale::eval {

namespace {

// What a checkpoint policy relies on: evaluate it with an input withheld or replaced.
void DeclareAblationOptions(config::Schema* schema, EvalConfig* c) {
  schema
      ->Add("eval.blank_instruction", &c->blank_instruction,
            "ablation: the policy's instruction is blank")
      .Flag("blank-instruction");
  schema
      ->Add("eval.swap_instruction", &c->swap_instruction,
            "ablation: the policy gets another episode's instruction, for another task")
      .Flag("swap-instruction");
  schema
      ->Add("eval.blackout_cameras", &c->blackout_cameras,
            "ablation: cameras whose images the policy gets black")
      .Flag("blackout-cameras");
  schema
      ->Add("eval.temporal_ensemble", &c->temporal_ensemble,
            "chunk policies (horizon > 1): -2 averages overlapping chunks with decay 0.1, -1 "
            "executes the first action of each chunk and replans every step, >= 0 averages every "
            "chunk's prediction for the step weighted exp(-value * i), i = 0 the oldest (ACT's "
            "temporal ensembling)")
      .Min(-2)
      .Max(10)
      .Flag("temporal-ensemble");
  schema->AddCheck([c] {
    if (c->blank_instruction && c->swap_instruction) {
      config::Fail("eval.swap_instruction", "not to be combined with eval.blank_instruction",
                   "both set");
    }
  });
}

}  // namespace

void DeclareOptions(config::Schema* schema, EvalConfig* c) {
  c->run.output = "runs/eval";
  app::AddRunOptions(schema, &c->run);
  std::vector<std::string> envs = envs::ListEnvs();
  envs.emplace_back("");
  schema
      ->Add("eval.env", &c->env,
            "environment to evaluate in ('': a checkpoint policy's own, reach otherwise)")
      .OneOf(envs)
      .Flag("env");
  schema
      ->Add("eval.policy", &c->policy,
            "policy: 'scripted', 'random', a checkpoint directory or a train_ddp run directory")
      .NonEmpty()
      .Flag("policy");
  schema->Add("eval.episodes", &c->episodes, "episodes per condition over all ranks")
      .Min(1)
      .Flag("episodes");
  schema->Add("eval.max_steps", &c->max_steps, "episode step limit (0: the env's default)")
      .Min(0)
      .Flag("max-steps");
  schema
      ->Add("eval.conditions", &c->conditions,
            "domain-randomization conditions: presets (clean, light, default, heavy) and "
            "single-parameter switches (friction, mass, ...)")
      .NonEmpty()
      .OneOf(sim::RandomizationConditionNames())
      .Flag("conditions");
  schema->Add("eval.prefer_ema", &c->prefer_ema, "use a run's EMA weights when it saved them");
  schema->Add("eval.device", &c->device, "device for checkpoint policies")
      .OneOf({"auto", "cpu", "cuda"});
  schema->Add("eval.gl_backend", &c->gl_backend, "OpenGL platform for rendering")
      .OneOf({"auto", "egl", "egl_device", "egl_surfaceless", "osmesa"});
  schema
      ->Add("eval.frame_episodes", &c->frame_episodes,
            "first episodes of each condition drawn as a PNG grid of frames (0: none)")
      .Min(0)
      .Max(32);
  schema->Add("eval.video", &c->video, "also write an MP4 of episode 0 per condition (ffmpeg)");
  schema->Add("eval.threads", &c->threads, "LibTorch intra-op threads per rank").Min(1).Max(256);
  DeclareAblationOptions(schema, c);
}

}  // namespace simscale::eval
