#include "common/train/trainer.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/core/preemption.h"
#include "common/core/progress.h"
#include "common/core/random.h"
#include "common/models/compat.h"
#include "common/models/optimizer.h"
#include "common/train/augment.h"
#include "common/train/checkpointer.h"
#include "common/train/grad_sync.h"
#include "common/train/loss_scaler.h"
#include "common/train/metrics.h"
#include "common/train/nonfinite_guard.h"
#include "common/train/weight_average.h"

namespace simscale::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Global samples per micro-step.
int64_t MicroBatch(const TrainerOptions& o) {
  CheckArgument(o.grad_accumulation >= 1 && o.batch_size % o.grad_accumulation == 0,
                "train.grad_accumulation", o.grad_accumulation,
                fmt::format("a divisor of train.batch_size ({})", o.batch_size));
  return o.batch_size / o.grad_accumulation;
}

// One GPU per rank of a node when CUDA is there and wanted.
torch::Device ChooseDevice(const TrainerOptions& o, const mpi::Communicator& comm) {
  const bool cuda_available = torch::cuda::is_available();
  if (o.device == Device::kCuda && !cuda_available) {
    throw InvalidArgumentError(
        "train.device: 'cuda' requested but LibTorch sees no CUDA device "
        "(this LibTorch build may be CPU-only)");
  }
  torch::Device device = torch::kCPU;
  if ((o.device == Device::kAuto && cuda_available) || o.device == Device::kCuda) {
    const int local = mpi::LocalRank(comm);
    device = torch::Device(torch::kCUDA, static_cast<int8_t>(local % torch::cuda::device_count()));
  }
  if (o.precision == Precision::kFp16 && !device.is_cuda()) {
    throw InvalidArgumentError("train.precision: 'fp16' is for CUDA; use bf16 on the CPU");
  }
  return device;
}

std::unique_ptr<GradientSync> ChooseGradientSync(AllReduceBackend backend,
                                                 const torch::Device& device,
                                                 const mpi::Communicator& comm) {
  const bool nccl = backend == AllReduceBackend::kNccl ||
                    (backend == AllReduceBackend::kAuto && device.is_cuda() && NcclAvailable());
  std::unique_ptr<GradientSync> sync = nccl ? MakeNcclSync(comm) : MakeMpiSync(comm);
  if (!nccl && device.is_cuda() && comm.size() > 1) {
    throw InvalidArgumentError(
        "train.allreduce: MPI all-reduce needs CPU tensors; use nccl on CUDA");
  }
  return sync;
}

// Every rank starts from rank 0's weights and buffers.
void BroadcastFromRoot(models::Policy& model, GradientSync& sync) {
  std::vector<torch::Tensor> state;
  for (const auto& p : model.parameters()) state.push_back(p);
  for (const auto& b : model.buffers()) state.push_back(b);
  torch::NoGradGuard no_grad;
  sync.Broadcast(state, 0);
}

std::vector<torch::Tensor> TrainableParameters(models::Policy& model) {
  std::vector<torch::Tensor> trainable;
  for (const auto& p : model.parameters()) {
    if (p.requires_grad()) trainable.push_back(p);
  }
  return trainable;
}

torch::optim::AdamWOptions AdamOptions(const TrainerOptions& o) {
  torch::optim::AdamWOptions adam(o.lr);
  adam.betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay);
  return adam;
}

models::AutocastGuard Autocast(const torch::Device& device, Precision precision) {
  return models::AutocastGuard(device.type(), precision != Precision::kFp32,
                               precision == Precision::kFp16 ? at::kHalf : at::kBFloat16);
}

Progress::Options ProgressOptions(const TrainerOptions& o, bool root) {
  Progress::Options options;
  options.label = "train";
  options.unit = "steps";
  options.enabled = root;
  options.line_interval = std::chrono::duration<double>(o.progress_interval);
  return options;
}

