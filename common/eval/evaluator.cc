#include "common/eval/evaluator.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <fmt/format.h>
#include <unistd.h>
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

// Whether `name` is an executable file in a directory of PATH.
bool OnPath(const std::string& name) {
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  std::string dirs = path;
  size_t begin = 0;
  while (begin <= dirs.size()) {
    const size_t end = std::min(dirs.find(':', begin), dirs.size());
    const fs::path candidate = fs::path(dirs.substr(begin, end - begin)) / name;
    if (end > begin && access(candidate.c_str(), X_OK) == 0) return true;
    begin = end + 1;
  }
  return false;
}

// Records frames of the first episodes of a condition on rank 0: a PNG grid of the first
// frame_episodes episodes and an MP4 of episode 0 (ffmpeg reads raw RGB frames from a pipe).
class FrameRecorder : public rollout::EpisodeObserver {
 public:
  FrameRecorder(const EvalOptions& options, const sim::RobotEnv& env, const std::string& condition)
      : options_(options), condition_(condition) {
    sim::RenderOptions render;
    render.width = render.height = kSize;
    render.backend = options.policy_options.gl_backend;
    renderer_ = std::make_unique<sim::Renderer>(env.model(), render);
    camera_ = renderer_->CameraId(options.camera);
    rows_.resize(static_cast<size_t>(options.frame_episodes));
    if (options.video) StartVideo();
  }
  ~FrameRecorder() override {
    if (video_ != nullptr) pclose(video_);
    if (video_ != nullptr) std::signal(SIGPIPE, old_sigpipe_);
  }

  void OnReset(const sim::RobotEnv& env, rollout::EpisodeKey key) override {
    episode_ = static_cast<int64_t>(key.index);
    Capture(env, 0, false);
  }
  void AfterStep(const sim::RobotEnv& env, const sim::StepResult& result) override {
    Capture(env, result.step, result.done());
  }

  // Writes the grid and closes the video. Throws IoError when ffmpeg failed.
  void Finish() {
    WriteGrid();
    if (video_ == nullptr) return;
    const int status = pclose(video_);
    video_ = nullptr;
    std::signal(SIGPIPE, old_sigpipe_);
    if (!video_error_.empty()) throw IoError(video_error_);
    if (status != 0) {
      throw IoError(fmt::format("ffmpeg failed to write '{}' (exit status {})",
                                video_path_.string(), status));
    }
  }

 private:
  static constexpr int kSize = 128;

  void StartVideo() {
    video_path_ = options_.output_dir / fmt::format("episode0_{}.mp4", condition_);
    const std::string command = fmt::format(
        "ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgb24 -s {}x{} -r 20 -i - "
        "-pix_fmt yuv420p '{}'",
        kSize, kSize, video_path_.string());
    // A write to an ffmpeg that died must fail with EPIPE, not end the process.
    old_sigpipe_ = std::signal(SIGPIPE, SIG_IGN);
    video_ = popen(command.c_str(), "w");
    if (video_ == nullptr) {
      std::signal(SIGPIPE, old_sigpipe_);
      throw IoError(fmt::format("cannot start ffmpeg for '{}': {}", video_path_.string(),
                                std::strerror(errno)));
    }
  }

  // After reset (step 0) and after every step of the recorded episodes.
  void Capture(const sim::RobotEnv& env, int64_t step, bool done) {
    const bool want_video = video_ != nullptr && episode_ == 0 && video_error_.empty();
    bool want_grid = false;
    if (episode_ < options_.frame_episodes) {
      const int64_t stride =
          std::max<int64_t>(1, env.max_episode_steps() / options_.frames_per_episode);
      want_grid = step % stride == 0 || done;
    }
    if (!want_grid && !want_video) return;
    renderer_->Render(env.model(), env.data(), camera_, &image_);
    if (want_video &&
        std::fwrite(image_.rgb.data(), 1, image_.rgb.size(), video_) != image_.rgb.size()) {
      video_error_ = fmt::format("ffmpeg stopped while writing '{}': {}", video_path_.string(),
                                 std::strerror(errno));
    }
    if (want_grid) {
      auto& row = rows_[static_cast<size_t>(episode_)];
      if (static_cast<int64_t>(row.size()) < options_.frames_per_episode + 1)
        row.push_back(image_.rgb);
    }
  }

  // The rows recorded, up to the last episode with frames (a short rank may have fewer).
  void WriteGrid() {
    size_t used = rows_.size();
    while (used > 0 && rows_[used - 1].empty()) --used;
    std::vector<const uint8_t*> tiles;
    for (size_t r = 0; r < used; ++r) {
      const auto& row = rows_[r];
      for (int64_t i = 0; i <= options_.frames_per_episode; ++i) {
        tiles.push_back(i < static_cast<int64_t>(row.size()) ? row[static_cast<size_t>(i)].data()
                                                             : nullptr);
      }
    }
    if (tiles.empty()) return;
    int width = 0, height = 0;
    const auto grid = sim::TileImages(
        tiles, kSize, kSize, static_cast<int>(options_.frames_per_episode + 1), 2, &width, &height);
    sim::WritePng(options_.output_dir / fmt::format("frames_{}.png", condition_), grid.data(),
                  width, height);
  }

  const EvalOptions& options_;
  std::string condition_;
  std::unique_ptr<sim::Renderer> renderer_;
  int camera_ = 0;
  sim::CameraImage image_;
  std::vector<std::vector<std::vector<uint8_t>>> rows_;
  FILE* video_ = nullptr;
  fs::path video_path_;
  std::string video_error_;
  void (*old_sigpipe_)(int) = SIG_DFL;
  int64_t episode_ = 0;
};

