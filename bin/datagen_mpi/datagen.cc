#include "bin/datagen_mpi/datagen.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <utility>

#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/app/plots.h"
#include "common/core/atomic_file.h"
#include "common/core/build_info.h"
#include "common/core/log.h"
#include "common/core/progress.h"
#include "common/envs/registry.h"
#include "common/io/stats.h"
#include "common/io/validate.h"
#include "common/policies/factory.h"

namespace simscale::datagen {
namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

sim::EnvOptions EnvOptionsOf(const DatagenConfig& config) {
  sim::EnvOptions options;
  options.max_episode_steps = config.max_steps;
  options.randomization = sim::RandomizationCondition(config.dr);
  return options;
}

}  // namespace

io::StoreLayout MakeLayout(const sim::RobotEnv& env, const DatagenConfig& config,
                           const std::string& resolved_config_yaml) {
  io::StoreLayout layout;
  auto lowdim = [&](std::string name, io::DType dtype, std::vector<uint64_t> shape) {
    io::ColumnSpec column = io::ColumnSpec::LowDim(std::move(name), dtype, std::move(shape));
    column.gzip_level = static_cast<int>(config.lowdim_gzip);
    return column;
  };
  layout.step_columns.push_back(
      lowdim("actions", io::DType::kFloat32, {static_cast<uint64_t>(env.action_spec().size())}));
  layout.step_columns.push_back(lowdim("rewards", io::DType::kFloat32, {}));
  layout.step_columns.push_back(lowdim("dones", io::DType::kUInt8, {}));
  layout.step_columns.push_back(
      lowdim("states", io::DType::kFloat64, {static_cast<uint64_t>(env.state_size())}));
  for (const auto& field : env.observation_spec().fields()) {
    layout.obs_columns.push_back(
        lowdim("obs/" + field.name, io::DType::kFloat32, {static_cast<uint64_t>(field.shape[0])}));
  }
  const auto size = static_cast<uint64_t>(config.image_size);
  for (const auto& camera : config.cameras) {
    layout.obs_columns.push_back(io::ColumnSpec::Image("obs/" + camera + "_image", size, size, 3,
                                                       static_cast<int>(config.image_gzip)));
    if (config.depth) {
      io::ColumnSpec depth = lowdim("obs/" + camera + "_depth", io::DType::kFloat32, {size, size});
      depth.gzip_level = static_cast<int>(config.image_gzip);
      layout.obs_columns.push_back(depth);
    }
  }
  layout.dr_value_names = env.randomization_value_names();
  layout.env_name = env.name();
  const nlohmann::ordered_json env_kwargs = {{"randomization", config.dr},
                                             {"max_episode_steps", env.max_episode_steps()},
                                             {"control_dt", 0.05},
                                             {"cameras", config.cameras},
                                             {"image_size", config.image_size},
                                             {"observation", env.observation_spec().Describe()},
                                             {"action", env.action_spec().Describe()}};
  layout.env_kwargs_json = env_kwargs.dump();
  layout.resolved_config_yaml = resolved_config_yaml;
  layout.git_sha = build_info::kGitSha;
  return layout;
}

std::unique_ptr<envs::Policy> MakePolicy(const DatagenConfig& config) {
  policies::PolicyOptions options;
  options.gl_backend = sim::ParseGlBackend(config.gl_backend);
  options.device = Device::kCpu;
  std::unique_ptr<envs::Policy> policy = policies::MakePolicy(config.policy, config.env, options);
  if (config.action_noise > 0) {
    policy = std::make_unique<envs::NoisyPolicy>(std::move(policy), config.action_noise);
  }
  return policy;
}

// ---------------------------------------------------------------------------------------------

EpisodeGenerator::EpisodeGenerator(const DatagenConfig& config)
    : seed_(config.run.seed),
      env_(envs::MakeEnv(config.env, EnvOptionsOf(config))),
      policy_(MakePolicy(config)) {
  rollout::RecorderOptions options;
  options.cameras = config.cameras;
  options.image_size = static_cast<int>(config.image_size);
  options.depth = config.depth;
  options.gl_backend = sim::ParseGlBackend(config.gl_backend);
  options.record_noisy_actions = config.record_noisy_actions;
  recorder_ = std::make_unique<rollout::EpisodeRecorder>(*env_, options);
}

EpisodeGenerator::~EpisodeGenerator() = default;

io::EpisodeRecord EpisodeGenerator::Generate(int64_t episode_index) {
  const rollout::EpisodeKey key{static_cast<uint64_t>(seed_), static_cast<uint64_t>(episode_index)};
  const rollout::EpisodeSummary summary =
      rollout::RunEpisode(*env_, *policy_, key, {recorder_.get()});
  simulation_seconds_ += summary.step_seconds;
  steps_ += summary.length;
  return recorder_->TakeRecord(*env_, episode_index, seed_, summary);
}

