#include "bin/datagen_mpi/datagen.h"

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/core/atomic_file.h"
#include "common/core/build_info.h"
#include "common/core/log.h"
#include "common/core/progress.h"
#include "common/envs/registry.h"
#include "common/eval/policies.h"
#include "common/io/stats.h"
#include "common/io/validate.h"

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
  eval::PolicyOptions options;
  options.gl_backend = config.gl_backend;
  options.device = "cpu";
  std::unique_ptr<envs::Policy> policy = eval::MakePolicy(config.policy, config.env, options);
  if (config.action_noise > 0) {
    policy = std::make_unique<envs::NoisyPolicy>(std::move(policy), config.action_noise);
  }
  return policy;
}

// ---------------------------------------------------------------------------------------------

EpisodeGenerator::EpisodeGenerator(const DatagenConfig& config)
    : config_(config),
      env_(envs::MakeEnv(config.env, EnvOptionsOf(config))),
      policy_(MakePolicy(config)) {
  if (!config.cameras.empty()) {
    sim::RenderOptions options;
    options.width = options.height = static_cast<int>(config.image_size);
    options.depth = config.depth;
    options.backend = sim::ParseGlBackend(config.gl_backend);
    renderer_ = std::make_unique<sim::Renderer>(env_->model(), options);
    for (const auto& camera : config.cameras) camera_ids_.push_back(renderer_->CameraId(camera));
    images_.resize(config.cameras.size());
    depths_.resize(config.cameras.size());
  }
}

std::string EpisodeGenerator::renderer_description() const {
  return renderer_ ? renderer_->description() : "none";
}

void EpisodeGenerator::RecordObservation() {
  const int n = env_->observation_spec().size();
  const double* obs = env_->observation();
  for (int i = 0; i < n; ++i) observations_.push_back(static_cast<float>(obs[i]));
  if (!renderer_) return;
  const auto start = Clock::now();
  for (size_t c = 0; c < camera_ids_.size(); ++c) {
    renderer_->Render(env_->model(), env_->data(), camera_ids_[c], &frame_);
    images_[c].insert(images_[c].end(), frame_.rgb.begin(), frame_.rgb.end());
    if (config_.depth)
      depths_[c].insert(depths_[c].end(), frame_.depth.begin(), frame_.depth.end());
  }
  render_seconds_ += Seconds(start);
}

