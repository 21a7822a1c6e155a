#include "bin/train_ddp/train_config.h"

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "common/models/policy.h"
#include "common/policies/policy_spec.h"

namespace simscale::train {

namespace {

// A vision config (model.vision) asks for proprioceptive state keys only: object and target
// positions would let the policy succeed without looking.
void CheckVisionStateKeys(const TrainConfig& c) {
  if (!c.model_options.vision) return;
  try {
    policies::CheckProprioceptiveStateKeys(c.state_keys, "data.state_keys");
  } catch (const InvalidArgumentError& e) {
    throw config::ConfigError(e.what());
  }
}

// Each value with its config word: the words are parsed into enums here, once.
template <typename E>
std::vector<std::pair<std::string, E>> Words(std::initializer_list<E> values) {
  std::vector<std::pair<std::string, E>> words;
  for (const E value : values) words.emplace_back(ToString(value), value);
  return words;
}

// What the dataset gives each sample: state keys, history, checks, action normalisation.
void DeclareDataOptions(config::Schema* schema, TrainConfig* c) {
  schema->Add("data.state_keys", &c->state_keys,
              "observation keys forming the state (empty: every low-dimensional one)");
  schema->Add("data.history", &c->history, "frames of state per sample").Min(1).Max(64);
  schema->Add("data.verify_checksums", &c->verify_checksums,
              "verify what is read from a store against its per-episode checksums");
  schema
      ->Add("data.action_normalization", &c->action_normalization,
            "actions standardised (std) or mapped to [-1, 1] (minmax)")
      .OneOf({"std", "minmax"});
}

}  // namespace

void DeclareOptions(config::Schema* schema, TrainConfig* c) {
  c->run.output = "runs/train";
  app::AddRunOptions(schema, &c->run);
  TrainerOptions& t = c->trainer;
  schema->Add("train.dataset", &c->dataset, "HDF5 dataset (a SimScale store or any robomimic file)")
      .NonEmpty()
      .Flag("dataset");
  // Every registered model, so a new one needs no edit here (and --help lists them).
  schema->Add("train.model", &c->model, "model to train (a registered model name)")
      .OneOf(models::ListModels())
      .Flag("model");
  schema->Add("train.steps", &t.steps, "optimizer steps").Min(1).Flag("steps");
  schema->Add("train.batch_size", &t.batch_size, "global batch size (split over ranks)").Min(1);
  schema
      ->Add("train.grad_accumulation", &t.grad_accumulation,
            "micro-batches per optimizer step (must divide batch_size)")
      .Min(1);
  schema->Add("train.lr", &t.lr, "peak learning rate (AdamW)").GreaterThan(0).Max(1);
  schema->Add("train.weight_decay", &t.weight_decay, "AdamW weight decay").Min(0);
  schema
      ->Add("train.warmup_steps", &t.warmup_steps,
            "linear warmup steps from 1% of lr (more than train.steps: clamped to "
            "train.steps, with a warning)")
      .Min(0);
  schema->Add("train.min_lr_ratio", &t.min_lr_ratio, "cosine schedule floor (fraction of lr)")
      .Min(0)
      .Max(1);
  schema->Add("train.grad_clip", &t.grad_clip, "global gradient-norm clip (0: off)").Min(0);
  schema->AddChoice("train.precision", &t.precision,
                    Words({Precision::kFp32, Precision::kBf16, Precision::kFp16}),
                    "fp32, bf16 (autocast on CPU and CUDA) or fp16 (CUDA, dynamic loss scaling)");
  schema->Add("train.ema_decay", &t.ema_decay, "weight EMA decay (0: off)").Min(0).Max(0.99999);
  schema
      ->Add("train.random_shift", &t.random_shift,
            "image augmentation: shift each training image by up to N pixels, edges repeated "
            "(0: off; evaluation never shifts)")
      .Min(0)
      .Max(64);
  schema->AddChoice("train.device", &t.device, Words({Device::kAuto, Device::kCpu, Device::kCuda}),
                    "compute device");
  schema->AddChoice(
      "train.allreduce", &t.allreduce,
      Words({AllReduceBackend::kAuto, AllReduceBackend::kMpi, AllReduceBackend::kNccl}),
      "gradient all-reduce backend");
  schema->Add("train.bucket_mb", &t.bucket_mb, "gradient bucket size in MiB").Min(1);
  schema->Add("train.prefetch", &t.prefetch, "batches the loader prepares ahead").Min(1).Max(64);
  schema->Add("train.threads", &c->threads, "LibTorch intra-op threads per rank").Min(1).Max(256);
  schema->Add("train.log_every", &t.log_every, "steps between metrics lines").Min(1);
  schema->Add("train.eval_every", &t.eval_every, "steps between validation losses (0: end only)")
      .Min(0);
  schema->Add("train.eval_batches", &t.eval_batches, "validation batches").Min(1);
  schema
      ->Add("train.checkpoint_every", &t.checkpoint_every,
            "steps between checkpoints (0: at the end only)")
      .Min(0);
  schema->Add("train.keep_checkpoints", &t.keep_checkpoints, "checkpoints kept").Min(1);
  schema
      ->Add("train.max_nonfinite", &t.max_nonfinite, "non-finite steps in a row that stop the run")
      .Min(1);
  schema->AddChoice("train.metrics_format", &t.metrics_format,
                    Words({MetricsFormat::kJsonl, MetricsFormat::kCsv}), "metrics file format");
  schema
      ->Add("log.progress_interval", &t.progress_interval,
            "seconds between progress lines in batch logs")
      .GreaterThan(0);
  DeclareDataOptions(schema, c);
  models::DeclareModelOptions(schema, &c->model_options);
  schema->AddCheck([c] {
    CheckVisionStateKeys(*c);
    if (c->trainer.batch_size % c->trainer.grad_accumulation != 0) {
      config::Fail("train.grad_accumulation",
                   fmt::format("a divisor of train.batch_size ({})", c->trainer.batch_size),
                   fmt::format("{}", c->trainer.grad_accumulation));
    }
  });
}

}  // namespace simscale::train
