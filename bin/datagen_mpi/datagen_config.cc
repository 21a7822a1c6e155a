#include "bin/datagen_mpi/datagen_config.h"

namespace simscale::datagen {

void DeclareOptions(config::Schema* schema, DatagenConfig* c) {
  c->run.output = "data/dataset.h5";
  app::AddRunOptions(schema, &c->run);
  schema->Add("datagen.env", &c->env, "environment to roll out").NonEmpty().Flag("env");
  schema
      ->Add("datagen.policy", &c->policy,
            "policy: 'scripted' (the env's expert), 'random', or a checkpoint directory")
      .NonEmpty()
      .Flag("policy");
  schema->Add("datagen.episodes", &c->episodes, "number of episodes over all ranks")
      .Min(1)
      .Flag("episodes");
  schema->Add("datagen.max_steps", &c->max_steps, "episode step limit (0: the env's default)")
      .Min(0);
  schema->Add("datagen.cameras", &c->cameras, "cameras to record RGB images from (empty: none)")
      .Flag("cameras");
  schema->Add("datagen.image_size", &c->image_size, "square image side in pixels").Min(8).Max(1024);
  schema->Add("datagen.depth", &c->depth, "also record depth images (metres)");
  schema->Add("datagen.dr", &c->dr, "domain randomization preset")
      .OneOf({"clean", "light", "default", "heavy"})
      .Flag("dr");
  schema->Add("datagen.validate", &c->validate, "validate this dataset file and exit")
      .Flag("validate");
  schema->Add("datagen.stats", &c->stats, "print statistics of this dataset file and exit")
      .Flag("stats");
}

}  // namespace simscale::datagen