io::EpisodeRecord EpisodeGenerator::Generate(int64_t episode_index) {
  const uint64_t seed = static_cast<uint64_t>(config_.run.seed);
  const uint64_t episode = static_cast<uint64_t>(episode_index);
  actions_.clear();
  rewards_.clear();
  dones_.clear();
  states_.clear();
  observations_.clear();
  for (auto& image : images_) image.clear();
  for (auto& depth : depths_) depth.clear();

  auto start = Clock::now();
  env_->Reset(seed, episode);
  policy_->Reset(*env_, seed, episode);
  simulation_seconds_ += Seconds(start);
  RecordObservation();
  const int action_size = env_->action_spec().size();
  std::vector<double> action(static_cast<size_t>(action_size));
  std::vector<double> state(static_cast<size_t>(env_->state_size()));
  double episode_return = 0.0;
  const sim::StepResult* result = nullptr;
  do {
    start = Clock::now();
    env_->CopyPhysicsState(state.data());
    states_.insert(states_.end(), state.begin(), state.end());
    policy_->Act(*env_, action.data());
    result = &env_->Step(action.data());
    simulation_seconds_ += Seconds(start);
    // With action noise the executed action is perturbed but the label is the policy's own
    // (the expert's correction from the perturbed state), unless told to record what ran.
    const auto* noisy = dynamic_cast<const envs::NoisyPolicy*>(policy_.get());
    const std::vector<double>& label =
        noisy != nullptr && !config_.record_noisy_actions ? noisy->clean_action() : action;
    for (double a : label) actions_.push_back(static_cast<float>(std::clamp(a, -1.0, 1.0)));
    rewards_.push_back(static_cast<float>(result->reward));
    dones_.push_back(result->done() ? 1 : 0);
    episode_return += result->reward;
    RecordObservation();
  } while (!result->done());
  steps_ += result->step;

  io::EpisodeRecord record;
  record.episode_index = episode_index;
  record.seed = config_.run.seed;
  record.length = result->step;
  record.success = result->success;
  record.diverged = result->diverged;
  record.episode_return = episode_return;
  record.language = env_->instruction();
  for (const auto& value : env_->applied_randomization()) record.dr_values.push_back(value.value);
  record.step_data = {io::ToBytes(actions_), io::ToBytes(rewards_), io::ToBytes(dones_),
                      io::ToBytes(states_)};
  // Observation columns: one per slice (split out of the interleaved rows), then cameras.
  const auto& spec = env_->observation_spec();
  const size_t rows = static_cast<size_t>(record.length + 1);
  for (size_t f = 0; f < spec.fields().size(); ++f) {
    const int offset = spec.offsets()[f];
    const int width = static_cast<int>(spec.fields()[f].shape[0]);
    std::vector<float> column(rows * static_cast<size_t>(width));
    for (size_t r = 0; r < rows; ++r) {
      for (int k = 0; k < width; ++k) {
        column[r * static_cast<size_t>(width) + static_cast<size_t>(k)] =
            observations_[r * static_cast<size_t>(spec.size()) + static_cast<size_t>(offset + k)];
      }
    }
    record.obs_data.push_back(io::ToBytes(column));
  }
  for (size_t c = 0; c < camera_ids_.size(); ++c) {
    record.obs_data.push_back(images_[c]);
    if (config_.depth) record.obs_data.push_back(io::ToBytes(depths_[c]));
  }
  return record;
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

// Test hook for crash/resume tests: SIMSCALE_DATAGEN_KILL="<stage>:<round>:<rank>" makes that
// rank SIGKILL itself at that point of the writer's round (stages: after_extend,
// after_data_write, after_data_flush, after_commit).
std::function<void(std::string_view, int64_t)> FaultHookFromEnvironment(int rank) {
  const char* spec = std::getenv("SIMSCALE_DATAGEN_KILL");
  if (spec == nullptr || *spec == '\0') return {};
  const std::string text = spec;
  const auto first = text.find(':');
  const auto second = text.find(':', first + 1);
  if (first == std::string::npos || second == std::string::npos) {
    throw InvalidArgumentError(
        fmt::format("SIMSCALE_DATAGEN_KILL: expected <stage>:<round>:<rank>, got '{}'", text));
  }
  const std::string stage = text.substr(0, first);
  const int64_t round = std::stoll(text.substr(first + 1, second - first - 1));
  const int kill_rank = std::stoi(text.substr(second + 1));
  return [stage, round, kill_rank, rank](std::string_view at, int64_t at_round) {
    if (rank == kill_rank && at == stage && at_round == round) std::raise(SIGKILL);
  };
}

}  // namespace

