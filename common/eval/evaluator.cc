#include "common/eval/evaluator.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/envs/registry.h"
#include "common/rollout/episode.h"
#include "common/sim/image_io.h"
#include "common/sim/renderer.h"

namespace simscale::eval {
namespace fs = std::filesystem;

std::pair<double, double> WilsonInterval(int64_t successes, int64_t n) {
  if (n <= 0) return {0.0, 1.0};
  const double z = 1.959963984540054;
  const double p = static_cast<double>(successes) / static_cast<double>(n);
  const double nn = static_cast<double>(n);
  const double center = (p + z * z / (2 * nn)) / (1 + z * z / nn);
  const double half = z * std::sqrt(p * (1 - p) / nn + z * z / (4 * nn * nn)) / (1 + z * z / nn);
  return {std::max(0.0, center - half), std::min(1.0, center + half)};
}

namespace {

// Records frames of the first episodes of a condition on rank 0: a PNG grid and, with ffmpeg,
// an MP4 of the first episode.
class FrameRecorder : public rollout::EpisodeObserver {
 public:
  FrameRecorder(const EvalOptions& options, const sim::RobotEnv& env, const std::string& condition)
      : options_(options), condition_(condition) {
    sim::RenderOptions render;
    render.width = render.height = 128;
    render.backend = options.policy_options.gl_backend;
    renderer_ = std::make_unique<sim::Renderer>(env.model(), render);
    camera_ = renderer_->CameraId(options.camera);
    if (options.video) {
      const fs::path path = options.output_dir / fmt::format("episode0_{}.mp4", condition);
      const std::string command = fmt::format(
          "ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgb24 -s 128x128 -r 20 -i - "
          "-pix_fmt yuv420p '{}'",
          path.string());
      video_ = popen(command.c_str(), "w");
      if (video_ == nullptr) log::Warn("cannot start ffmpeg; no video for {}", condition);
    }
  }
  ~FrameRecorder() {
    if (video_ != nullptr) pclose(video_);
  }

  void OnReset(const sim::RobotEnv& env, rollout::EpisodeKey key) override {
    episode_ = static_cast<int64_t>(key.index);
    Capture(env, 0, false);
  }
  void AfterStep(const sim::RobotEnv& env, const sim::StepResult& result) override {
    Capture(env, result.step, result.done());
  }

  // After reset (step 0) and after every step of the recorded episodes.
  void Capture(const sim::RobotEnv& env, int64_t step, bool done) {
    const int64_t episode = episode_;
    if (episode >= options_.frame_episodes) return;
    const int64_t stride =
        std::max<int64_t>(1, env.max_episode_steps() / options_.frames_per_episode);
    const bool want_grid = step % stride == 0 || done;
    const bool want_video = video_ != nullptr && episode == 0;
    if (!want_grid && !want_video) return;
    renderer_->Render(env.model(), env.data(), camera_, &image_);
    if (want_video) std::fwrite(image_.rgb.data(), 1, image_.rgb.size(), video_);
    if (want_grid) {
      auto& row = rows_[static_cast<size_t>(episode)];
      if (static_cast<int64_t>(row.size()) < options_.frames_per_episode + 1)
        row.push_back(image_.rgb);
    }
  }

  void Write() {
    std::vector<const uint8_t*> tiles;
    for (const auto& row : rows_) {
      for (int64_t i = 0; i <= options_.frames_per_episode; ++i) {
        tiles.push_back(i < static_cast<int64_t>(row.size()) ? row[static_cast<size_t>(i)].data()
                                                             : nullptr);
      }
    }
    if (tiles.empty()) return;
    int width = 0, height = 0;
    const auto grid = sim::TileImages(
        tiles, 128, 128, static_cast<int>(options_.frames_per_episode + 1), 2, &width, &height);
    sim::WritePng(options_.output_dir / fmt::format("frames_{}.png", condition_), grid.data(),
                  width, height);
  }

  void Resize(int64_t episodes) { rows_.resize(static_cast<size_t>(episodes)); }