// A warmup longer than the run (the default 100 steps in a 10-step first try) becomes the whole
// run: the learning rate still ramps up and the run trains instead of failing. Warns once.
void ClampWarmup(TrainerOptions* o, bool root) {
  if (o->warmup_steps <= o->steps) return;
  if (root) {
    log::Warn("train.warmup_steps ({}) exceeds train.steps ({}); warming up over all {} steps",
              o->warmup_steps, o->steps, o->steps);
  }
  o->warmup_steps = o->steps;
}

// Whether a periodic action (every `every` steps; 0: never) is due after `step` steps.
bool Due(int64_t every, int64_t step) { return every > 0 && step % every == 0; }

}  // namespace

double LearningRate(const TrainerOptions& o, int64_t step) {
  if (step < o.warmup_steps) {
    const double progress = static_cast<double>(step) / static_cast<double>(o.warmup_steps);
    return o.lr * (0.01 + 0.99 * progress);
  }
  const int64_t decay_steps = std::max<int64_t>(1, o.steps - o.warmup_steps);
  const double progress =
      std::min(1.0, static_cast<double>(step - o.warmup_steps) / static_cast<double>(decay_steps));
  const double cosine = 0.5 * (1.0 + std::cos(M_PI * progress));
  return o.lr * (o.min_lr_ratio + (1.0 - o.min_lr_ratio) * cosine);
}

struct Trainer::Impl {
  // The global batch's loss and gradient norm, identical on every rank.
  struct Gradients {
    double loss = 0.0;
    double grad_norm = 0.0;
  };

  Impl(std::shared_ptr<models::Policy> policy, std::shared_ptr<const TrajectoryDataset> train_set,
       std::shared_ptr<const TrajectoryDataset> valid_set, TrainerOptions o,
       const mpi::Communicator& c, fs::path dir, std::string config_yaml);

  void StartLoader();
  bool StopRequested();
  bool TrainStep(MetricsWindow* window);
  Gradients ComputeGradients(MetricsWindow* window);
  double MicroBatchBackward(MetricsWindow* window);
  void ApplyUpdate(double grad_norm);
  void Report(MetricsWindow* window, int64_t first_step, bool validate, MetricsWriter* metrics,
              Progress* progress);
  // Mean validation loss (-1: no validation split); *target_loss its auxiliary part, when the
  // model has one (left as it is otherwise).
  double ValidationLoss(double* target_loss);
  void WriteCheckpoint();
  TrainerState State() const;
  void Restore(const TrainerState& state);

  TrainerOptions options;
  mpi::Communicator comm;
  fs::path run_dir;
  std::shared_ptr<models::Policy> model;
  std::shared_ptr<const TrajectoryDataset> train, valid;
  int64_t micro_batch;  // global samples per micro-step
  torch::Device device;
  LossScaler scaler;
  NonFiniteGuard guard;
  Checkpointer checkpointer;
  std::unique_ptr<GradientSync> sync;
  std::vector<torch::Tensor> parameters;  // the trainable ones
  std::unique_ptr<GradientBuckets> grads;
  std::unique_ptr<models::FusedAdamW> optimizer;
  std::unique_ptr<WeightAverage> average;
  std::unique_ptr<BatchLoader> loader;  // while training
  int64_t local_batch = 0;              // this rank's samples per micro-step
  // Where training is; with guard.counts() and scaler.state(), the TrainerState.
  int64_t step = 0;
  LoaderPosition data;
  double samples_seen = 0;
  double last_valid_loss = -1.0;    // -1: none computed (no validation split)
  double validation_seconds = 0.0;  // not training time: left out of the run's throughput
};