int Run(const DatagenConfig& config, const config::Schema& schema, const mpi::Communicator& comm) {
  if (!config.validate.empty() || !config.stats.empty()) {
    int code = 0;
    mpi::RunAgreed(comm, [&] { code = InspectFile(config, comm); });
    return code;
  }
  const auto wall_start = Clock::now();
  const fs::path output = config.run.output;
  std::unique_ptr<EpisodeGenerator> generator;
  io::StoreLayout layout;
  std::optional<io::EpisodeStoreWriter> writer;
  io::StoreWriterOptions writer_options;
  writer_options.overwrite = config.run.overwrite;
  writer_options.build_views = config.build_views;
  writer_options.views.valid_fraction = config.valid_fraction;
  writer_options.views.split_seed = static_cast<uint64_t>(config.run.seed);
  writer_options.fault_hook = FaultHookFromEnvironment(comm.rank());
  // Build everything that can fail on bad input on every rank, agree, then start collectives.
  mpi::RunAgreed(comm, [&] {
    if (output.has_parent_path()) fs::create_directories(output.parent_path());
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
    generator = std::make_unique<EpisodeGenerator>(config);
    layout = MakeLayout(generator->env(), config, schema.ToYaml());
    io::CheckLayout(layout);
  });
  if (config.run.resume) {
    writer.emplace(io::EpisodeStoreWriter::OpenForResume(output, comm, layout, writer_options));
  } else {
    writer.emplace(io::EpisodeStoreWriter::Create(output, comm, layout, writer_options));
  }
  fs::path resolved = output;
  resolved += ".config.yaml";
  app::WriteResolvedConfig(schema, comm, resolved);

  int64_t next_episode = writer->committed_generation();
  const int64_t resumed_from = next_episode;
  log::Info(
      "datagen_mpi: {} rank(s), env '{}', policy '{}', DR '{}', {} episodes ({} per rank "
      "per round), cameras [{}] via {} -> {}{}",
      comm.size(), config.env, config.policy, config.dr, config.episodes, config.episodes_per_round,
      fmt::join(config.cameras, ", "), generator->renderer_description(), output.string(),
      resumed_from > 0 ? fmt::format(" (resuming after episode {})", resumed_from) : "");

  Progress::Options progress_options;
  progress_options.label = "datagen";
  progress_options.unit = "episodes";
  progress_options.enabled = comm.is_root();
  progress_options.line_interval = std::chrono::duration<double>(config.progress_interval);
  Progress progress(config.episodes - resumed_from, progress_options);
  double hdf5_seconds = 0.0;
  double wait_seconds = 0.0;
  const int64_t round_size = config.episodes_per_round * comm.size();
  int64_t dropped = 0;
  while (next_episode < config.episodes) {
    const mpi::Range round{next_episode, std::min(config.episodes, next_episode + round_size)};
    const mpi::Range mine = mpi::SplitEvenly(round, comm.size(), comm.rank());
    std::vector<io::EpisodeRecord> records;
    for (int64_t episode = mine.begin; episode < mine.end; ++episode) {
      io::EpisodeRecord record = generator->Generate(episode);
      if (config.only_successful && !record.success) {
        ++dropped;
        continue;
      }
      records.push_back(std::move(record));
    }
    // Waiting for the slowest rank of the round is load imbalance, not HDF5: time it apart.
    const auto wait_start = Clock::now();
    comm.Barrier();
    wait_seconds += Seconds(wait_start);
    const auto write_start = Clock::now();
    writer->AppendRound(records, round.end);
    hdf5_seconds += Seconds(write_start);
    next_episode = round.end;
    progress.Update(next_episode - resumed_from,
                    fmt::format("{} stored, {} steps, {:.0f} stored env steps/s",
                                writer->committed_episodes(), writer->committed_steps(),
                                static_cast<double>(writer->committed_steps()) /
                                    std::max(1e-9, Seconds(wall_start))));
  }
  const auto finalize_start = Clock::now();
  writer->Finalize();
  const double finalize_seconds = Seconds(finalize_start);
  progress.Finish(fmt::format("{} stored", writer->committed_episodes()));

  // Job-wide accounting: the slowest rank bounds the wall time.
  struct Totals {
    double simulation, render, hdf5, wait;
    int64_t steps, dropped;
  };
  const Totals mine{generator->simulation_seconds(),
                    generator->render_seconds(),
                    hdf5_seconds,
                    wait_seconds,
                    generator->steps(),
                    dropped};
  const auto all = comm.AllGather(mine);
  Totals sum{0, 0, 0, 0, 0, 0};
  double max_hdf5 = 0;
  for (const Totals& t : all) {
    sum.simulation += t.simulation;
    sum.render += t.render;
    sum.hdf5 += t.hdf5;
    sum.wait += t.wait;
    sum.steps += t.steps;
    sum.dropped += t.dropped;
    max_hdf5 = std::max(max_hdf5, t.hdf5);
  }
  const double wall = Seconds(wall_start);
  if (comm.is_root()) {
    const int64_t generated = config.episodes - resumed_from;
    log::Info(
        "datagen_mpi: {} episodes generated, {} stored, {} dropped (unsuccessful), {} env "
        "steps in {:.2f} s: {:.2f} episodes/s, {:.0f} env steps/s",
        generated, writer->committed_episodes(), sum.dropped, sum.steps, wall, generated / wall,
        sum.steps / wall);
    log::Info(
        "datagen_mpi: time per rank (mean): simulation {:.2f} s, rendering {:.2f} s, waiting for "
        "other ranks {:.2f} s, HDF5 appends {:.2f} s ({:.1f}% of wall), finalize {:.2f} s",
        sum.simulation / comm.size(), sum.render / comm.size(), sum.wait / comm.size(),
        sum.hdf5 / comm.size(), 100.0 * (sum.hdf5 / comm.size()) / wall, finalize_seconds);
    // One machine-readable line for sweep scripts.
    std::printf(
        "DATAGEN_SUMMARY ranks=%d episodes=%lld stored=%lld dropped=%lld steps=%lld wall_s=%.4f "
        "simulation_s=%.4f render_s=%.4f wait_s=%.4f hdf5_s=%.4f hdf5_max_s=%.4f finalize_s=%.4f\n",
        comm.size(), static_cast<long long>(generated),
        static_cast<long long>(writer->committed_episodes()), static_cast<long long>(sum.dropped),
        static_cast<long long>(sum.steps), wall, sum.simulation / comm.size(),
        sum.render / comm.size(), sum.wait / comm.size(), sum.hdf5 / comm.size(), max_hdf5,
        finalize_seconds);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace simscale::datagen
