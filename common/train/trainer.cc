#include "common/train/trainer.h"

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <limits>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/core/log.h"
#include "common/core/preemption.h"
#include "common/core/progress.h"
#include "common/core/random.h"
#include "common/models/checkpoint.h"
#include "common/models/compat.h"
#include "common/models/optimizer.h"
#include "common/train/grad_sync.h"

namespace simscale::train {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// The checkpoint's `extra`: the trainer state for an exact resume, and the policy interface.
std::string StateToYaml(const TrainerState& s, const std::string& interface_yaml) {
  YAML::Node node;
  node["step"] = s.step;
  node["epoch"] = s.data.epoch;
  node["batch"] = s.data.batch;
  node["nonfinite_skipped"] = s.nonfinite_skipped;
  node["nonfinite_in_a_row"] = s.nonfinite_in_a_row;
  node["samples_seen"] = s.samples_seen;
  if (!interface_yaml.empty()) node["interface"] = YAML::Load(interface_yaml);
  YAML::Emitter out;
  out << node;
  return out.c_str();
}

TrainerState StateFromYaml(const std::string& text, const std::string& source) {
  TrainerState s;
  try {
    const YAML::Node n = YAML::Load(text);
    s.step = n["step"].as<int64_t>();
    s.data.epoch = n["epoch"].as<int64_t>();
    s.data.batch = n["batch"].as<int64_t>();
    s.nonfinite_skipped = n["nonfinite_skipped"].as<int64_t>();
    s.nonfinite_in_a_row = n["nonfinite_in_a_row"].as<int64_t>();
    s.samples_seen = n["samples_seen"].as<double>();
  } catch (const YAML::Exception& e) {
    throw InvalidArgumentError(
        fmt::format("{}: trainer state is not what this trainer wrote: {}", source, e.what()));
  }
  return s;
}

fs::path EmaDirectory(const fs::path& checkpoint) {
  return checkpoint.parent_path() / ("ema_" + checkpoint.filename().string());
}

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
  Impl(TrainerOptions o, const mpi::Communicator& c, fs::path dir, std::string yaml)
      : options(std::move(o)), comm(c), run_dir(std::move(dir)), config_yaml(std::move(yaml)) {}

  TrainerOptions options;
  mpi::Communicator comm;
  fs::path run_dir;
  std::string config_yaml;
  torch::Device device = torch::kCPU;
  std::shared_ptr<const TrajectoryDataset> train, valid;
  std::unique_ptr<models::FusedAdamW> optimizer;
  std::unique_ptr<GradientBuckets> grads;
  std::unique_ptr<GradientSync> sync;
  std::unique_ptr<BatchLoader> loader;
  std::vector<torch::Tensor> parameters;
  std::vector<torch::Tensor> ema;  // shadow copies of the parameters (when ema_decay > 0)
  int64_t micro_batch = 0;         // global samples per micro-step
  double loss_scale = 1.0;         // fp16 dynamic loss scaling
  int64_t good_fp16_steps = 0;
  fs::path last_checkpoint;
};