Trainer::Impl::Impl(std::shared_ptr<models::Policy> policy,
                    std::shared_ptr<const TrajectoryDataset> train_set,
                    std::shared_ptr<const TrajectoryDataset> valid_set, TrainerOptions o,
                    const mpi::Communicator& c, fs::path dir, std::string config_yaml)
    : options(std::move(o)),
      comm(c),
      run_dir(std::move(dir)),
      model(std::move(policy)),
      train(std::move(train_set)),
      valid(std::move(valid_set)),
      micro_batch(MicroBatch(options)),
      device(ChooseDevice(options, comm)),
      scaler(options.precision == Precision::kFp16),
      guard(options.max_nonfinite),
      checkpointer(run_dir, comm, std::move(config_yaml), options.keep_checkpoints,
                   options.hooks.checkpoint_before_marker) {
  ClampWarmup(&options, comm.is_root());
  model->to(device);
  sync = ChooseGradientSync(options.allreduce, device, comm);
  BroadcastFromRoot(*model, *sync);
  parameters = TrainableParameters(*model);
  grads = std::make_unique<GradientBuckets>(parameters, options.bucket_mb * 1024 * 1024);
  optimizer = std::make_unique<models::FusedAdamW>(parameters, AdamOptions(options));
  average = std::make_unique<WeightAverage>(parameters, options.ema_decay);
  log::Info("trainer: {} on {}, gradients summed with {}", ToString(options.precision),
            device.str(), sync->name());
}

void Trainer::Impl::StartLoader() {
  ShardedSampler sampler(train->num_samples(), micro_batch, options.seed, comm.rank(), comm.size());
  local_batch = sampler.local_batch();
  loader = std::make_unique<BatchLoader>(train, sampler, data, static_cast<int>(options.prefetch),
                                         options.max_text_len, model->spec().policy.image_size);
}

// Preemption: any rank's signal (or stop hook) stops every rank at the same step.
bool Trainer::Impl::StopRequested() {
  const bool hook = options.hooks.stop_before_step && options.hooks.stop_before_step(step);
  const bool stop = preemption::Requested() || hook;
  if (comm.AllReduce<int>(stop ? 1 : 0, mpi::ReduceOp::kMax) == 0) return false;
  log::Warn("preemption ({}): writing a checkpoint at step {} and stopping",
            preemption::Requested() ? preemption::SignalName() : "stop hook", step);
  return true;
}

// One optimizer step; returns whether its update was applied (false: skipped, not finite).
bool Trainer::Impl::TrainStep(MetricsWindow* window) {
  const double lr = LearningRate(options, step);
  for (auto& group : optimizer->param_groups()) {
    static_cast<torch::optim::AdamWOptions&>(group.options()).lr(lr);
  }
  const Gradients g = ComputeGradients(window);
  ++step;
  data = loader->position();
  const bool finite = guard.Admit(step, g.loss, g.grad_norm, checkpointer.last());
  scaler.Update(finite);
  if (!finite) return false;
  ApplyUpdate(g.grad_norm);
  samples_seen += static_cast<double>(options.batch_size);
  window->AddStep(g.loss, g.grad_norm);
  return true;
}

Trainer::Impl::Gradients Trainer::Impl::ComputeGradients(MetricsWindow* window) {
  grads->Zero();
  // Randomness inside the step (dropout, diffusion noise) is a function of (seed, step, rank),
  // so a resumed run repeats it exactly.
  torch::manual_seed(Mix64(options.seed ^ Mix64(static_cast<uint64_t>(step) * 1000003u +
                                                static_cast<uint64_t>(comm.rank()))));
  double local_loss = 0.0;
  for (int64_t micro = 0; micro < options.grad_accumulation; ++micro) {
    local_loss += MicroBatchBackward(window);
  }
  const auto reduce_start = Clock::now();
  sync->AllReduceSum(grads->buckets());
  double loss_sums[1] = {local_loss};
  comm.AllReduceInPlace(loss_sums, 1, mpi::ReduceOp::kSum);
  window->AddAllReduceSeconds(Seconds(reduce_start));
  Gradients g;
  g.loss = loss_sums[0] / static_cast<double>(micro_batch * options.grad_accumulation);
  if (scaler.scale() != 1.0) grads->Scale(1.0 / scaler.scale());
  g.grad_norm = std::sqrt(grads->SquaredNorm());
  return g;
}

