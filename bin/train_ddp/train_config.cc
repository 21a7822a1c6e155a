#include "bin/train_ddp/train_config.h"

#include <fmt/format.h>

namespace simscale::train {

void DeclareOptions(config::Schema* schema, TrainConfig* c) {
  c->run.output = "runs/train";
  app::AddRunOptions(schema, &c->run);
  schema->Add("train.dataset", &c->dataset, "HDF5 dataset written by datagen_mpi").Flag("dataset");
  schema->Add("train.model", &c->model, "model to train").OneOf({"bc", "vla"}).Flag("model");
  schema->Add("train.steps", &c->steps, "optimizer steps").Min(1).Flag("steps");
  schema->Add("train.batch_size", &c->batch_size, "global batch size (split over ranks)").Min(1);
  schema->Add("train.lr", &c->lr, "peak learning rate (AdamW)").GreaterThan(0).Max(1);
  schema->Add("train.weight_decay", &c->weight_decay, "AdamW weight decay").Min(0);
  schema->Add("train.warmup_steps", &c->warmup_steps, "linear warmup steps").Min(0);
  schema->Add("train.grad_clip", &c->grad_clip, "global gradient-norm clip (0: off)").Min(0);
  schema->AddCheck([c] {
    if (c->warmup_steps > c->steps) {
      config::Fail("train.warmup_steps", fmt::format("at most train.steps ({})", c->steps),
                   fmt::format("{}", c->warmup_steps));
    }
  });
}

}  // namespace simscale::train