 private:
  const EvalOptions& options_;
  std::string condition_;
  std::unique_ptr<sim::Renderer> renderer_;
  int camera_ = 0;
  sim::CameraImage image_;
  std::vector<std::vector<std::vector<uint8_t>>> rows_;
  FILE* video_ = nullptr;
  int64_t episode_ = 0;
};

}  // namespace

std::vector<ConditionResult> Evaluate(const EvalOptions& options, const mpi::Communicator& comm) {
  std::vector<ConditionResult> results;
  const mpi::Range mine = mpi::SplitEvenly(options.episodes, comm.size(), comm.rank());
  for (const auto& condition : options.conditions) {
    sim::EnvOptions env_options;
    env_options.max_episode_steps = options.max_steps;
    env_options.randomization = sim::RandomizationCondition(condition);
    std::unique_ptr<sim::RobotEnv> env;
    std::unique_ptr<envs::Policy> policy;
    mpi::RunAgreed(comm, [&] {
      env = envs::MakeEnv(options.env, env_options);
      policy = policies::MakePolicy(options.policy, options.env, options.policy_options);
    });
    std::unique_ptr<FrameRecorder> recorder;
    if (options.frame_episodes > 0 && mine.begin == 0 && mine.size() > 0) {
      recorder = std::make_unique<FrameRecorder>(options, *env, condition);
      recorder->Resize(std::min(options.frame_episodes, mine.size()));
    }
    std::vector<rollout::EpisodeObserver*> observers;
    if (recorder) observers.push_back(recorder.get());
    std::vector<EpisodeOutcome> local;
    for (int64_t episode = mine.begin; episode < mine.end; ++episode) {
      const rollout::EpisodeSummary summary = rollout::RunEpisode(
          *env, *policy, {options.seed, static_cast<uint64_t>(episode)}, observers);
      EpisodeOutcome outcome;
      outcome.episode = episode;
      outcome.episode_return = summary.episode_return;
      outcome.success = summary.success;
      outcome.diverged = summary.diverged;
      outcome.length = summary.length;
      local.push_back(outcome);
    }
    if (recorder) recorder->Write();
    const std::vector<EpisodeOutcome> all = comm.AllGatherV(local);
    ConditionResult r;
    r.condition = condition;
    r.episodes = static_cast<int64_t>(all.size());
    double sum = 0, sum_sq = 0, length = 0;
    r.return_min = all.empty() ? 0 : all.front().episode_return;
    r.return_max = r.return_min;
    for (const auto& o : all) {
      r.successes += o.success ? 1 : 0;
      r.diverged += o.diverged ? 1 : 0;
      sum += o.episode_return;
      sum_sq += o.episode_return * o.episode_return;
      length += static_cast<double>(o.length);
      r.return_min = std::min(r.return_min, o.episode_return);
      r.return_max = std::max(r.return_max, o.episode_return);
    }
    const double n = std::max<double>(1.0, static_cast<double>(r.episodes));
    r.success_rate = static_cast<double>(r.successes) / n;
    std::tie(r.ci_low, r.ci_high) = WilsonInterval(r.successes, r.episodes);
    r.return_mean = sum / n;
    r.return_std = std::sqrt(std::max(0.0, sum_sq / n - r.return_mean * r.return_mean));
    r.length_mean = length / n;
    if (comm.is_root()) r.outcomes = all;
    log::Info("evaluate: {} / {}: success {:.1f}% ({}/{}), return {:.2f} +- {:.2f}", options.env,
              condition, 100 * r.success_rate, r.successes, r.episodes, r.return_mean,
              r.return_std);
    results.push_back(std::move(r));
  }
  return results;
}

namespace {

// Ordered: results.json is read by people too, and the metrics read best in this order.
using OrderedJson = nlohmann::ordered_json;

// A condition's metrics followed by its per-episode outcomes.
OrderedJson ConditionJson(const ConditionResult& r) {
  OrderedJson episodes = OrderedJson::array();
  for (const auto& o : r.outcomes) {
    episodes.push_back({{"episode", o.episode},
                        {"success", o.success},
                        {"return", o.episode_return},
                        {"length", o.length},
                        {"diverged", o.diverged}});
  }
  return {{"episodes", r.episodes},
          {"successes", r.successes},
          {"success_rate", r.success_rate},
          {"success_rate_ci95", {r.ci_low, r.ci_high}},
          {"return_mean", r.return_mean},
          {"return_std", r.return_std},
          {"return_min", r.return_min},
          {"return_max", r.return_max},
          {"length_mean", r.length_mean},
          {"diverged", r.diverged},
          {"episodes_detail", std::move(episodes)}};
}

}  // namespace

namespace {

std::string AblationNote(const policies::InputAblation& ablation) {
  return ablation.any() ? fmt::format(" (ablated: {})", ablation.Describe()) : "";
}

}  // namespace

std::string ResultsJson(const EvalOptions& options, const std::vector<ConditionResult>& results) {
  OrderedJson root = {{"env", options.env}, {"policy", options.policy}, {"seed", options.seed}};
  if (options.policy_options.ablation.any()) {
    root["ablation"] = options.policy_options.ablation.Describe();
  }
  if (results.size() == 1) {
    root["condition"] = results[0].condition;
    root.update(ConditionJson(results[0]));
  } else {
    OrderedJson conditions = OrderedJson::object();
    for (const auto& r : results) conditions[r.condition] = ConditionJson(r);
    root["conditions"] = std::move(conditions);
  }
  return root.dump(2) + "\n";
}

std::string ResultsCsv(const std::vector<ConditionResult>& results) {
  std::string out =
      "condition,episodes,successes,success_rate,ci95_low,ci95_high,return_mean,return_std,"
      "return_min,return_max,length_mean,diverged\n";
  for (const auto& r : results) {
    out += fmt::format("{},{},{},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.4f},{:.2f},{}\n",
                       r.condition, r.episodes, r.successes, r.success_rate, r.ci_low, r.ci_high,
                       r.return_mean, r.return_std, r.return_min, r.return_max, r.length_mean,
                       r.diverged);
  }
  return out;
}

std::string ResultsTable(const EvalOptions& options, const std::vector<ConditionResult>& results) {
  std::string out = fmt::format("{} / {}{}\n", options.env, options.policy,
                                AblationNote(options.policy_options.ablation));
  out += fmt::format("{:<14} {:>8} {:>9} {:>17} {:>18} {:>8} {:>8}\n", "condition", "episodes",
                     "success", "95% interval", "return", "length", "diverged");
  for (const auto& r : results) {
    out += fmt::format(
        "{:<14} {:>8} {:>8.1f}% {:>7.1f}% - {:>5.1f}% {:>9.2f} +- {:<6.2f} {:>8.1f} {:>8}\n",
        r.condition, r.episodes, 100 * r.success_rate, 100 * r.ci_low, 100 * r.ci_high,
        r.return_mean, r.return_std, r.length_mean, r.diverged);
  }
  return out;
}

}  // namespace simscale::eval
