// Cameras framed for learning from pixels: the agent view holds every cube and target position
// of the layouts with the cube ~10 px across at 128 x 128, and the wrist view sees the fingers
// and the cube while the hand approaches and grasps it.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "common/envs/pick_place.h"
#include "common/sim/renderer.h"
#include "tests/support/mujoco_test.h"

namespace simscale::sim {
namespace {
using testing_support::MujocoTest;

// Pixel (col, row) of world point p in camera `cam` for a square image of side `size`.
std::array<double, 2> Project(const mjModel* m, const mjData* d, int cam, const double* p,
                              int size) {
  const double* pos = d->cam_xpos + 3 * cam;
  const double* r = d->cam_xmat + 9 * cam;  // columns: camera x, y, z axes in world
  double c[3] = {0, 0, 0};
  for (int axis = 0; axis < 3; ++axis) {
    for (int k = 0; k < 3; ++k) c[axis] += r[3 * k + axis] * (p[k] - pos[k]);
  }
  const double f = 0.5 * size / std::tan(m->cam_fovy[cam] * M_PI / 360.0);
  return {0.5 * size + f * c[0] / -c[2], 0.5 * size - f * c[1] / -c[2]};
}

// Width and height in pixels of the box around a cube's eight projected corners.
std::array<double, 2> CubeExtent(const mjModel* m, const mjData* d, int cam, const double* centre,
                                 double half, int size) {
  double lo[2] = {1e9, 1e9}, hi[2] = {-1e9, -1e9};
  for (int corner = 0; corner < 8; ++corner) {
    const double p[3] = {centre[0] + ((corner & 1) ? half : -half),
                         centre[1] + ((corner & 2) ? half : -half),
                         centre[2] + ((corner & 4) ? half : -half)};
    const auto px = Project(m, d, cam, p, size);
    for (int k = 0; k < 2; ++k) {
      lo[k] = std::min(lo[k], px[static_cast<size_t>(k)]);
      hi[k] = std::max(hi[k], px[static_cast<size_t>(k)]);
    }
  }
  return {hi[0] - lo[0], hi[1] - lo[1]};
}

bool InFrame(const std::array<double, 2>& px, int size) {
  return px[0] >= 0 && px[0] < size && px[1] >= 0 && px[1] < size;
}

class CameraTest : public MujocoTest {
 protected:
  void SetUp() override {
    MujocoTest::SetUp();
    env_.Reset(0, 0);
    agentview_ = mj_name2id(env_.model(), mjOBJ_CAMERA, "agentview");
    wrist_ = mj_name2id(env_.model(), mjOBJ_CAMERA, "wrist");
  }
  envs::PickPlaceEnv env_{EnvOptions{}};
  int agentview_ = -1, wrist_ = -1;
};

// Cube and target positions span x in [0.3, 0.6], y in [-0.2, 0.2] (targets 3 cm more around
// them); the hand comes down from 30 cm above the table.
TEST_F(CameraTest, AgentViewHoldsTheWholeLayoutWithTheCubeAtLeast10PxAcross) {
  const mjModel* m = env_.model();
  const mjData* d = env_.data();
  const double rest = env_.object_position()[2];
  double smallest = 1e9;
  for (double x : {0.3, 0.45, 0.6}) {
    for (double y : {-0.2, 0.0, 0.2}) {
      const double centre[3] = {x, y, rest};
      const auto at128 = CubeExtent(m, d, agentview_, centre, 0.02, 128);
      const auto at64 = CubeExtent(m, d, agentview_, centre, 0.02, 64);
      EXPECT_GE(std::min(at128[0], at128[1]), 10.0) << x << ", " << y;
      EXPECT_GE(std::min(at64[0], at64[1]), 5.0) << x << ", " << y;
      smallest = std::min(smallest, std::min(at128[0], at128[1]));
      const double above[3] = {x, y, rest + 0.3};
      EXPECT_TRUE(InFrame(Project(m, d, agentview_, above, 128), 128)) << x << ", " << y;
    }
  }
  for (double x : {0.27, 0.63}) {
    for (double y : {-0.23, 0.23}) {
      const double target_corner[3] = {x, y, 0.4};
      EXPECT_TRUE(InFrame(Project(m, d, agentview_, target_corner, 128), 128)) << x << ", " << y;
    }
  }
  // The arm's base, shoulder and hand.
  for (const char* body : {"link0", "link2", "hand"}) {
    const int id = mj_name2id(m, mjOBJ_BODY, body);
    EXPECT_TRUE(InFrame(Project(m, d, agentview_, d->xpos + 3 * id, 128), 128)) << body;
  }
  RecordProperty("smallest_cube_px_at_128", std::to_string(smallest));
}

struct Coverage {
  int pixels = 0;
  int width = 0, height = 0;  // of the box around them
};

Coverage CoverageOf(const CameraImage& image, const std::vector<int>& geoms) {
  int lo_col = image.width, hi_col = -1, lo_row = image.height, hi_row = -1;
  Coverage c;
  for (int row = 0; row < image.height; ++row) {
    for (int col = 0; col < image.width; ++col) {
      const int id = image.segmentation[static_cast<size_t>(row * image.width + col)];
      if (std::find(geoms.begin(), geoms.end(), id) == geoms.end()) continue;
      ++c.pixels;
      lo_col = std::min(lo_col, col);
      hi_col = std::max(hi_col, col);
      lo_row = std::min(lo_row, row);
      hi_row = std::max(hi_row, row);
    }
  }
  if (c.pixels > 0) {
    c.width = hi_col - lo_col + 1;
    c.height = hi_row - lo_row + 1;
  }
  return c;
}

// The rendered cube, not only its projection: its pixels span at least 9 x 9 at 128 and 4 x 4 at
// 64 (a projected extent of 10.2 px covers 10 or 11 whole pixels, or 9 where the edges cut
// pixel centres off).
TEST_F(CameraTest, RenderedCubeInTheAgentViewIsAtLeast10PxAcross) {
  const int cube = mj_name2id(env_.model(), mjOBJ_GEOM, "object_geom");
  for (int size : {128, 64}) {
    RenderOptions options;
    options.width = options.height = size;
    options.segmentation = true;
    Renderer renderer(env_.model(), options);
    for (uint64_t episode = 0; episode < 4; ++episode) {
      env_.Reset(0, episode);
      CameraImage image;
      renderer.Render(env_.model(), env_.data(), agentview_, &image);
      const Coverage c = CoverageOf(image, {cube});
      EXPECT_GE(std::min(c.width, c.height), size / 128.0 * 10 - 1) << size << " px, " << episode;
    }
  }
}

// At the end of the approach (hand 12 cm above the cube) and while the fingers close on it, the
// wrist camera sees both finger pads and the cube.
TEST_F(CameraTest, WristViewSeesTheFingersAndTheCubeDuringApproachAndGrasp) {
  const mjModel* m = env_.model();
  const int cube = mj_name2id(m, mjOBJ_GEOM, "object_geom");
  const int left = mj_name2id(m, mjOBJ_GEOM, "pad_left");
  const int right = mj_name2id(m, mjOBJ_GEOM, "pad_right");
  RenderOptions options;
  options.width = options.height = 64;
  options.segmentation = true;
  Renderer renderer(m, options);
  envs::PickPlaceExpert expert;
  double action[4];
  for (uint64_t episode = 0; episode < 3; ++episode) {
    env_.Reset(0, episode);
    expert.Reset(env_, 0, episode);
    int checked = 0;
    auto previous = expert.phase();
    for (int step = 0; step < 200 && checked < 2; ++step) {
      expert.Act(env_, action);
      env_.Step(action);
      const auto phase = expert.phase();
      const bool approach_done = phase == envs::PickPlaceExpert::Phase::kDescend &&
                                 previous == envs::PickPlaceExpert::Phase::kApproach;
      const bool grasping = phase == envs::PickPlaceExpert::Phase::kLift &&
                            previous == envs::PickPlaceExpert::Phase::kClose;
      previous = phase;
      if (!approach_done && !grasping) continue;
      CameraImage image;
      renderer.Render(m, env_.data(), wrist_, &image);
      const int area = 64 * 64;
      // The cube: at least 2 % of the image (82 px, about 9 x 9 at 64 x 64).
      EXPECT_GE(CoverageOf(image, {cube}).pixels, area / 50) << episode << " step " << step;
      EXPECT_GE(CoverageOf(image, {left}).pixels, area / 100) << episode << " step " << step;
      EXPECT_GE(CoverageOf(image, {right}).pixels, area / 100) << episode << " step " << step;
      ++checked;
    }
    EXPECT_EQ(checked, 2) << "episode " << episode << " never reached the grasp";
  }
}

// Camera randomization around the new poses: the narrow agent view zooms in proportion (never
// loses more than a third of its field under "heavy"), and the wrist camera stays within 2 cm of
// its mount while the fixed camera moves up to 10 cm.
TEST_F(CameraTest, CameraRandomizationIsProportionalToEachCamera) {
  EnvOptions options;
  options.randomization = RandomizationCondition("heavy");
  envs::PickPlaceEnv env(options);
  const mjModel* nominal = env_.model();
  double largest_fixed_move = 0.0, largest_zoom = 0.0;
  for (uint64_t episode = 0; episode < 30; ++episode) {
    env.Reset(0, episode);
    const mjModel* m = env.model();
    for (int cam : {agentview_, wrist_}) {
      const double fovy_ratio = m->cam_fovy[cam] / nominal->cam_fovy[cam];
      EXPECT_GE(fovy_ratio, 1.0 - 20.0 / 60.0 - 1e-9) << cam;
      EXPECT_LE(fovy_ratio, 1.0 + 20.0 / 60.0 + 1e-9) << cam;
      double move = 0.0;
      for (int k = 0; k < 3; ++k) {
        move = std::max(move, std::abs(m->cam_pos[3 * cam + k] - nominal->cam_pos[3 * cam + k]));
      }
      if (cam == wrist_) {
        EXPECT_LE(move, 0.02 + 1e-9);
      } else {
        largest_fixed_move = std::max(largest_fixed_move, move);
        largest_zoom = std::max(largest_zoom, std::abs(fovy_ratio - 1));
      }
    }
  }
  EXPECT_GT(largest_fixed_move, 0.05);  // the randomization does something
  EXPECT_GT(largest_zoom, 0.15);
}

}  // namespace
}  // namespace simscale::sim
