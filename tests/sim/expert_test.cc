// The scripted experts really work: success rates over seeded episodes (the full 500-episode
// measurement is benchmarks/expert_success; this is the CI-sized check).
#include <gtest/gtest.h>

#include <algorithm>

#include "common/core/error.h"
#include "common/envs/registry.h"
#include "tests/support/mujoco_test.h"

namespace simscale::envs {
namespace {
using testing_support::MujocoTest;

struct Rate {
  int successes = 0;
  int episodes = 0;
};

Rate RunExpert(const std::string& env_name, const std::string& condition, int episodes,
               uint64_t seed) {
  sim::EnvOptions options;
  options.randomization = sim::RandomizationCondition(condition);
  auto env = MakeEnv(env_name, options);
  auto expert = MakeScriptedExpert(env_name);
  Rate rate;
  double action[4];
  for (int episode = 0; episode < episodes; ++episode) {
    env->Reset(seed, static_cast<uint64_t>(episode));
    expert->Reset(*env, seed, static_cast<uint64_t>(episode));
    const sim::StepResult* result = nullptr;
    do {
      expert->Act(*env, action);
      result = &env->Step(action);
    } while (!result->done());
    rate.successes += result->success ? 1 : 0;
    ++rate.episodes;
  }
  return rate;
}

class ExpertTest : public MujocoTest {};

TEST_F(ExpertTest, ReachExpertSucceedsInAtLeast99PercentOf100Episodes) {
  const Rate rate = RunExpert("reach", "clean", 100, 1000);
  EXPECT_GE(rate.successes, 99) << rate.successes << "/" << rate.episodes;
}

TEST_F(ExpertTest, PickPlaceExpertSucceedsInAtLeast95PercentOf100Episodes) {
  const Rate rate = RunExpert("pick_place", "clean", 100, 1000);
  EXPECT_GE(rate.successes, 95) << rate.successes << "/" << rate.episodes;
}

// The named cube on the named pad, no other cube moved (200/200 on seeds 0..199 with
// benchmarks/expert_success, clean and default randomization).
TEST_F(ExpertTest, PickPlaceMultiExpertSucceedsInAtLeast99PercentOf100Episodes) {
  const Rate rate = RunExpert("pick_place_multi", "default", 100, 1000);
  EXPECT_GE(rate.successes, 99) << rate.successes << "/" << rate.episodes;
}

TEST_F(ExpertTest, RandomPolicyRarelySucceedsAtPickPlace) {
  // Sanity check that success is not trivially reachable.
  sim::EnvOptions options;
  auto env = MakeEnv("pick_place", options);
  RandomPolicy policy;
  int successes = 0;
  double action[4];
  for (int episode = 0; episode < 10; ++episode) {
    env->Reset(0, static_cast<uint64_t>(episode));
    policy.Reset(*env, 0, static_cast<uint64_t>(episode));
    const sim::StepResult* result = nullptr;
    do {
      policy.Act(*env, action);
      result = &env->Step(action);
    } while (!result->done());
    successes += result->success ? 1 : 0;
  }
  EXPECT_EQ(successes, 0);
}

// The staged reward (for RL) is bounded by 1 per step until success, which pays the most, so an
// expert episode and an episode that holds the cube near the target without releasing it are
// ranked right (and it is another reward than the default one).
TEST_F(ExpertTest, StagedPickPlaceRewardPaysMostForFinishing) {
  sim::EnvOptions staged_options, default_options;
  staged_options.reward = "staged";
  auto staged = MakeEnv("pick_place", staged_options);
  auto plain = MakeEnv("pick_place", default_options);
  auto expert = MakeScriptedExpert("pick_place");
  double action[4];
  for (int episode = 0; episode < 3; ++episode) {
    staged->Reset(7, static_cast<uint64_t>(episode));
    plain->Reset(7, static_cast<uint64_t>(episode));
    expert->Reset(*staged, 7, static_cast<uint64_t>(episode));
    double best_before_success = 0;
    bool lifted = false;
    const sim::StepResult* result = nullptr;
    do {
      expert->Act(*staged, action);
      result = &staged->Step(action);
      const double default_reward = plain->Step(action).reward;
      EXPECT_NE(result->reward, default_reward);
      if (!result->success) {
        EXPECT_GE(result->reward, 0.0);
        EXPECT_LE(result->reward, 1.0);
        best_before_success = std::max(best_before_success, result->reward);
      }
      lifted = lifted || result->metrics[3] > 0;
    } while (!result->done());
    ASSERT_TRUE(result->success) << "episode " << episode;
    EXPECT_TRUE(lifted);
    EXPECT_GT(best_before_success, 0.8);  // every stage reached: reach + grasp + lift + carry
    // Success is worth clearly more than staying in the best other state forever (gamma 0.99).
    EXPECT_GE(result->reward, 2 * best_before_success / (1 - 0.99));
  }
  sim::EnvOptions wrong;
  wrong.reward = "sparse";
  EXPECT_THROW(MakeEnv("pick_place", wrong), InvalidArgumentError);
  EXPECT_THROW(MakeEnv("reach", wrong), InvalidArgumentError);
}

}  // namespace
}  // namespace simscale::envs