EpisodeOutcome Outcome(int64_t episode, const rollout::EpisodeSummary& summary) {
  EpisodeOutcome outcome;
  outcome.episode = episode;
  outcome.episode_return = summary.episode_return;
  outcome.success = summary.success;
  outcome.diverged = summary.diverged;
  outcome.length = summary.length;
  return outcome;
}

// Episodes with pictures: the first frame_episodes, and episode 0 for the video.
int64_t PictureEpisodes(const EvalOptions& options) {
  return std::max<int64_t>(options.frame_episodes, options.video ? 1 : 0);
}

// The episodes of [0, episodes) that `finished` does not hold, in order.
std::vector<int64_t> Unfinished(int64_t episodes, const std::vector<EpisodeOutcome>& finished) {
  std::vector<bool> done(static_cast<size_t>(episodes), false);
  for (const auto& o : finished) {
    if (o.episode < episodes) done[static_cast<size_t>(o.episode)] = true;
  }
  std::vector<int64_t> left;
  for (int64_t e = 0; e < episodes; ++e) {
    if (!done[static_cast<size_t>(e)]) left.push_back(e);
  }
  return left;
}

// Rank 0 replays the finished picture episodes for their frames; a replay that ends otherwise than
// recorded means another build or machine made the record (reported, the record is kept).
void ReplayForPictures(sim::RobotEnv& env, envs::Policy& policy, const EvalOptions& options,
                       const std::vector<EpisodeOutcome>& finished, FrameRecorder* recorder) {
  for (const auto& recorded : finished) {
    if (recorded.episode >= PictureEpisodes(options)) continue;
    const auto summary = rollout::RunEpisode(
        env, policy, {options.seed, static_cast<uint64_t>(recorded.episode)}, {recorder});
    const EpisodeOutcome replayed = Outcome(recorded.episode, summary);
    if (replayed.success != recorded.success || replayed.length != recorded.length) {
      log::Warn(
          "evaluate: episode {} replayed for its frames ended otherwise than recorded "
          "(success {} vs {}, length {} vs {}); the recorded outcome is kept",
          recorded.episode, replayed.success, recorded.success, replayed.length, recorded.length);
    }
  }
}

// Plays this rank's share of the unfinished episodes of one condition, recording each outcome.
std::vector<EpisodeOutcome> PlayCondition(const EvalOptions& options, const std::string& condition,
                                          const std::vector<EpisodeOutcome>& finished,
                                          const mpi::Communicator& comm) {
  sim::EnvOptions env_options;
  env_options.max_episode_steps = options.max_steps;
  env_options.randomization = sim::RandomizationCondition(condition);
  std::unique_ptr<sim::RobotEnv> env;
  std::unique_ptr<envs::Policy> policy;
  mpi::RunAgreed(comm, [&] {
    env = envs::MakeEnv(options.env, env_options);
    policy = policies::MakePolicy(options.policy, options.env, options.policy_options);
  });
  const std::vector<int64_t> left = Unfinished(options.episodes, finished);
  const mpi::Range mine =
      mpi::SplitEvenly(static_cast<int64_t>(left.size()), comm.size(), comm.rank());
  std::vector<EpisodeOutcome> local;
  mpi::RunAgreed(comm, [&] {
    std::unique_ptr<EpisodeRecordWriter> record;
    if (!options.record_file.empty())
      record = std::make_unique<EpisodeRecordWriter>(options.record_file);
    std::unique_ptr<FrameRecorder> recorder;
    if (PictureEpisodes(options) > 0 && comm.is_root()) {
      recorder = std::make_unique<FrameRecorder>(options, *env, condition);
      ReplayForPictures(*env, *policy, options, finished, recorder.get());
    }
    for (int64_t i = mine.begin; i < mine.end; ++i) {
      const int64_t episode = left[static_cast<size_t>(i)];
      std::vector<rollout::EpisodeObserver*> observers;
      if (recorder && episode < PictureEpisodes(options)) observers.push_back(recorder.get());
      const auto summary = rollout::RunEpisode(
          *env, *policy, {options.seed, static_cast<uint64_t>(episode)}, observers);
      local.push_back(Outcome(episode, summary));
      if (record) record->Append(condition, local.back());
    }
    if (recorder) recorder->Finish();
  });
  return local;
}

// Success rate, interval and return statistics of `all` (in episode order).
ConditionResult Aggregate(const std::string& condition, const std::vector<EpisodeOutcome>& all) {
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
  return r;
}

}  // namespace

std::vector<ConditionResult> Evaluate(const EvalOptions& options, const mpi::Communicator& comm) {
  mpi::RunAgreed(comm, [&] {
    if (options.video && !OnPath("ffmpeg")) {
      throw InvalidArgumentError(
          "eval.video needs ffmpeg, which is not on PATH; install it (scripts/setup.sh does) or "
          "leave eval.video off");
    }
  });
  std::vector<ConditionResult> results;
  for (const auto& condition : options.conditions) {
    const auto found = options.finished.find(condition);
    const std::vector<EpisodeOutcome> finished =
        found == options.finished.end() ? std::vector<EpisodeOutcome>{} : found->second;
    if (!finished.empty()) {
      log::Info("evaluate: {}: {} of {} episodes finished before; playing the rest", condition,
                finished.size(), options.episodes);
    }
    std::vector<EpisodeOutcome> all =
        comm.AllGatherV(PlayCondition(options, condition, finished, comm));
    for (const auto& o : finished) {
      if (o.episode < options.episodes) all.push_back(o);
    }
    std::sort(all.begin(), all.end(), [](const EpisodeOutcome& a, const EpisodeOutcome& b) {
      return a.episode < b.episode;
    });
    ConditionResult r = Aggregate(condition, all);
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
