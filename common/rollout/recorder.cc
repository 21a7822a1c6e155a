#include "common/rollout/recorder.h"

#include <algorithm>
#include <chrono>

namespace simscale::rollout {
namespace {

using Clock = std::chrono::steady_clock;

}  // namespace

EpisodeRecorder::EpisodeRecorder(const sim::RobotEnv& env, RecorderOptions options)
    : options_(std::move(options)) {
  state_.resize(static_cast<size_t>(env.state_size()));
  if (options_.cameras.empty()) return;
  sim::RenderOptions render;
  render.width = render.height = options_.image_size;
  render.depth = options_.depth;
  render.backend = options_.gl_backend;
  renderer_ = std::make_unique<sim::Renderer>(env.model(), render);
  for (const auto& camera : options_.cameras) camera_ids_.push_back(renderer_->CameraId(camera));
  images_.resize(options_.cameras.size());
  depths_.resize(options_.cameras.size());
}

EpisodeRecorder::~EpisodeRecorder() = default;

std::string EpisodeRecorder::renderer_description() const {
  return renderer_ ? renderer_->description() : "none";
}

void EpisodeRecorder::RecordObservation(const sim::RobotEnv& env) {
  const int n = env.observation_spec().size();
  const double* obs = env.observation();
  for (int i = 0; i < n; ++i) observations_.push_back(static_cast<float>(obs[i]));
  if (!renderer_) return;
  const auto start = Clock::now();
  for (size_t c = 0; c < camera_ids_.size(); ++c) {
    renderer_->Render(env.model(), env.data(), camera_ids_[c], &frame_);
    images_[c].insert(images_[c].end(), frame_.rgb.begin(), frame_.rgb.end());
    if (options_.depth)
      depths_[c].insert(depths_[c].end(), frame_.depth.begin(), frame_.depth.end());
  }
  render_seconds_ += std::chrono::duration<double>(Clock::now() - start).count();
}

void EpisodeRecorder::OnReset(const sim::RobotEnv& env, EpisodeKey) {
  actions_.clear();
  rewards_.clear();
  dones_.clear();
  states_.clear();
  observations_.clear();
  for (auto& image : images_) image.clear();
  for (auto& depth : depths_) depth.clear();
  RecordObservation(env);
}

void EpisodeRecorder::BeforeStep(const sim::RobotEnv& env, const envs::Policy& policy,
                                 const double* action) {
  env.CopyPhysicsState(state_.data());
  states_.insert(states_.end(), state_.begin(), state_.end());
  const auto* noisy = dynamic_cast<const envs::NoisyPolicy*>(&policy);
  const double* label =
      noisy != nullptr && !options_.record_noisy_actions ? noisy->clean_action().data() : action;
  for (int i = 0; i < env.action_spec().size(); ++i) {
    actions_.push_back(static_cast<float>(std::clamp(label[i], -1.0, 1.0)));
  }
}

void EpisodeRecorder::AfterStep(const sim::RobotEnv& env, const sim::StepResult& result) {
  rewards_.push_back(static_cast<float>(result.reward));
  dones_.push_back(result.done() ? 1 : 0);
  RecordObservation(env);
}

io::EpisodeRecord EpisodeRecorder::TakeRecord(const sim::RobotEnv& env, int64_t episode_index,
                                              int64_t seed, const EpisodeSummary& summary) {
  io::EpisodeRecord record;
  record.episode_index = episode_index;
  record.seed = seed;
  record.length = summary.length;
  record.success = summary.success;
  record.diverged = summary.diverged;
  record.episode_return = summary.episode_return;
  record.language = env.instruction();
  for (const auto& value : env.applied_randomization()) record.dr_values.push_back(value.value);
  record.step_data = {io::ToBytes(actions_), io::ToBytes(rewards_), io::ToBytes(dones_),
                      io::ToBytes(states_)};
  // Observation columns: one per slice (split out of the interleaved rows), then cameras.
  const auto& spec = env.observation_spec();
  const size_t rows = static_cast<size_t>(record.length + 1);
  const auto stride = static_cast<size_t>(spec.size());
  for (size_t f = 0; f < spec.fields().size(); ++f) {
    const auto offset = static_cast<size_t>(spec.offsets()[f]);
    const auto width = static_cast<size_t>(spec.fields()[f].shape[0]);
    std::vector<float> column(rows * width);
    for (size_t r = 0; r < rows; ++r) {
      std::copy_n(observations_.begin() + static_cast<std::ptrdiff_t>(r * stride + offset), width,
                  column.begin() + static_cast<std::ptrdiff_t>(r * width));
    }
    record.obs_data.push_back(io::ToBytes(column));
  }
  for (size_t c = 0; c < camera_ids_.size(); ++c) {
    record.obs_data.push_back(std::move(images_[c]));
    images_[c].clear();
    if (options_.depth) record.obs_data.push_back(io::ToBytes(depths_[c]));
  }
  return record;
}

}  // namespace simscale::rollout