Trainer::Trainer(std::shared_ptr<models::Policy> model,
                 std::shared_ptr<const TrajectoryDataset> train,
                 std::shared_ptr<const TrajectoryDataset> valid, TrainerOptions options,
                 const mpi::Communicator& comm, fs::path run_dir, std::string config_yaml)
    : impl_(std::make_unique<Impl>(std::move(options), comm, std::move(run_dir),
                                   std::move(config_yaml))),
      model_(std::move(model)) {
  Impl& m = *impl_;
  const TrainerOptions& o = m.options;
  CheckArgument(o.grad_accumulation >= 1 && o.batch_size % o.grad_accumulation == 0,
                "train.grad_accumulation", o.grad_accumulation,
                fmt::format("a divisor of train.batch_size ({})", o.batch_size));
  m.micro_batch = o.batch_size / o.grad_accumulation;

  // Device: one GPU per rank of a node when CUDA is there and wanted.
  const bool cuda_available = torch::cuda::is_available();
  if (o.device == DeviceChoice::kCuda && !cuda_available) {
    throw InvalidArgumentError(
        "train.device: 'cuda' requested but LibTorch sees no CUDA device "
        "(this LibTorch build may be CPU-only)");
  }
  if ((o.device == DeviceChoice::kAuto && cuda_available) || o.device == DeviceChoice::kCuda) {
    const int local = mpi::LocalRank(comm);
    m.device =
        torch::Device(torch::kCUDA, static_cast<int8_t>(local % torch::cuda::device_count()));
  }
  if (o.precision == Precision::kFp16 && !m.device.is_cuda()) {
    throw InvalidArgumentError("train.precision: 'fp16' is for CUDA; use bf16 on the CPU");
  }
  model_->to(m.device);
  m.train = std::move(train);
  m.valid = std::move(valid);

  const bool nccl =
      o.allreduce == AllReduceBackend::kNccl ||
      (o.allreduce == AllReduceBackend::kAuto && m.device.is_cuda() && NcclAvailable());
  m.sync = nccl ? MakeNcclSync(comm) : MakeMpiSync(comm);
  if (!nccl && m.device.is_cuda() && comm.size() > 1) {
    throw InvalidArgumentError(
        "train.allreduce: MPI all-reduce needs CPU tensors; use nccl on CUDA");
  }
  // Every rank starts from rank 0's weights and buffers.
  std::vector<torch::Tensor> state;
  for (const auto& p : model_->parameters()) state.push_back(p);
  for (const auto& b : model_->buffers()) state.push_back(b);
  {
    torch::NoGradGuard no_grad;
    m.sync->Broadcast(state, 0);
  }
  for (const auto& p : model_->parameters()) {
    if (p.requires_grad()) m.parameters.push_back(p);
  }
  m.grads = std::make_unique<GradientBuckets>(m.parameters, o.bucket_mb * 1024 * 1024);
  torch::optim::AdamWOptions adam(o.lr);
  adam.betas({o.beta1, o.beta2}).eps(o.eps).weight_decay(o.weight_decay);
  m.optimizer = std::make_unique<models::FusedAdamW>(m.parameters, adam);
  if (o.ema_decay > 0) {
    for (const auto& p : m.parameters) m.ema.push_back(p.detach().clone());
  }
  m.loss_scale = o.precision == Precision::kFp16 ? 65536.0 : 1.0;
}

Trainer::~Trainer() = default;

bool Trainer::Resume() {
  Impl& m = *impl_;
  std::string path;
  if (m.comm.is_root()) {
    if (auto latest = models::FindLatestCompleteCheckpoint(m.run_dir)) path = latest->string();
  }
  m.comm.Broadcast(&path, 0);
  if (path.empty()) return false;
  // Every rank reads the checkpoint (shared file system assumed for the run directory; a rank
  // that cannot read it fails the job with the path in the message).
  mpi::RunAgreed(m.comm, [&] {
    const models::CheckpointMetadata meta = models::ReadCheckpointMetadata(path);
    models::LoadModelState(path, model_.get());
    model_->to(m.device);
    models::LoadOptimizerState(path, m.optimizer.get());
    state_ = StateFromYaml(meta.extra, path);
    if (!m.ema.empty() && fs::exists(EmaDirectory(path))) {
      auto ema_model = models::LoadCheckpoint(EmaDirectory(path), nullptr, m.device);
      auto ema_params = ema_model->parameters();
      size_t k = 0;
      torch::NoGradGuard no_grad;
      for (const auto& p : ema_params) {
        if (p.requires_grad() && k < m.ema.size()) m.ema[k++].copy_(p);
      }
    }
  });
  m.grads->Rebind();
  m.last_checkpoint = path;
  log::Info("resumed from {} at step {} (epoch {}, batch {})", path, state_.step, state_.data.epoch,
            state_.data.batch);
  return true;
}

