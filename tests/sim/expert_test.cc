// The scripted experts really work: success rates over seeded episodes (the full 500-episode
// measurement is benchmarks/expert_success; this is the CI-sized check).
#include <gtest/gtest.h>

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

}  // namespace
}  // namespace simscale::envs
