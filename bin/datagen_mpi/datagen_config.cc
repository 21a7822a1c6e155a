#include "bin/datagen_mpi/datagen_config.h"

#include "common/envs/registry.h"
#include "common/sim/randomization.h"

namespace simscale::datagen {

void DeclareOptions(config::Schema* schema, DatagenConfig* c) {
  c->run.output = "data/dataset.h5";
  app::AddRunOptions(schema, &c->run);
  schema->Add("datagen.env", &c->env, "environment to roll out")
      .OneOf(envs::ListEnvs())
      .Flag("env");
  schema
      ->Add("datagen.policy", &c->policy,
            "policy: 'scripted' (the env's expert), 'random', or a checkpoint directory")
      .NonEmpty()
      .Flag("policy");
  schema->Add("datagen.episodes", &c->episodes, "episodes to generate over all ranks")
      .Min(1)
      .Flag("episodes");
  schema->Add("datagen.max_steps", &c->max_steps, "episode step limit (0: the env's default)")
      .Min(0)
      .Flag("max-steps");
  schema->Add("datagen.dr", &c->dr, "domain randomization condition")
      .OneOf(sim::RandomizationConditionNames())
      .Flag("dr");
  schema
      ->Add("datagen.action_noise", &c->action_noise,
            "std of Gaussian noise added to the policy's end-effector actions (diverse demos)")
      .Min(0)
      .Max(1);
  schema->Add("datagen.record_noisy_actions", &c->record_noisy_actions,
              "with action noise, store the executed noisy actions instead of the policy's own");
  schema->Add("datagen.only_successful", &c->only_successful,
              "store only successful episodes (the dropped ones are counted and reported)");
  schema
      ->Add("datagen.cameras", &c->cameras,
            "cameras to record RGB images from, e.g. agentview,wrist (empty: no images)")
      .Flag("cameras");
  schema->Add("datagen.image_size", &c->image_size, "square image side in pixels").Min(8).Max(1024);
  schema->Add("datagen.depth", &c->depth, "also record depth images (metres, float32)");
  schema->Add("datagen.gl_backend", &c->gl_backend, "OpenGL platform for rendering")
      .OneOf({"auto", "egl", "egl_device", "egl_surfaceless", "osmesa"});
  schema
      ->Add("datagen.episodes_per_round", &c->episodes_per_round,
            "episodes each rank simulates between two collective appends (a crash loses at "
            "most one round)")
      .Min(1);
  schema->Add("io.lowdim_gzip", &c->lowdim_gzip, "deflate level of low-dimensional columns")
      .Min(0)
      .Max(9);
  schema->Add("io.image_gzip", &c->image_gzip, "deflate level of image columns (0: unfiltered)")
      .Min(0)
      .Max(9);
  schema->Add("io.build_views", &c->build_views,
              "build the robomimic data/demo_<i> views after generation");
  schema->Add("io.valid_fraction", &c->valid_fraction, "share of demos listed in mask/valid")
      .Min(0)
      .Max(0.5);
  schema
      ->Add("log.progress_interval", &c->progress_interval,
            "seconds between progress lines in batch logs")
      .GreaterThan(0);
  schema->Add("datagen.validate", &c->validate, "validate this dataset file and exit")
      .Flag("validate");
  schema->Add("datagen.stats", &c->stats, "print statistics of this dataset file and exit")
      .Flag("stats");
}

}  // namespace simscale::datagen
