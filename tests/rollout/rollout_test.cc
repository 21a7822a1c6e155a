// The episode loop and the vector env: observers see every step, auto-reset keeps the final
// observation, termination and truncation are told apart, and an env's data do not depend on the
// rank split or the thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "common/core/error.h"
#include "common/envs/registry.h"
#include "common/rollout/episode.h"
#include "common/rollout/recorder.h"
#include "common/rollout/vector_env.h"

namespace simscale::rollout {
namespace {

class CountingObserver : public EpisodeObserver {
 public:
  void OnReset(const sim::RobotEnv&, EpisodeKey) override { ++resets; }
  void BeforeStep(const sim::RobotEnv&, const envs::Policy&, const double*) override { ++before; }
  void AfterStep(const sim::RobotEnv&, const sim::StepResult& result) override {
    ++after;
    rewards += result.reward;
  }
  void OnEnd(const sim::RobotEnv&, const EpisodeSummary& summary) override {
    length = summary.length;
  }
  int resets = 0, before = 0, after = 0;
  int64_t length = 0;
  double rewards = 0.0;
};

TEST(RunEpisode, ObserversSeeEveryStepAndTheSummaryMatches) {
  sim::EnvOptions options;
  options.max_episode_steps = 30;
  auto env = envs::MakeEnv("pick_place", options);
  auto policy = envs::MakeScriptedExpert("pick_place");
  CountingObserver observer;
  RecorderOptions recorder_options;
  EpisodeRecorder recorder(*env, recorder_options);
  const EpisodeSummary summary = RunEpisode(*env, *policy, {3, 5}, {&observer, &recorder});
  EXPECT_EQ(summary.length, 30);
  EXPECT_EQ(observer.resets, 1);
  EXPECT_EQ(observer.before, 30);
  EXPECT_EQ(observer.after, 30);
  EXPECT_EQ(observer.length, 30);
  EXPECT_DOUBLE_EQ(observer.rewards, summary.episode_return);
  const io::EpisodeRecord record = recorder.TakeRecord(*env, 5, 3, summary);
  EXPECT_EQ(record.length, 30);
  // T actions of A floats; T + 1 rows of every observation slice.
  EXPECT_EQ(record.step_data[0].size(), 30u * env->action_spec().size() * sizeof(float));
  const int first_slice = static_cast<int>(env->observation_spec().fields()[0].shape[0]);
  EXPECT_EQ(record.obs_data[0].size(), 31u * static_cast<size_t>(first_slice) * sizeof(float));
  // The same key plays the same episode.
  EXPECT_EQ(RunEpisode(*env, *policy, {3, 5}).episode_return, summary.episode_return);
}

VectorEnvOptions ReachOptions(int64_t num_envs, int64_t first, int threads) {
  VectorEnvOptions o;
  o.env = "reach";
  o.env_options.max_episode_steps = 7;
  o.num_envs = num_envs;
  o.first_env_index = first;
  o.seed = 11;
  o.threads = threads;
  return o;
}

// Zero actions: the arm holds still, nothing terminates, every episode is truncated at 7 steps.
TEST(VectorEnv, AutoResetKeepsTheFinalObservationAndFlagsTruncation) {
  VectorEnv envs(ReachOptions(3, 0, 2));
  envs.Reset();
  const int obs = envs.observation_size();
  std::vector<double> actions(static_cast<size_t>(3 * envs.action_size()), 0.0);
  std::vector<double> before_last;
  for (int step = 1; step <= 7; ++step) {
    if (step == 7) before_last = envs.observations();
    envs.Step(actions.data());
    for (int k = 0; k < 3; ++k) {
      EXPECT_FALSE(envs.terminated()[static_cast<size_t>(k)]);
      EXPECT_EQ(envs.truncated()[static_cast<size_t>(k)] != 0, step == 7) << step;
    }
  }
  ASSERT_EQ(envs.ended().size(), 3u);
  for (int k = 0; k < 3; ++k) {
    EXPECT_EQ(envs.ended()[static_cast<size_t>(k)].length, 7);
    EXPECT_FALSE(envs.ended()[static_cast<size_t>(k)].terminated);
    // The final observation is the ended episode's (the arm held still: as before the step),
    // the current one is the next episode's first, which has a new target.
    const auto row = static_cast<std::ptrdiff_t>(k * obs);
    const std::vector<double> final_obs(envs.final_observations().begin() + row,
                                        envs.final_observations().begin() + row + obs);
    const std::vector<double> current(envs.observations().begin() + row,
                                      envs.observations().begin() + row + obs);
    const std::vector<double> previous(before_last.begin() + row, before_last.begin() + row + obs);
    const int target = envs.env(k).observation_spec().Offset("target_pos");
    for (int i = 0; i < 3; ++i) {
      EXPECT_DOUBLE_EQ(final_obs[static_cast<size_t>(target + i)],
                       previous[static_cast<size_t>(target + i)]);
    }
    EXPECT_NE(current[static_cast<size_t>(target)], final_obs[static_cast<size_t>(target)]);
  }
}

// Env k's data are the same whether it is env k of one rank's 4 envs or env 1 of the second of
// two ranks with 2 envs each, and with 1 or 3 threads.
TEST(VectorEnv, AnEnvsDataDoNotDependOnTheSplitOrTheThreadCount) {
  auto run = [](VectorEnvOptions options, int64_t local_env) {
    VectorEnv envs(options);
    envs.Reset();
    std::vector<double> trace;
    std::vector<double> actions(static_cast<size_t>(options.num_envs * envs.action_size()));
    for (int step = 0; step < 20; ++step) {
      for (size_t i = 0; i < actions.size(); ++i) actions[i] = 0.3 * std::sin(0.7 * step + i);
      // Env `local_env` always gets the same actions: they depend on its global index only.
      const int a = envs.action_size();
      for (int i = 0; i < a; ++i) {
        actions[static_cast<size_t>(local_env * a + i)] = 0.3 * std::sin(0.7 * step + i);
      }
      envs.Step(actions.data());
      const auto row = static_cast<std::ptrdiff_t>(local_env * envs.observation_size());
      trace.insert(trace.end(), envs.observations().begin() + row,
                   envs.observations().begin() + row + envs.observation_size());
      trace.push_back(envs.rewards()[static_cast<size_t>(local_env)]);
    }
    return trace;
  };
  const auto one_rank = run(ReachOptions(4, 0, 1), 3);
  EXPECT_EQ(run(ReachOptions(2, 2, 1), 1), one_rank);
  EXPECT_EQ(run(ReachOptions(4, 0, 3), 3), one_rank);
  EXPECT_NE(run(ReachOptions(4, 0, 1), 2), one_rank);
}

// Deterministic, env- and step-dependent actions, so a restored env must be given what the
// original was given.
void WavyActions(const VectorEnv& envs, int step, std::vector<double>* actions) {
  const int a = envs.action_size();
  actions->resize(static_cast<size_t>(envs.size() * a));
  for (int64_t k = 0; k < envs.size(); ++k) {
    const auto global = static_cast<double>(envs.Progress()[static_cast<size_t>(k)].env);
    for (int i = 0; i < a; ++i) {
      (*actions)[static_cast<size_t>(k * a + i)] = 0.8 * std::sin(0.37 * step + 1.3 * i + global);
    }
  }
}

// What envs 2 and 3 of 4 (pick_place: contacts, a gripper) produce from step `from` to `to`.
std::vector<double> Trace(VectorEnv* envs, int from, int to, int64_t first_local) {
  std::vector<double> trace, actions;
  for (int step = from; step < to; ++step) {
    WavyActions(*envs, step, &actions);
    envs->Step(actions.data());
    for (int64_t k = first_local; k < first_local + 2; ++k) {
      const auto row = static_cast<std::ptrdiff_t>(k * envs->observation_size());
      trace.insert(trace.end(), envs->observations().begin() + row,
                   envs->observations().begin() + row + envs->observation_size());
      trace.push_back(envs->rewards()[static_cast<size_t>(k)]);
      trace.push_back(envs->terminated()[static_cast<size_t>(k)]);
      trace.push_back(envs->truncated()[static_cast<size_t>(k)]);
    }
  }
  return trace;
}

VectorEnvOptions PickPlaceOptions(int64_t num_envs, int64_t first) {
  VectorEnvOptions o;
  o.env = "pick_place";
  o.env_options.max_episode_steps = 9;
  o.num_envs = num_envs;
  o.first_env_index = first;
  o.seed = 5;
  o.threads = 2;
  return o;
}

// Progress taken mid-episode (after 13 steps of 9-step episodes) and restored into a fresh vector
// env holding envs 2 and 3 only (another rank split): the next 20 steps, across episode ends, are
// the same bit for bit as those of the envs that were never stopped.
TEST(VectorEnv, RestoredProgressContinuesBitForBit) {
  VectorEnv original(PickPlaceOptions(4, 0));
  original.Reset();
  Trace(&original, 0, 13, 2);
  const std::vector<EnvProgress> progress = original.Progress();
  ASSERT_EQ(progress[2].actions.size(), 4u * static_cast<size_t>(original.action_size()));
  EXPECT_EQ(progress[2].episodes_started, 2);
  const std::vector<double> expected = Trace(&original, 13, 33, 2);

  VectorEnv restored(PickPlaceOptions(2, 2));
  restored.Restore({progress[2], progress[3]});
  EXPECT_EQ(Trace(&restored, 13, 33, 0), expected);

  // The wrong env for the slot, and a replay that does not come out as saved, are errors.
  VectorEnv other(PickPlaceOptions(2, 2));
  EXPECT_THROW(other.Restore({progress[1], progress[2]}), InvalidArgumentError);
  std::vector<EnvProgress> tampered = {progress[2], progress[3]};
  tampered[1].actions[0] += 1e-3;
  EXPECT_THROW(other.Restore(tampered), Error);
}

TEST(VectorEnvEpisode, KeysDifferPerEnvAndCounter) {
  EXPECT_NE(VectorEnvEpisode(1, 0, 0).seed, VectorEnvEpisode(1, 1, 0).seed);
  EXPECT_EQ(VectorEnvEpisode(1, 2, 5).seed, VectorEnvEpisode(1, 2, 6).seed);
  EXPECT_EQ(VectorEnvEpisode(1, 2, 5).index, 5u);
  EXPECT_NE(VectorEnvEpisode(1, 2, 5).seed, VectorEnvEpisode(2, 2, 5).seed);
}

}  // namespace
}  // namespace simscale::rollout
