#include "common/rollout/episode.h"

#include <chrono>

#include "common/core/random.h"

namespace simscale::rollout {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

}  // namespace

EpisodeKey VectorEnvEpisode(uint64_t run_seed, int64_t global_env_index, int64_t counter) {
  // A distinct 64-bit seed per env: mixing keeps envs k and k+1 from sharing streams with the
  // episode lists of runs seeded run_seed + 1.
  EpisodeKey key;
  key.seed = Mix64(run_seed ^ Mix64(0x7665637465ull + static_cast<uint64_t>(global_env_index)));
  key.index = static_cast<uint64_t>(counter);
  return key;
}

EpisodeSummary RunEpisode(sim::RobotEnv& env, envs::Policy& policy, EpisodeKey key,
                          const std::vector<EpisodeObserver*>& observers) {
  EpisodeSummary summary;
  auto start = Clock::now();
  env.Reset(key.seed, key.index);
  policy.Reset(env, key.seed, key.index);
  summary.step_seconds += Seconds(start);
  for (EpisodeObserver* observer : observers) observer->OnReset(env, key);
  std::vector<double> action(static_cast<size_t>(env.action_spec().size()));
  const sim::StepResult* result = nullptr;
  do {
    start = Clock::now();
    policy.Act(env, action.data());
    summary.step_seconds += Seconds(start);
    for (EpisodeObserver* observer : observers) observer->BeforeStep(env, policy, action.data());
    start = Clock::now();
    result = &env.Step(action.data());
    summary.step_seconds += Seconds(start);
    summary.episode_return += result->reward;
    for (EpisodeObserver* observer : observers) observer->AfterStep(env, *result);
  } while (!result->done());
  summary.length = result->step;
  summary.success = result->success;
  summary.diverged = result->diverged;
  for (EpisodeObserver* observer : observers) observer->OnEnd(env, summary);
  return summary;
}

}  // namespace simscale::rollout
