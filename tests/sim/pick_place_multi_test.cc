// pick_place_multi: the instruction names which cube goes on which pad; success needs exactly
// that cube on exactly that pad, released, with the other cubes left where they were.
#include "common/envs/pick_place_multi.h"

#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <set>
#include <string>

#include "common/envs/registry.h"
#include "tests/support/mujoco_test.h"

namespace simscale::envs {
namespace {
using testing_support::MujocoTest;

class PickPlaceMultiTest : public MujocoTest {
 protected:
  PickPlaceMultiEnv env_{sim::EnvOptions{}};
};

TEST_F(PickPlaceMultiTest, LayoutAndInstructionAreTheSameForTheSameEpisode) {
  PickPlaceMultiEnv other{sim::EnvOptions{}};
  env_.Reset(3, 5);
  other.Reset(3, 5);
  EXPECT_EQ(env_.instruction(), other.instruction());
  for (int i = 0; i < env_.observation_spec().size(); ++i) {
    EXPECT_EQ(env_.observation()[i], other.observation()[i]) << i;
  }
  other.Reset(3, 6);
  EXPECT_NE(env_.cube_position(0)[0], other.cube_position(0)[0]);
}

TEST_F(PickPlaceMultiTest, LayoutKeepsCubesApartAndPadsLeftAndRight) {
  std::set<std::pair<int, int>> tasks;
  for (uint64_t episode = 0; episode < 200; ++episode) {
    env_.Reset(0, episode);
    tasks.insert({env_.named_cube(), env_.named_pad()});
    EXPECT_GE(env_.pad_position(0)[1] - env_.pad_position(1)[1], 0.15) << episode;
    for (int c = 0; c < PickPlaceMultiEnv::kCubes; ++c) {
      const double* a = env_.cube_position(c);
      EXPECT_GE(a[0], 0.3 - 1e-9);
      EXPECT_LE(a[0], 0.6 + 1e-9);
      EXPECT_LE(std::abs(a[1]), 0.2 + 1e-9);
      for (int p = 0; p < PickPlaceMultiEnv::kPads; ++p) {
        const auto& pad = env_.pad_position(p);
        EXPECT_GE(std::hypot(a[0] - pad[0], a[1] - pad[1]), PickPlaceMultiEnv::kMinSeparation)
            << episode;
      }
      for (int o = c + 1; o < PickPlaceMultiEnv::kCubes; ++o) {
        const double* b = env_.cube_position(o);
        EXPECT_GE(std::hypot(a[0] - b[0], a[1] - b[1]), PickPlaceMultiEnv::kMinSeparation)
            << episode;
      }
    }
  }
  EXPECT_EQ(tasks.size(), 6u);  // every cube with every pad
}

TEST_F(PickPlaceMultiTest, InstructionNamesTheTaskOfTheObservation) {
  const auto& spec = env_.observation_spec();
  std::set<std::string> phrasings;
  for (uint64_t episode = 0; episode < 60; ++episode) {
    env_.Reset(1, episode);
    const std::string& text = env_.instruction();
    const double* task = env_.observation() + spec.Offset("task");
    for (int c = 0; c < PickPlaceMultiEnv::kCubes; ++c) {
      const bool named =
          text.find(PickPlaceMultiEnv::kCubeColours[static_cast<size_t>(c)]) != std::string::npos;
      EXPECT_EQ(named, c == env_.named_cube()) << text;
      EXPECT_EQ(task[c], c == env_.named_cube() ? 1.0 : 0.0);
    }
    for (int p = 0; p < PickPlaceMultiEnv::kPads; ++p) {
      const bool named =
          text.find(PickPlaceMultiEnv::kPadSides[static_cast<size_t>(p)]) != std::string::npos;
      EXPECT_EQ(named, p == env_.named_pad()) << text;
      EXPECT_EQ(task[PickPlaceMultiEnv::kCubes + p], p == env_.named_pad() ? 1.0 : 0.0);
    }
    // The expert's inputs are the named cube and pad.
    const double* object = env_.observation() + spec.Offset("object_pos");
    const double* target = env_.observation() + spec.Offset("target_pos");
    EXPECT_EQ(object[0], env_.cube_position(env_.named_cube())[0]);
    EXPECT_EQ(target[1], env_.pad_position(env_.named_pad())[1]);
    phrasings.insert(text.substr(0, text.find(' ')));
  }
  EXPECT_GE(phrasings.size(), 4u);  // paraphrased
}

// The expert puts the named cube on the named pad; while it still holds the cube on the pad the
// episode is not a success, and once it has let go it is.
TEST_F(PickPlaceMultiTest, ExpertSucceedsOnlyAfterReleasingTheNamedCubeOnTheNamedPad) {
  auto expert = MakeScriptedExpert(PickPlaceMultiEnv::kName);
  double action[4];
  for (uint64_t episode = 0; episode < 4; ++episode) {
    env_.Reset(11, episode);
    expert->Reset(env_, 11, episode);
    bool held_on_pad_without_success = false;
    const sim::StepResult* result = nullptr;
    do {
      expert->Act(env_, action);
      result = &env_.Step(action);
      const double* cube = env_.cube_position(env_.named_cube());
      const auto& pad = env_.pad_position(env_.named_pad());
      if (env_.grasped() && std::hypot(cube[0] - pad[0], cube[1] - pad[1]) < 0.02 &&
          cube[2] < pad[2] + 0.005) {
        held_on_pad_without_success = held_on_pad_without_success || !result->success;
      }
    } while (!result->done());
    EXPECT_TRUE(result->success) << "episode " << episode << ": " << env_.instruction();
    EXPECT_TRUE(held_on_pad_without_success) << "episode " << episode;
    EXPECT_LT(env_.largest_disturbance(), PickPlaceMultiEnv::kDisturbance);
    EXPECT_EQ(result->metrics[4], 0.0);
  }
}

// Drives the end-effector through a cube that is not the named one: the episode ends as a
// failure as soon as that cube has moved more than kDisturbance.
TEST_F(PickPlaceMultiTest, PushingAnotherCubeEndsTheEpisodeAsAFailure) {
  env_.Reset(2, 0);
  const int wrong = (env_.named_cube() + 1) % PickPlaceMultiEnv::kCubes;
  const double* start = env_.cube_position(wrong);
  const double cube[3] = {start[0], start[1], start[2]};
  // Come down 8 cm beside the cube on a side with no other cube there, then push through it.
  double side[2] = {0, 0};
  for (const auto& d : {std::array<double, 2>{-1, 0}, {1, 0}, {0, 1}, {0, -1}}) {
    bool clear = true;
    for (int c = 0; c < PickPlaceMultiEnv::kCubes; ++c) {
      const double* other = env_.cube_position(c);
      clear = clear && (c == wrong || std::hypot(cube[0] + 0.08 * d[0] - other[0],
                                                 cube[1] + 0.08 * d[1] - other[1]) > 0.07);
    }
    if (clear) {
      side[0] = d[0];
      side[1] = d[1];
      break;
    }
  }
  ASSERT_NE(std::abs(side[0]) + std::abs(side[1]), 0.0);
  const double waypoints[3][3] = {
      {cube[0] + 0.08 * side[0], cube[1] + 0.08 * side[1], cube[2] + 0.15},
      {cube[0] + 0.08 * side[0], cube[1] + 0.08 * side[1], cube[2] + 0.01},
      {cube[0] - 0.10 * side[0], cube[1] - 0.10 * side[1], cube[2] + 0.01}};
  const sim::StepResult* result = nullptr;
  int waypoint = 0;
  double moved = 0.0;
  for (int step = 0; step < 200 && waypoint < 3; ++step) {
    const double* ee = env_.ee_position();
    double action[4] = {0, 0, 0, -1};  // fingers closed
    double error = 0.0;
    for (int k = 0; k < 3; ++k) {
      const double e = waypoints[waypoint][k] - ee[k];
      action[k] = std::clamp(e / 0.05, -0.3, 0.3);
      error += e * e;
    }
    if (std::sqrt(error) < 0.01) ++waypoint;
    result = &env_.Step(action);
    moved =
        std::hypot(env_.cube_position(wrong)[0] - cube[0], env_.cube_position(wrong)[1] - cube[1]);
    if (result->done()) break;
  }
  ASSERT_NE(result, nullptr);
  EXPECT_GT(moved, PickPlaceMultiEnv::kDisturbance);
  EXPECT_TRUE(result->terminated);
  EXPECT_FALSE(result->success);
  EXPECT_EQ(result->metrics[4], 1.0);
}

TEST_F(PickPlaceMultiTest, IsRegisteredWithItsExpert) {
  const auto names = ListEnvs();
  EXPECT_NE(std::find(names.begin(), names.end(), "pick_place_multi"), names.end());
  auto env = MakeEnv("pick_place_multi", sim::EnvOptions{});
  EXPECT_EQ(env->observation_spec().size(), 55);
  EXPECT_EQ(MakeScriptedExpert("pick_place_multi")->name(), "scripted_pick_place");
}

}  // namespace
}  // namespace simscale::envs
