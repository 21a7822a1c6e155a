#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "common/core/device.h"

// The trainer's options, torch-free so that tool configs can declare them without LibTorch.
namespace simscale::train {

// Arithmetic of the forward pass: fp32, bf16 autocast (CPU and CUDA), or fp16 autocast with
// dynamic loss scaling (CUDA only).
enum class Precision { kFp32, kBf16, kFp16 };
// Where the model runs: kAuto takes a GPU when LibTorch sees one.
// How gradients are summed over ranks: kAuto is NCCL on CUDA (when built with it), else MPI.
enum class AllReduceBackend { kAuto, kMpi, kNccl };
// Format of the run directory's metrics file (metrics.jsonl or metrics.csv).
enum class MetricsFormat { kJsonl, kCsv };

// The word each value has in the config ("fp32", "auto", "nccl", "jsonl"), for logs and messages.
const char* ToString(Precision precision);
const char* ToString(AllReduceBackend backend);
const char* ToString(MetricsFormat format);

// Code the trainer calls at fixed points of its loop, so that tests can inject faults through code
// they pass in (tests/tools/train_ddp_faults.cc); production runs leave both empty.
struct TrainerHooks {
  // Called on every rank before each step this process trains, in order, with the number of steps
  // done; true on any rank stops the run as a preemption signal would (checkpoint, then stop).
  std::function<bool(int64_t step)> stop_before_step;
  // Called for each micro-batch of step `step`; true makes the loss of `rank` non-finite there.
  std::function<bool(int64_t step, int rank)> corrupt_loss;
  // Called on the writing rank while the checkpoint of `step` is written: after its files, before
  // its completion marker (a test kills the process here to leave a partial checkpoint).
  std::function<void(int64_t step)> checkpoint_before_marker;
};

struct TrainerOptions {
  int64_t steps = 1000;           // optimizer steps
  int64_t batch_size = 256;       // global batch (over ranks and accumulation micro-steps)
  int64_t grad_accumulation = 1;  // micro-batches per optimizer step
  double lr = 1e-3;
  double weight_decay = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  int64_t warmup_steps = 100;  // linear warmup from 1% of lr (the Trainer clamps it to steps)
  double min_lr_ratio = 0.0;   // cosine decays to lr * min_lr_ratio
  double grad_clip = 1.0;      // global gradient-norm clip (0: off)
  Precision precision = Precision::kFp32;
  double ema_decay = 0.0;    // exponential moving average of the weights (0: off)
  int64_t random_shift = 0;  // image augmentation: random shift of up to N pixels (0: off)
  Device device = Device::kAuto;
  AllReduceBackend allreduce = AllReduceBackend::kAuto;
  int64_t bucket_mb = 25;  // gradient bucket size
  int64_t prefetch = 4;    // batches prepared ahead by the loader thread
  int64_t log_every = 50;
  int64_t eval_every = 0;  // validation loss every N steps (0: at the end only)
  int64_t eval_batches = 20;
  int64_t checkpoint_every = 0;  // 0: at the end only
  int64_t keep_checkpoints = 3;
  int64_t max_nonfinite = 10;  // this many non-finite steps in a row stop the run
  MetricsFormat metrics_format = MetricsFormat::kJsonl;
  uint64_t seed = 0;
  int64_t max_text_len = 64;
  double progress_interval = 10.0;
  TrainerHooks hooks;
};

}  // namespace simscale::train
