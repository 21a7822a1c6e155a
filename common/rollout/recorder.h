#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/io/episode_store.h"
#include "common/rollout/episode.h"
#include "common/sim/renderer.h"

namespace simscale::rollout {

struct RecorderOptions {
  std::vector<std::string> cameras;  // rendered after reset and after every step (empty: none)
  int image_size = 128;
  bool depth = false;
  sim::GlBackend gl_backend = sim::GlBackend::kAuto;
  // With action noise (envs::NoisyPolicy) the executed action is perturbed; the label is the
  // policy's own action (the expert's correction from the perturbed state, DART-style) unless
  // this is set.
  bool record_noisy_actions = false;
};

// Records an episode into the store's columns (io::EpisodeRecord): actions (clipped to [-1, 1]),
// rewards, dones, physics states before each step; every observation slice and camera image
// (and depth) after reset and after every step, so T steps give T + 1 observation rows.
class EpisodeRecorder : public EpisodeObserver {
 public:
  EpisodeRecorder(const sim::RobotEnv& env, RecorderOptions options);
  ~EpisodeRecorder() override;

  void OnReset(const sim::RobotEnv& env, EpisodeKey key) override;
  void BeforeStep(const sim::RobotEnv& env, const envs::Policy& policy,
                  const double* action) override;
  void AfterStep(const sim::RobotEnv& env, const sim::StepResult& result) override;

  // The recorded episode as a store record (episode_index, seed and outcome filled from the
  // arguments and the env). Call after RunEpisode.
  io::EpisodeRecord TakeRecord(const sim::RobotEnv& env, int64_t episode_index, int64_t seed,
                               const EpisodeSummary& summary);

  double render_seconds() const { return render_seconds_; }
  std::string renderer_description() const;

 private:
  void RecordObservation(const sim::RobotEnv& env);

  RecorderOptions options_;
  std::unique_ptr<sim::Renderer> renderer_;
  std::vector<int> camera_ids_;
  std::vector<float> actions_, rewards_, observations_;
  std::vector<uint8_t> dones_;
  std::vector<double> states_, state_;
  std::vector<std::vector<uint8_t>> images_;
  std::vector<std::vector<float>> depths_;
  sim::CameraImage frame_;
  double render_seconds_ = 0.0;
};

}  // namespace simscale::rollout