// ---------------------------------------------------------------------------------------------

namespace {

// --validate / --stats: rank 0 reads the file; every rank returns the same exit code.
int InspectFile(const DatagenConfig& config, const mpi::Communicator& comm) {
  int code = 0;
  if (comm.is_root()) {
    if (!config.validate.empty()) {
      const auto problems = io::ValidateDataset(config.validate);
      std::cout << io::FormatProblems(problems) << std::flush;
      code = problems.empty() ? 0 : 1;
      log::Info("{}: {} problem(s)", config.validate, problems.size());
    } else {
      const io::DatasetStats stats = io::ComputeStats(config.stats);
      std::cout << io::FormatStatsTable(stats) << std::flush;
    }
  }
  comm.Broadcast(&code, 1, 0);
  return code;
}

// --resume / --overwrite against what the output path holds (every rank checks).
void CheckOutput(const DatagenConfig& config) {
  const fs::path output = config.run.output;
  if (output.has_parent_path()) CreateDirectories(output.parent_path());
  const fs::path parent = output.has_parent_path() ? output.parent_path() : fs::path(".");
  if (::access(parent.c_str(), W_OK) != 0) {
    throw IoError(fmt::format("cannot write the output '{}' in directory '{}': {}", output.string(),
                              parent.string(), std::strerror(errno)));
  }
  const fs::path partial = io::PartialPath(output);
  if (!config.run.resume && !config.run.overwrite) {
    if (fs::exists(output)) {
      throw InvalidArgumentError(fmt::format(
          "output '{}' exists; pass --overwrite to replace it or choose another --output",
          output.string()));
    }
    if (fs::exists(partial)) {
      throw InvalidArgumentError(fmt::format(
          "'{}' is left from an interrupted run; pass --resume to continue it, or --overwrite "
          "to start again",
          partial.string()));
    }
  }
  if (config.run.resume && !fs::exists(partial)) {
    throw InvalidArgumentError(fmt::format(
        "--resume: no interrupted run to continue ('{}' does not exist{})", partial.string(),
        fs::exists(output) ? fmt::format("; '{}' is complete", output.string()) : ""));
  }
}

// Where this rank's time went (the job's totals are gathered at the end).
struct RankTimes {
  double simulation = 0, render = 0, hdf5 = 0, wait = 0;
  int64_t steps = 0, dropped = 0;
};

// Rounds of episodes_per_round x ranks episodes, split in rank order, appended collectively.
void GenerateRounds(const DatagenConfig& config, const mpi::Communicator& comm,
                    EpisodeGenerator* generator, io::EpisodeStoreWriter* writer, RankTimes* times) {
  const auto start = Clock::now();
  int64_t next_episode = writer->committed_generation();
  const int64_t resumed_from = next_episode;
  Progress::Options progress_options;
  progress_options.label = "datagen";
  progress_options.unit = "episodes";
  progress_options.enabled = comm.is_root();
  progress_options.line_interval = std::chrono::duration<double>(config.progress_interval);
  Progress progress(config.episodes - resumed_from, progress_options);
  const int64_t round_size = config.episodes_per_round * comm.size();
  while (next_episode < config.episodes) {
    const mpi::Range round{next_episode, std::min(config.episodes, next_episode + round_size)};
    const mpi::Range mine = mpi::SplitEvenly(round, comm.size(), comm.rank());
    std::vector<io::EpisodeRecord> records;
    for (int64_t episode = mine.begin; episode < mine.end; ++episode) {
      io::EpisodeRecord record = generator->Generate(episode);
      if (config.only_successful && !record.success) {
        ++times->dropped;
        continue;
      }
      records.push_back(std::move(record));
    }
    // Waiting for the slowest rank of the round is load imbalance, not HDF5: time it apart.
    const auto wait_start = Clock::now();
    comm.Barrier();
    times->wait += Seconds(wait_start);
    const auto write_start = Clock::now();
    writer->AppendRound(records, round.end);
    times->hdf5 += Seconds(write_start);
    next_episode = round.end;
    progress.Update(next_episode - resumed_from,
                    fmt::format("{} stored, {} steps, {:.0f} stored env steps/s",
                                writer->committed_episodes(), writer->committed_steps(),
                                static_cast<double>(writer->committed_steps()) /
                                    std::max(1e-9, Seconds(start))));
  }
  progress.Finish(fmt::format("{} stored", writer->committed_episodes()));
  times->simulation = generator->simulation_seconds();
  times->render = generator->recorder().render_seconds();
  times->steps = generator->steps();
}

// Job-wide accounting on rank 0 (the slowest rank bounds the wall time), with one
// machine-readable DATAGEN_SUMMARY line for sweep scripts.
void Report(const mpi::Communicator& comm, const RankTimes& mine, int64_t generated, int64_t stored,
            double wall, double finalize_seconds) {
  const std::vector<RankTimes> all = comm.AllGather(mine);
  RankTimes sum;
  double max_hdf5 = 0;
  for (const RankTimes& t : all) {
    sum.simulation += t.simulation;
    sum.render += t.render;
    sum.hdf5 += t.hdf5;
    sum.wait += t.wait;
    sum.steps += t.steps;
    sum.dropped += t.dropped;
    max_hdf5 = std::max(max_hdf5, t.hdf5);
  }
  if (!comm.is_root()) return;
  const double ranks = comm.size();
  log::Info(
      "datagen_mpi: {} episodes generated, {} stored, {} dropped (unsuccessful), {} env steps in "
      "{:.2f} s: {:.2f} episodes/s, {:.0f} env steps/s",
      generated, stored, sum.dropped, sum.steps, wall, generated / wall, sum.steps / wall);
  log::Info(
      "datagen_mpi: time per rank (mean): simulation {:.2f} s, rendering {:.2f} s, waiting for "
      "other ranks {:.2f} s, HDF5 appends {:.2f} s ({:.1f}% of wall), finalize {:.2f} s",
      sum.simulation / ranks, sum.render / ranks, sum.wait / ranks, sum.hdf5 / ranks,
      100.0 * (sum.hdf5 / ranks) / wall, finalize_seconds);
  std::printf(
      "DATAGEN_SUMMARY ranks=%d episodes=%lld stored=%lld dropped=%lld steps=%lld wall_s=%.4f "
      "simulation_s=%.4f render_s=%.4f wait_s=%.4f hdf5_s=%.4f hdf5_max_s=%.4f finalize_s=%.4f\n",
      comm.size(), static_cast<long long>(generated), static_cast<long long>(stored),
      static_cast<long long>(sum.dropped), static_cast<long long>(sum.steps), wall,
      sum.simulation / ranks, sum.render / ranks, sum.wait / ranks, sum.hdf5 / ranks, max_hdf5,
      finalize_seconds);
  std::fflush(stdout);
}

}  // namespace