double Trainer::ValidationLoss() {
  Impl& m = *impl_;
  if (!m.valid || m.valid->num_samples() < m.micro_batch) return -1.0;
  ShardedSampler sampler(m.valid->num_samples(), m.micro_batch, m.options.seed ^ 0x5eed,
                         m.comm.rank(), m.comm.size());
  BatchConverter converter(*m.valid, m.options.max_text_len, model_->spec().image_size);
  const int64_t batches = std::min(m.options.eval_batches, sampler.batches_per_epoch());
  double sums[2] = {0.0, 0.0};  // sum of losses x samples, samples
  model_->eval();
  {
    torch::NoGradGuard no_grad;
    HostBatch host;
    LoaderPosition position;
    for (int64_t b = 0; b < batches; ++b) {
      const auto samples = sampler.Local(position);
      m.valid->Gather(samples.data(), static_cast<int64_t>(samples.size()), &host);
      const models::Batch batch = converter.Convert(host).To(m.device);
      models::AutocastGuard autocast(
          m.device.type(), m.options.precision != Precision::kFp32,
          m.options.precision == Precision::kFp16 ? at::kHalf : at::kBFloat16);
      const auto out = model_->Forward(batch);
      sums[0] += out.loss.item<double>() * static_cast<double>(samples.size());
      sums[1] += static_cast<double>(samples.size());
      position = sampler.Next(position);
    }
  }
  model_->train();
  m.comm.AllReduceInPlace(sums, 2, mpi::ReduceOp::kSum);
  return sums[1] > 0 ? sums[0] / sums[1] : -1.0;
}