// Forward and backward of this rank's share of one micro-batch; returns its loss times its samples.
double Trainer::Impl::MicroBatchBackward(MetricsWindow* window) {
  models::Batch batch = loader->Next(window->data_wait_seconds()).To(device);
  RandomShift(&batch, options.random_shift);
  const models::AutocastGuard autocast = Autocast(device, options.precision);
  const models::ForwardOutput out = model->Forward(batch);
  // Each rank's mean loss weighted by its share of the global batch: the all-reduced sum of
  // gradients is the gradient of the global mean, at any rank count.
  const double weight = static_cast<double>(local_batch) /
                        static_cast<double>(micro_batch * options.grad_accumulation);
  torch::Tensor loss = out.loss;
  if (options.hooks.corrupt_loss && options.hooks.corrupt_loss(step, comm.rank())) {
    loss = loss * std::numeric_limits<double>::quiet_NaN();
  }
  (loss * (weight * scaler.scale())).backward();
  return loss.item<double>() * static_cast<double>(local_batch);
}

void Trainer::Impl::ApplyUpdate(double grad_norm) {
  if (options.grad_clip > 0 && grad_norm > options.grad_clip) {
    grads->Scale(options.grad_clip / grad_norm);
  }
  optimizer->step();
  average->Update();
}

void Trainer::Impl::Report(MetricsWindow* window, int64_t first_step, bool validate,
                           MetricsWriter* metrics, Progress* progress) {
  MetricsLine line = window->Close();
  line.step = step;
  line.lr = LearningRate(options, step - 1);
  line.skipped = guard.counts().skipped;
  if (validate) {
    // After Close: the validation's time belongs to no training window.
    const auto start = Clock::now();
    double target_loss = -1.0;
    last_valid_loss = ValidationLoss(&target_loss);
    validation_seconds += Seconds(start);
    if (target_loss >= 0) line.valid_target_loss = target_loss;
    if (last_valid_loss >= 0) {
      line.valid_loss = last_valid_loss;
      if (step < options.steps) log::Info("step {}: validation loss {:.5g}", step, last_valid_loss);
    }
  }
  metrics->Write(line);
  progress->Update(step - first_step,
                   fmt::format("loss {:.4g}, lr {:.3g}, {:.0f} samples/s, data wait {:.1f}%",
                               line.loss, line.lr, line.samples_per_s, 100 * line.data_wait_share));
}

double Trainer::Impl::ValidationLoss(double* target_loss) {
  if (!valid || valid->num_samples() < micro_batch) return -1.0;
  ShardedSampler sampler(valid->num_samples(), micro_batch, options.seed ^ 0x5eed, comm.rank(),
                         comm.size());
  BatchConverter converter(*valid, options.max_text_len, model->spec().policy.image_size);
  const int64_t batches = std::min(options.eval_batches, sampler.batches_per_epoch());
  double sums[3] = {0.0, 0.0, 0.0};  // sums of losses and target losses x samples, samples
  model->eval();
  {
    torch::NoGradGuard no_grad;
    HostBatch host;
    LoaderPosition position;
    for (int64_t b = 0; b < batches; ++b) {
      const auto samples = sampler.Local(position);
      valid->Gather(samples.data(), static_cast<int64_t>(samples.size()), &host);
      const models::Batch batch = converter.Convert(host).To(device);
      const models::AutocastGuard autocast = Autocast(device, options.precision);
      const auto out = model->Forward(batch);
      const auto n = static_cast<double>(samples.size());
      sums[0] += out.loss.item<double>() * n;
      if (out.target_loss.defined()) sums[1] += out.target_loss.item<double>() * n;
      sums[2] += n;
      position = sampler.Next(position);
    }
  }
  model->train();
  comm.AllReduceInPlace(sums, 3, mpi::ReduceOp::kSum);
  if (sums[2] <= 0) return -1.0;
  if (model->spec().target_dim > 0) *target_loss = sums[1] / sums[2];
  return sums[0] / sums[2];
}

void Trainer::Impl::WriteCheckpoint() {
  checkpointer.Write(step, TrainerStateToYaml(State()), *model, *optimizer, average.get());
}