int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm,
        const DatagenHooks& hooks) {
  if (!config.validate.empty() || !config.stats.empty()) {
    int code = 0;
    mpi::RunAgreed(comm, [&] { code = InspectFile(config, comm); });
    // The dataset figures beside the file: <stem>_stats.png, _states, _dr, _cameras.
    if (!config.stats.empty()) app::DrawFigures("dataset", {config.stats}, config.run, comm);
    return code;
  }
  const auto wall_start = Clock::now();
  const fs::path output = config.run.output;
  // Build everything that can fail on bad input on every rank, agree, then start collectives.
  std::unique_ptr<EpisodeGenerator> generator;
  io::StoreLayout layout;
  mpi::RunAgreed(comm, [&] {
    CheckOutput(config);
    generator = std::make_unique<EpisodeGenerator>(config);
    layout = MakeLayout(generator->env(), config, schema.ToYaml());
    io::CheckLayout(layout);
  });
  io::StoreWriterOptions writer_options;
  writer_options.overwrite = config.run.overwrite;
  writer_options.build_views = config.build_views;
  writer_options.views.valid_fraction = config.valid_fraction;
  writer_options.views.split_seed = static_cast<uint64_t>(config.run.seed);
  writer_options.fault_hook = hooks.store_fault;
  io::EpisodeStoreWriter writer =
      config.run.resume
          ? io::EpisodeStoreWriter::OpenForResume(output, comm, layout, writer_options)
          : io::EpisodeStoreWriter::Create(output, comm, layout, writer_options);
  fs::path resolved = output;
  resolved += ".config.yaml";
  app::WriteResolvedConfig(schema, comm, resolved);

  const int64_t resumed_from = writer.committed_generation();
  log::Info(
      "datagen_mpi: {} rank(s), env '{}', policy '{}', DR '{}', {} episodes ({} per rank "
      "per round), cameras [{}] via {} -> {}{}",
      comm.size(), config.env, config.policy, config.dr, config.episodes, config.episodes_per_round,
      fmt::join(config.cameras, ", "), generator->recorder().renderer_description(),
      output.string(),
      resumed_from > 0 ? fmt::format(" (resuming after episode {})", resumed_from) : "");
  RankTimes times;
  GenerateRounds(config, comm, generator.get(), &writer, &times);
  const auto finalize_start = Clock::now();
  writer.Finalize();
  Report(comm, times, config.episodes - resumed_from, writer.committed_episodes(),
         Seconds(wall_start), Seconds(finalize_start));
  return 0;
}

}  // namespace simscale::datagen
