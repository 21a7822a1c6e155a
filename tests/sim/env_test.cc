// Claims about the robot-arm envs: control, determinism, layout independence from DR, grasping,
// robustness, and the allocation-free step.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdlib>
#include <new>
#include <set>
#include <vector>

#include "common/envs/pick_place.h"
#include "common/envs/reach.h"
#include "common/envs/registry.h"
#include "tests/support/mujoco_test.h"

#include "tests/support/allocation_counter.h"

namespace simscale::envs {
namespace {
using testing_support::MujocoTest;

double Distance(const double* a, const double* b) {
  return std::sqrt((a[0] - b[0]) * (a[0] - b[0]) + (a[1] - b[1]) * (a[1] - b[1]) +
                   (a[2] - b[2]) * (a[2] - b[2]));
}

class EnvTest : public MujocoTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(EnvTest, ZeroActionHoldsPose) {
  auto env = MakeEnv(GetParam(), sim::EnvOptions{});
  env->Reset(7, 0);
  const double start[3] = {env->ee_position()[0], env->ee_position()[1], env->ee_position()[2]};
  const double hold[4] = {0, 0, 0, 1};  // no motion, gripper open
  double worst = 0.0;
  for (int step = 0; step < 100; ++step) {
    env->Step(hold);
    worst = std::max(worst, Distance(env->ee_position(), start));
  }
  EXPECT_LT(worst, 1e-3) << "the end-effector drifted " << worst * 1000 << " mm";
}

TEST_P(EnvTest, SameSeedGivesIdenticalTrajectories) {
  auto run = [&](std::vector<double>* trace) {
    auto env = MakeEnv(GetParam(), sim::EnvOptions{});
    auto expert = MakeScriptedExpert(GetParam());
    env->Reset(11, 3);
    expert->Reset(*env, 11, 3);
    double action[4];
    for (int step = 0; step < 60; ++step) {
      expert->Act(*env, action);
      const auto& result = env->Step(action);
      trace->insert(trace->end(), env->observation(),
                    env->observation() + env->observation_spec().size());
      trace->push_back(result.reward);
      if (result.done()) break;
    }
  };
  std::vector<double> first, second;
  run(&first);
  run(&second);
  ASSERT_FALSE(first.empty());
  EXPECT_EQ(first, second);  // bitwise equal
}

TEST_P(EnvTest, DifferentSeedsOrEpisodesGiveDifferentLayouts) {
  auto env = MakeEnv(GetParam(), sim::EnvOptions{});
  const int target = env->observation_spec().Offset("target_pos");
  env->Reset(1, 0);
  const double a = env->observation()[target];
  env->Reset(1, 1);
  const double b = env->observation()[target];
  env->Reset(2, 0);
  const double c = env->observation()[target];
  EXPECT_NE(a, b);
  EXPECT_NE(a, c);
}

TEST_P(EnvTest, TaskLayoutIsTheSameUnderEveryRandomizationCondition) {
  std::vector<double> reference;
  for (const auto& condition : sim::RandomizationConditionNames()) {
    sim::EnvOptions options;
    options.randomization = sim::RandomizationCondition(condition);
    auto env = MakeEnv(GetParam(), options);
    env->Reset(5, 42);
    const auto& spec = env->observation_spec();
    std::vector<double> layout = {env->observation()[spec.Offset("target_pos")],
                                  env->observation()[spec.Offset("target_pos") + 1]};
    if (spec.Has("object_pos")) {
      layout.push_back(env->observation()[spec.Offset("object_pos")]);
      layout.push_back(env->observation()[spec.Offset("object_pos") + 1]);
    }
    if (reference.empty()) reference = layout;
    for (size_t i = 0; i < layout.size(); ++i) {
      EXPECT_NEAR(layout[i], reference[i], 1e-4) << "condition " << condition << ", value " << i;
    }
  }
}

TEST_P(EnvTest, NonFiniteActionsAreRejectedWithTheirIndex) {
  auto env = MakeEnv(GetParam(), sim::EnvOptions{});
  env->Reset(0, 0);
  const double bad[4] = {0, NAN, 0, 0};
  try {
    env->Step(bad);
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("action[1]"), std::string::npos) << e.what();
  }
}

TEST_P(EnvTest, EpisodeTruncatesAtTheStepLimit) {
  sim::EnvOptions options;
  options.max_episode_steps = 5;
  auto env = MakeEnv(GetParam(), options);
  env->Reset(0, 0);
  const double hold[4] = {0, 0, 0, 1};
  for (int step = 1; step <= 5; ++step) {
    const auto& result = env->Step(hold);
    EXPECT_EQ(result.truncated, step == 5) << "step " << step;
    EXPECT_FALSE(result.terminated);
  }
}

TEST_P(EnvTest, StepDoesNotAllocate) {
  auto env = MakeEnv(GetParam(), sim::EnvOptions{});
  auto expert = MakeScriptedExpert(GetParam());
  env->Reset(3, 1);
  expert->Reset(*env, 3, 1);
  double action[4];
  expert->Act(*env, action);
  env->Step(action);  // warm-up
  if (!testing_support::AllocationCounterActive()) GTEST_SKIP() << "sanitizer build";
  const long before = testing_support::AllocationCount();
  for (int step = 0; step < 50; ++step) {
    expert->Act(*env, action);
    if (env->Step(action).done()) break;
  }
  EXPECT_EQ(testing_support::AllocationCount() - before, 0);
}

INSTANTIATE_TEST_SUITE_P(AllEnvs, EnvTest, ::testing::Values("reach", "pick_place"));

class PickPlaceTest : public MujocoTest {};

TEST_F(PickPlaceTest, GraspedCubeLiftsWithTheHand) {
  PickPlaceEnv env(sim::EnvOptions{});
  PickPlaceExpert expert;
  env.Reset(0, 5);
  expert.Reset(env, 0, 5);
  const double rest_z = env.object_position()[2];
  double action[4];
  double ee_at_grasp = 0.0;
  int step = 0;
  while (expert.phase() != PickPlaceExpert::Phase::kCarry && step++ < 150) {
    if (expert.phase() == PickPlaceExpert::Phase::kLift && ee_at_grasp == 0.0) {
      ee_at_grasp = env.ee_position()[2];
    }
    expert.Act(env, action);
    env.Step(action);
  }
  ASSERT_EQ(expert.phase(), PickPlaceExpert::Phase::kCarry) << "the expert never finished lifting";
  const double ee_rise = env.ee_position()[2] - ee_at_grasp;
  const double cube_rise = env.object_position()[2] - rest_z;
  EXPECT_GT(ee_rise, 0.09);
  EXPECT_NEAR(cube_rise, ee_rise, 0.005) << "the cube did not follow the hand";
  EXPECT_TRUE(env.grasped()) << "both pads must touch the cube";
  EXPECT_TRUE(env.lifted());
}

TEST_F(PickPlaceTest, OpenGripperDoesNotLiftTheCube) {
  // The same motion with the gripper open: friction is the only thing that can lift the cube.
  PickPlaceEnv env(sim::EnvOptions{});
  env.Reset(0, 5);
  const double rest_z = env.object_position()[2];
  const double* obs = env.observation();
  const int to_object = env.observation_spec().Offset("ee_to_object");
  double action[4] = {0, 0, 0, 1};
  for (int step = 0; step < 80; ++step) {  // go down onto the cube, open
    for (int k = 0; k < 3; ++k) {
      const double goal = obs[to_object + k] + (k == 2 ? 0.01 : 0.0);
      action[k] = std::clamp(goal / env.action_scale(), -0.25, 0.25);
    }
    env.Step(action);
  }
  for (int step = 0; step < 20; ++step) {
    const double up[4] = {0, 0, 0.25, 1};
    env.Step(up);
  }
  EXPECT_NEAR(env.object_position()[2], rest_z, 0.005);
  EXPECT_FALSE(env.lifted());
}

// A task whose state can be corrupted from the test, to check that divergence ends the episode.
class CorruptibleEnv : public PickPlaceEnv {
 public:
  using PickPlaceEnv::PickPlaceEnv;
  void CorruptVelocity() { mutable_data()->qvel[0] = NAN; }
};

TEST_F(PickPlaceTest, DivergenceEndsTheEpisodeWithDivergedFlag) {
  ExpectMujocoWarning("QVEL");
  CorruptibleEnv env(sim::EnvOptions{});
  env.Reset(0, 0);
  const double hold[4] = {0, 0, 0, 1};
  EXPECT_FALSE(env.Step(hold).diverged);
  env.CorruptVelocity();
  const auto& result = env.Step(hold);
  EXPECT_TRUE(result.diverged);
  EXPECT_TRUE(result.truncated);
  EXPECT_FALSE(result.success);
}

TEST(Registry, UnknownEnvListsTheValidNames) {
  try {
    MakeEnv("juggle", sim::EnvOptions{});
    FAIL() << "expected InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown env 'juggle'; available: pick_place, pick_place_multi, reach");
  }
  EXPECT_EQ(ListEnvs(), (std::vector<std::string>{"pick_place", "pick_place_multi", "reach"}));
}

TEST_F(PickPlaceTest, InstructionDescribesThisEpisodesLayoutDeterministically) {
  PickPlaceEnv env(sim::EnvOptions{});
  env.Reset(9, 2);
  const std::string first = env.instruction();
  env.Reset(9, 2);
  EXPECT_EQ(env.instruction(), first);
  EXPECT_TRUE(first.find("cube") != std::string::npos || first.find("block") != std::string::npos)
      << first;
  // Over many episodes, several paraphrases and locations appear.
  std::set<std::string> seen;
  for (uint64_t episode = 0; episode < 40; ++episode) {
    env.Reset(9, episode);
    seen.insert(env.instruction());
  }
  EXPECT_GT(seen.size(), 10u);
}

}  // namespace
}  // namespace simscale::envs