TrainSummary Trainer::Train() {
  Impl& m = *impl_;
  const TrainerOptions& o = m.options;
  const bool root = m.comm.is_root();
  ShardedSampler sampler(m.train->num_samples(), m.micro_batch, o.seed, m.comm.rank(),
                         m.comm.size());
  const int64_t local_batch = sampler.local_batch();
  m.loader =
      std::make_unique<BatchLoader>(m.train, sampler, state_.data, static_cast<int>(o.prefetch),
                                    o.max_text_len, model_->spec().image_size);

  // Metrics: rank 0 appends; on resume, lines past the checkpoint's step are dropped so the file
  // reads as one uninterrupted run.
  const fs::path metrics_path =
      m.run_dir / (o.metrics_format == MetricsFormat::kCsv ? "metrics.csv" : "metrics.jsonl");
  std::ofstream metrics;
  if (root) {
    std::vector<std::string> kept;
    if (state_.step > 0 && fs::exists(metrics_path)) {
      std::ifstream in(metrics_path);
      std::string line;
      while (std::getline(in, line)) {
        int64_t step = -1;
        if (o.metrics_format == MetricsFormat::kCsv) {
          if (line.rfind("step,", 0) == 0) continue;
          step = std::atoll(line.c_str());
        } else {
          const auto at = line.find("\"step\": ");
          if (at != std::string::npos) step = std::atoll(line.c_str() + at + 8);
        }
        if (step >= 0 && step <= state_.step) kept.push_back(line);
      }
    }
    fs::create_directories(m.run_dir);
    metrics.open(metrics_path, std::ios::trunc);
    if (o.metrics_format == MetricsFormat::kCsv) {
      metrics << "step,loss,lr,grad_norm,samples_per_s,data_wait_share,allreduce_share,skipped\n";
    }
    for (const auto& line : kept) metrics << line << "\n";
    metrics.flush();
  }

  Progress::Options progress_options;
  progress_options.label = "train";
  progress_options.unit = "steps";
  progress_options.enabled = root;
  progress_options.line_interval = std::chrono::duration<double>(o.progress_interval);
  Progress progress(o.steps - state_.step, progress_options);
  const int64_t first_step = state_.step;

  TrainSummary summary;
  const auto start = Clock::now();
  double wait_total = 0.0, allreduce_total = 0.0;
  // Window statistics for the metrics lines.
  double window_loss = 0.0, window_norm = 0.0, window_wait = 0.0, window_reduce = 0.0;
  int64_t window_steps = 0;
  auto window_start = Clock::now();
  double last_loss = 0.0;
  const auto autocast_dtype = o.precision == Precision::kFp16 ? at::kHalf : at::kBFloat16;

  auto write_checkpoint = [&] {
    const fs::path dir = models::CheckpointDirectory(m.run_dir, state_.step);
    if (root) {
      models::CheckpointMetadata meta;
      meta.step = state_.step;
      meta.world_size = m.comm.size();
      meta.resolved_config = m.config_yaml;
      meta.extra = StateToYaml(state_, o.interface_yaml);
      if (!m.ema.empty()) {
        // The averaged weights, as a checkpoint of their own beside the training one.
        std::vector<torch::Tensor> saved;
        {
          torch::NoGradGuard no_grad;
          for (size_t k = 0; k < m.parameters.size(); ++k) {
            saved.push_back(m.parameters[k].detach().clone());
            m.parameters[k].copy_(m.ema[k]);
          }
        }
        models::SaveCheckpoint(EmaDirectory(dir), *model_, nullptr, meta);
        torch::NoGradGuard no_grad;
        for (size_t k = 0; k < m.parameters.size(); ++k) m.parameters[k].copy_(saved[k]);
      }
      models::SaveCheckpoint(dir, *model_, m.optimizer.get(), meta);
      for (const auto& removed : models::PruneCheckpoints(m.run_dir, o.keep_checkpoints)) {
        fs::remove_all(EmaDirectory(removed));
      }
    }
    m.comm.Barrier();
    m.last_checkpoint = dir;
    summary.last_checkpoint = dir;
  };

  model_->train();
  while (state_.step < o.steps) {
    // Preemption: any rank's signal stops every rank at the same step, after a checkpoint.
    // The hook is asked before every step, signal or not: it may count the steps it sees.
    const bool hook = o.hooks.stop_before_step && o.hooks.stop_before_step(state_.step);
    const bool stop = preemption::Requested() || hook;
    if (m.comm.AllReduce<int>(stop ? 1 : 0, mpi::ReduceOp::kMax) != 0) {
      log::Warn("preemption ({}): writing a checkpoint at step {} and stopping",
                preemption::Requested() ? preemption::SignalName() : "stop hook", state_.step);
      write_checkpoint();
      summary.preempted = true;
      break;
    }
    for (auto& group : m.optimizer->param_groups()) {
      static_cast<torch::optim::AdamWOptions&>(group.options()).lr(LearningRate(o, state_.step));
    }
    m.grads->Zero();
    // Randomness inside the step (dropout, diffusion noise) is a function of (seed, step, rank),
    // so a resumed run repeats it exactly.
    torch::manual_seed(Mix64(o.seed ^ Mix64(static_cast<uint64_t>(state_.step) * 1000003u +
                                            static_cast<uint64_t>(m.comm.rank()))));
    double local_loss = 0.0;
    for (int64_t micro = 0; micro < o.grad_accumulation; ++micro) {
      models::Batch batch = m.loader->Next(&window_wait).To(m.device);
      models::AutocastGuard autocast(m.device.type(), o.precision != Precision::kFp32,
                                     autocast_dtype);
      const models::ForwardOutput out = model_->Forward(batch);
      // Each rank's mean loss weighted by its share of the global batch: the all-reduced sum of
      // gradients is the gradient of the global mean, at any rank count.
      const double weight = static_cast<double>(local_batch) /
                            static_cast<double>(m.micro_batch * o.grad_accumulation);
      torch::Tensor loss_value = out.loss;
      if (o.hooks.corrupt_loss && o.hooks.corrupt_loss(state_.step, m.comm.rank())) {
        loss_value = loss_value * std::numeric_limits<double>::quiet_NaN();
      }
      (loss_value * (weight * m.loss_scale)).backward();
      local_loss += loss_value.item<double>() * static_cast<double>(local_batch);
    }
    const auto reduce_start = Clock::now();
    m.sync->AllReduceSum(m.grads->buckets());
    double loss_sums[1] = {local_loss};
    m.comm.AllReduceInPlace(loss_sums, 1, mpi::ReduceOp::kSum);
    window_reduce += Seconds(reduce_start);
    const double loss = loss_sums[0] / static_cast<double>(m.micro_batch * o.grad_accumulation);
    if (m.loss_scale != 1.0) m.grads->Scale(1.0 / m.loss_scale);
    const double norm = std::sqrt(m.grads->SquaredNorm());  // identical on every rank
    ++state_.step;
    state_.data = m.loader->position();
    if (!std::isfinite(norm) || !std::isfinite(loss)) {
      ++state_.nonfinite_skipped;
      ++state_.nonfinite_in_a_row;
      if (o.precision == Precision::kFp16) {
        m.loss_scale = std::max(1.0, m.loss_scale / 2);  // dynamic loss scaling backs off
        m.good_fp16_steps = 0;
      }
      log::Warn(
          "step {}: non-finite {} (loss {}, gradient norm {}); step skipped on every rank "
          "({} in a row, {} in total)",
          state_.step, std::isfinite(loss) ? "gradients" : "loss", loss, norm,
          state_.nonfinite_in_a_row, state_.nonfinite_skipped);
      if (state_.nonfinite_in_a_row >= o.max_nonfinite) {
        throw Error(fmt::format(
            "{} non-finite steps in a row (train.max_nonfinite); stopping. The last good "
            "checkpoint is {}",
            state_.nonfinite_in_a_row,
            m.last_checkpoint.empty() ? std::string("none (no checkpoint written yet)")
                                      : m.last_checkpoint.string()));
      }
      continue;
    }
    state_.nonfinite_in_a_row = 0;
    if (o.precision == Precision::kFp16 && ++m.good_fp16_steps >= 2000) {
      m.loss_scale *= 2;
      m.good_fp16_steps = 0;
    }
    if (o.grad_clip > 0 && norm > o.grad_clip) m.grads->Scale(o.grad_clip / norm);
    m.optimizer->step();
    if (!m.ema.empty()) {
      torch::NoGradGuard no_grad;
      for (size_t k = 0; k < m.ema.size(); ++k) {
        m.ema[k].mul_(o.ema_decay).add_(m.parameters[k].detach(), 1.0 - o.ema_decay);
      }
    }
    state_.samples_seen += static_cast<double>(o.batch_size);
    last_loss = loss;
    window_loss += loss;
    window_norm += norm;
    ++window_steps;

    const bool last = state_.step == o.steps;
    if (state_.step % o.log_every == 0 || last) {
      const double elapsed = Seconds(window_start);
      const double rate = static_cast<double>(window_steps * o.batch_size) / elapsed;
      const double wait_share = window_wait / elapsed, reduce_share = window_reduce / elapsed;
      if (root) {
        const double lr = LearningRate(o, state_.step - 1);
        if (o.metrics_format == MetricsFormat::kCsv) {
          metrics << fmt::format("{},{:.6g},{:.6g},{:.6g},{:.1f},{:.4f},{:.4f},{}\n", state_.step,
                                 window_loss / window_steps, lr, window_norm / window_steps, rate,
                                 wait_share, reduce_share, state_.nonfinite_skipped);
        } else {
          metrics << fmt::format(
              "{{\"step\": {}, \"loss\": {:.6g}, \"lr\": {:.6g}, \"grad_norm\": {:.6g}, "
              "\"samples_per_s\": {:.1f}, \"data_wait_share\": {:.4f}, \"allreduce_share\": "
              "{:.4f}, \"skipped\": {}}}\n",
              state_.step, window_loss / window_steps, lr, window_norm / window_steps, rate,
              wait_share, reduce_share, state_.nonfinite_skipped);
        }
        metrics.flush();
      }
      progress.Update(state_.step - first_step,
                      fmt::format("loss {:.4g}, lr {:.3g}, {:.0f} samples/s, data wait {:.1f}%",
                                  window_loss / window_steps, LearningRate(o, state_.step - 1),
                                  rate, 100 * wait_share));
      wait_total += window_wait;
      allreduce_total += window_reduce;
      window_loss = window_norm = window_wait = window_reduce = 0.0;
      window_steps = 0;
      window_start = Clock::now();
    }
    if (o.eval_every > 0 && state_.step % o.eval_every == 0 && !last) {
      const double valid = ValidationLoss();
      if (valid >= 0) log::Info("step {}: validation loss {:.5g}", state_.step, valid);
    }
    if (o.checkpoint_every > 0 && state_.step % o.checkpoint_every == 0 && !last) {
      write_checkpoint();
    }
  }
  m.loader.reset();
  const double elapsed = Seconds(start);
  if (!summary.preempted) {
    summary.final_valid_loss = ValidationLoss();
    write_checkpoint();
  }
  progress.Finish(fmt::format("loss {:.4g}", last_loss));
  summary.steps = state_.step;
  summary.final_loss = last_loss;
  summary.nonfinite_skipped = state_.nonfinite_skipped;
  const double trained = static_cast<double>(state_.step - first_step);
  summary.samples_per_second = elapsed > 0 ? trained * o.batch_size / elapsed : 0.0;
  summary.data_wait_share = elapsed > 0 ? wait_total / elapsed : 0.0;
  summary.allreduce_share = elapsed > 0 ? allreduce_total / elapsed : 0.0;
  summary.last_checkpoint = m.last_checkpoint;
  return summary;
}

}  // namespace simscale::train
