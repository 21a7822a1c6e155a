#include "bin/train_ddp/train.h"

#include <filesystem>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/app/plots.h"
#include "common/core/atomic_file.h"
#include "common/core/log.h"
#include "common/core/random.h"
#include "common/models/checkpoint.h"
#include "common/policies/policy_spec.h"
#include "common/train/trainer.h"

namespace simscale::train {
namespace fs = std::filesystem;

namespace {

// What a run trains on and what it trains.
struct TrainingInputs {
  std::shared_ptr<TrajectoryDataset> train_set, valid_set;
  std::shared_ptr<models::Policy> model;
};

// A run directory that has checkpoints is continued only with --resume or replaced with
// --overwrite, never trained over by accident.
void CheckRunDirectory(const fs::path& run_dir, const app::RunOptions& run) {
  const auto ppo = models::FindLatestCompleteCheckpoint(run_dir, models::kPpoCheckpointPrefix);
  if (ppo && !run.overwrite) {
    throw InvalidArgumentError(fmt::format(
        "run directory '{}' holds a ppo_vec run ({}), not a train_ddp run; choose another --output",
        run_dir.string(), ppo->filename().string()));
  }
  const auto existing = models::FindLatestCompleteCheckpoint(run_dir);
  if (existing && !run.resume && !run.overwrite) {
    throw InvalidArgumentError(fmt::format(
        "run directory '{}' already has checkpoints ({}); pass --resume to continue it or "
        "--overwrite to start again",
        run_dir.string(), existing->filename().string()));
  }
}

// The train split and, if the file has one, the validation split.
void OpenDatasets(const TrainConfig& config, TrainingInputs* inputs) {
  const models::ModelSpec& spec = config.model_options.spec;
  DatasetOptions data;
  // A vision policy's state is proprioception only, also when the config names no keys.
  const bool proprio_default = config.model_options.vision && config.state_keys.empty();
  data.state_keys = proprio_default ? policies::ProprioceptiveStateKeys() : config.state_keys;
  data.cameras = spec.policy.cameras;
  data.history = config.history;
  data.verify_checksums = config.verify_checksums;
  data.action_horizon = spec.policy.action_horizon;
  data.language = spec.policy.uses_language;
  data.target_keys = config.model_options.target_keys;
  data.split = "train";
  inputs->train_set = std::make_shared<TrajectoryDataset>(config.dataset, data);
  data.split = "valid";
  try {
    inputs->valid_set = std::make_shared<TrajectoryDataset>(config.dataset, data);
  } catch (const InvalidArgumentError& e) {
    log::Warn("no validation set: {}", e.what());
  }
}

// The model, with the state and action sizes of the dataset where the config leaves them at 0.
std::shared_ptr<models::Policy> BuildModel(const TrainConfig& config,
                                           const TrajectoryDataset& train_set) {
  models::ModelOptions options = config.model_options;
  auto from_dataset = [](int64_t* value, int64_t dataset_value, const char* key) {
    if (*value == 0) *value = dataset_value;
    CheckArgument(*value == dataset_value, key, *value,
                  fmt::format("0 (from the dataset) or the dataset's {}", dataset_value));
  };
  from_dataset(&options.spec.state_dim, train_set.state_dim(), "model.state_dim");
  from_dataset(&options.spec.action_dim, train_set.action_dim(), "model.action_dim");
  from_dataset(&options.spec.target_dim, train_set.target_dim(), "model.target_dim");
  // The policy contract, saved with every checkpoint: how an env observation becomes this
  // model's input (read back when the checkpoint is run as a policy).
  policies::PolicySpec& policy = options.spec.policy;
  policy.env = train_set.env_name();
  policy.state_keys = train_set.state_keys();
  policy.history = config.history;
  const int64_t recorded = train_set.image_height();
  policy.render_size = recorded > 0 && recorded != policy.image_size ? recorded : 0;
  // Initial weights from the run's seed (rank 0's are broadcast anyway): the same seed gives
  // the same run.
  torch::manual_seed(Mix64(static_cast<uint64_t>(config.run.seed) ^
                           static_cast<uint64_t>(StreamPurpose::kModelInit)));
  return models::MakeModel(config.model, options);
}

// Opens the datasets and builds the model on every rank; any rank's error fails all of them.
TrainingInputs LoadInputs(const TrainConfig& config, const mpi::Communicator& comm) {
  TrainingInputs inputs;
  mpi::RunAgreed(comm, [&] {
    CheckRunDirectory(config.run.output, config.run);
    OpenDatasets(config, &inputs);
    inputs.model = BuildModel(config, *inputs.train_set);
  });
  return inputs;
}

// --overwrite starts again: rank 0 removes the old checkpoints and metrics while the others wait.
void ClearRunDirectory(const fs::path& run_dir, bool overwrite, const mpi::Communicator& comm) {
  if (overwrite && comm.is_root()) {
    fs::remove_all(run_dir / "checkpoints");
    fs::remove(run_dir / "metrics.jsonl");
    fs::remove(run_dir / "metrics.csv");
  }
  comm.Barrier();
}

// summary.json and the closing log line (rank 0).
void ReportSummary(const TrainSummary& summary, const fs::path& run_dir, int world_size) {
  const nlohmann::ordered_json summary_json = {{"steps", summary.steps},
                                               {"final_loss", summary.final_loss},
                                               {"final_valid_loss", summary.final_valid_loss},
                                               {"nonfinite_skipped", summary.nonfinite_skipped},
                                               {"samples_per_second", summary.samples_per_second},
                                               {"data_wait_share", summary.data_wait_share},
                                               {"allreduce_share", summary.allreduce_share},
                                               {"preempted", summary.preempted},
                                               {"world_size", world_size},
                                               {"checkpoint", summary.last_checkpoint.string()}};
  WriteFileAtomic(run_dir / "summary.json", summary_json.dump(2) + "\n");
  log::Info(
      "train_ddp: {} steps, loss {:.5g}, validation loss {:.5g}, {:.0f} samples/s, data "
      "wait {:.1f}%, all-reduce {:.1f}% of wall; checkpoint {}",
      summary.steps, summary.final_loss, summary.final_valid_loss, summary.samples_per_second,
      100 * summary.data_wait_share, 100 * summary.allreduce_share,
      summary.last_checkpoint.string());
}

}  // namespace

models::NormalizationStats ComputeNormalization(const TrajectoryDataset& dataset,
                                                const mpi::Communicator& comm,
                                                const std::string& action_normalization) {
  const mpi::Range mine = mpi::SplitEvenly(dataset.num_episodes(), comm.size(), comm.rank());
  Moments state = dataset.StateMoments(mine.begin, mine.end);
  Moments actions = dataset.ActionMoments(mine.begin, mine.end);
  Moments targets = dataset.TargetMoments(mine.begin, mine.end);
  auto reduce = [&](Moments* m) {
    comm.AllReduceInPlace(&m->count, 1, mpi::ReduceOp::kSum);
    comm.AllReduceInPlace(m->sum.data(), m->sum.size(), mpi::ReduceOp::kSum);
    comm.AllReduceInPlace(m->sum_squares.data(), m->sum_squares.size(), mpi::ReduceOp::kSum);
    comm.AllReduceInPlace(m->min.data(), m->min.size(), mpi::ReduceOp::kMin);
    comm.AllReduceInPlace(m->max.data(), m->max.size(), mpi::ReduceOp::kMax);
  };
  reduce(&state);
  reduce(&actions);
  reduce(&targets);
  models::NormalizationStats stats;
  const std::vector<double> mean = state.Mean(), std = state.Std();
  for (int64_t h = 0; h < dataset.options().history; ++h) {
    stats.state_mean.insert(stats.state_mean.end(), mean.begin(), mean.end());
    stats.state_std.insert(stats.state_std.end(), std.begin(), std.end());
  }
  if (action_normalization == "minmax") {
    stats.action_min = actions.min;
    stats.action_max = actions.max;
  } else {
    stats.action_mean = actions.Mean();
    stats.action_std = actions.Std();
  }
  if (dataset.target_dim() > 0) {
    stats.target_mean = targets.Mean();
    stats.target_std = targets.Std();
  }
  return stats;
}

int Run(const TrainConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  at::set_num_threads(static_cast<int>(config.threads));
  const fs::path run_dir = config.run.output;
  const TrainingInputs inputs = LoadInputs(config, comm);
  const std::shared_ptr<TrajectoryDataset>& train_set = inputs.train_set;
  const std::shared_ptr<TrajectoryDataset>& valid_set = inputs.valid_set;
  const std::shared_ptr<models::Policy>& model = inputs.model;
  ClearRunDirectory(run_dir, config.run.overwrite, comm);
  model->SetNormalization(ComputeNormalization(*train_set, comm, config.action_normalization));
  log::Info(
      "train_ddp: {} rank(s) x {} thread(s), model '{}' ({} parameters), dataset {} ({} "
      "samples), global batch {}, {} steps -> {}",
      comm.size(), config.threads, config.model, model->ParameterCount(), config.dataset,
      train_set->num_samples(), config.trainer.batch_size, config.trainer.steps, run_dir.string());

  TrainerOptions options = config.trainer;
  options.seed = static_cast<uint64_t>(config.run.seed);
  options.max_text_len = config.model_options.vla.max_text_len;
  Trainer trainer(model, train_set, valid_set, options, comm, run_dir, schema.ToYaml());
  if (config.run.resume && !trainer.Resume()) {
    log::Info("--resume: no complete checkpoint under {}; starting from step 0",
              (run_dir / "checkpoints").string());
  }
  // After the resume checks: a refused --resume leaves the run's config.yaml as it was.
  app::WriteResolvedConfig(schema, comm, run_dir / "config.yaml");
  const TrainSummary summary = trainer.Train();
  if (comm.is_root()) ReportSummary(summary, run_dir, comm.size());
  app::DrawFigures("train", {run_dir.string()}, config.run, comm);  // run_dir/curves.png
  if (summary.preempted) {
    log::Warn("train_ddp: stopped by a preemption signal after checkpointing; rerun with --resume");
    return kPreemptedExitCode;
  }
  return 0;
}

}  // namespace simscale::train