TrainerState Trainer::Impl::State() const {
  TrainerState state;
  state.step = step;
  state.data = data;
  state.nonfinite = guard.counts();
  if (scaler.enabled()) state.loss_scaler = scaler.state();
  state.samples_seen = samples_seen;
  return state;
}

void Trainer::Impl::Restore(const TrainerState& state) {
  step = state.step;
  data = state.data;
  guard.Restore(state.nonfinite);
  if (state.loss_scaler) scaler.Restore(*state.loss_scaler);
  samples_seen = state.samples_seen;
}

Trainer::Trainer(std::shared_ptr<models::Policy> model,
                 std::shared_ptr<const TrajectoryDataset> train,
                 std::shared_ptr<const TrajectoryDataset> valid, TrainerOptions options,
                 const mpi::Communicator& comm, fs::path run_dir, std::string config_yaml)
    : impl_(std::make_unique<Impl>(std::move(model), std::move(train), std::move(valid),
                                   std::move(options), comm, std::move(run_dir),
                                   std::move(config_yaml))) {}

Trainer::~Trainer() = default;

bool Trainer::Resume() {
  Impl& m = *impl_;
  const fs::path path = m.checkpointer.FindLatest();
  if (path.empty()) return false;
  // Every rank reads the checkpoint (shared file system assumed for the run directory; a rank
  // that cannot read it fails the job with the path in the message).
  mpi::RunAgreed(m.comm, [&] {
    const std::string extra =
        m.checkpointer.Restore(path, m.model.get(), m.optimizer.get(), m.average.get(), m.device);
    m.Restore(TrainerStateFromYaml(extra, path.string()));
  });
  m.grads->Rebind();
  log::Info("resumed from {} at step {} (epoch {}, batch {})", path.string(), m.step, m.data.epoch,
            m.data.batch);
  return true;
}

TrainSummary Trainer::Train() {
  Impl& m = *impl_;
  const TrainerOptions& o = m.options;
  m.StartLoader();
  MetricsWriter metrics(m.run_dir, o.metrics_format, m.step, m.comm.is_root());
  Progress progress(o.steps - m.step, ProgressOptions(o, m.comm.is_root()));
  MetricsWindow window(o.batch_size);
  const int64_t first_step = m.step;
  const auto start = Clock::now();
  TrainSummary summary;
  m.model->train();
  while (m.step < o.steps) {
    if (m.StopRequested()) {
      m.WriteCheckpoint();
      summary.preempted = true;
      break;
    }
    if (!m.TrainStep(&window)) continue;
    const bool last = m.step == o.steps;
    // Validation (every eval_every steps and at the end) gets a metrics line of its own step.
    const bool validate = Due(o.eval_every, m.step) || last;
    if (m.step % o.log_every == 0 || validate) {
      m.Report(&window, first_step, validate, &metrics, &progress);
    }
    if (Due(o.checkpoint_every, m.step) && !last) m.WriteCheckpoint();
  }
  m.loader.reset();
  const double elapsed = Seconds(start) - m.validation_seconds;
  if (!summary.preempted) {
    summary.final_valid_loss = m.last_valid_loss;
    m.WriteCheckpoint();
  }
  progress.Finish(fmt::format("loss {:.4g}", window.last_loss()));
  summary.steps = m.step;
  summary.final_loss = window.last_loss();
  summary.nonfinite_skipped = m.guard.counts().skipped;
  const double trained = static_cast<double>(m.step - first_step);
  summary.samples_per_second = elapsed > 0 ? trained * o.batch_size / elapsed : 0.0;
  summary.data_wait_share = elapsed > 0 ? window.total_data_wait() / elapsed : 0.0;
  summary.allreduce_share = elapsed > 0 ? window.total_allreduce() / elapsed : 0.0;
  summary.last_checkpoint = m.checkpointer.last();
  return summary;
}

double Trainer::ValidationLoss() {
  double target_loss = -1.0;
  return impl_->ValidationLoss(&target_loss);
}

TrainerState Trainer::state() const { return impl_->State(); }

models::Policy& Trainer::model() { return *impl_->model; }

}  // namespace simscale::train
