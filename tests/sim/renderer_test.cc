// Offscreen rendering: real images of the scene, pixels where geometry projects, depth in metres.
#include "common/sim/renderer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/envs/pick_place.h"
#include "tests/support/mujoco_test.h"

namespace simscale::sim {
namespace {
using testing_support::MujocoTest;

// Projects world point p into camera `cam` of `data`: pixel (col, row) from the top-left and the
// depth along the optical axis.
struct Projection {
  double col, row, depth;
};
Projection Project(const mjModel* m, const mjData* d, int cam, const double* p, int w, int h) {
  const double* pos = d->cam_xpos + 3 * cam;
  const double* r = d->cam_xmat + 9 * cam;  // columns: camera x, y, z axes in world
  double c[3] = {0, 0, 0};
  for (int axis = 0; axis < 3; ++axis) {
    for (int k = 0; k < 3; ++k) c[axis] += r[3 * k + axis] * (p[k] - pos[k]);
  }
  const double depth = -c[2];  // cameras look along their -z axis
  const double f = 0.5 * h / std::tan(m->cam_fovy[cam] * M_PI / 360.0);
  return {0.5 * w + f * c[0] / depth, 0.5 * h - f * c[1] / depth, depth};
}

class RendererTest : public MujocoTest {
 protected:
  void SetUp() override {
    MujocoTest::SetUp();
    env_ = std::make_unique<envs::PickPlaceEnv>(EnvOptions{});
    env_->Reset(0, 1);
  }
  std::unique_ptr<envs::PickPlaceEnv> env_;
};

TEST_F(RendererTest, CubePixelsAppearWhereItsPositionProjects) {
  RenderOptions options;
  options.width = options.height = 128;
  options.depth = true;
  options.segmentation = true;
  Renderer renderer(env_->model(), options);
  const int cam = renderer.CameraId("agentview");
  CameraImage image;
  renderer.Render(env_->model(), env_->data(), cam, &image);
  ASSERT_EQ(image.rgb.size(), 128u * 128 * 3);
  ASSERT_EQ(image.segmentation.size(), 128u * 128);
  const int cube = mj_name2id(env_->model(), mjOBJ_GEOM, "object_geom");
  // Centroid of the cube's segmentation pixels vs. the projection of its centre.
  double sum_col = 0, sum_row = 0;
  int count = 0;
  for (int row = 0; row < 128; ++row) {
    for (int col = 0; col < 128; ++col) {
      if (image.segmentation[static_cast<size_t>(row * 128 + col)] == cube) {
        sum_col += col + 0.5;
        sum_row += row + 0.5;
        ++count;
      }
    }
  }
  ASSERT_GT(count, 10) << "the cube is not visible";
  const Projection p = Project(env_->model(), env_->data(), cam, env_->object_position(), 128, 128);
  EXPECT_NEAR(sum_col / count, p.col, 2.0);
  EXPECT_NEAR(sum_row / count, p.row, 2.0);
  // The cube's pixels are red in the RGB image.
  const size_t centre =
      static_cast<size_t>(std::lround(p.row - 0.5) * 128 + std::lround(p.col - 0.5));
  EXPECT_GT(image.rgb[3 * centre], 2 * image.rgb[3 * centre + 1]);
  // Depth at the centre pixel: the distance to the cube's near face, within 1.5 cm.
  const double half = env_->object_half_size();
  EXPECT_NEAR(image.depth[centre], p.depth, 2 * half + 0.015);
  EXPECT_LT(image.depth[centre], p.depth);
}

TEST_F(RendererTest, WristCameraMovesWithTheHand) {
  RenderOptions options;
  options.segmentation = true;
  Renderer renderer(env_->model(), options);
  const int cam = renderer.CameraId("wrist");
  const double before[3] = {env_->data()->cam_xpos[3 * cam], env_->data()->cam_xpos[3 * cam + 1],
                            env_->data()->cam_xpos[3 * cam + 2]};
  const double move[4] = {1, 0, -0.5, 1};
  for (int i = 0; i < 5; ++i) env_->Step(move);
  const double* after = env_->data()->cam_xpos + 3 * cam;
  EXPECT_GT(std::hypot(after[0] - before[0], after[2] - before[2]), 0.1);
  // The fingers (pads) are in view of the wrist camera.
  CameraImage image;
  renderer.Render(env_->model(), env_->data(), cam, &image);
  const std::set<int> pads = {mj_name2id(env_->model(), mjOBJ_GEOM, "pad_left"),
                              mj_name2id(env_->model(), mjOBJ_GEOM, "pad_right")};
  int pad_pixels = 0;
  for (int id : image.segmentation) pad_pixels += pads.count(id) ? 1 : 0;
  EXPECT_GT(pad_pixels, 50);
}

TEST_F(RendererTest, RendersARealSceneNotABlankFrame) {
  Renderer renderer(env_->model(), RenderOptions{});
  CameraImage image;
  renderer.Render(env_->model(), env_->data(), renderer.CameraId("agentview"), &image);
  std::set<int> colours;
  for (size_t i = 0; i < image.rgb.size(); i += 3) {
    colours.insert(image.rgb[i] << 16 | image.rgb[i + 1] << 8 | image.rgb[i + 2]);
  }
  EXPECT_GT(colours.size(), 50u);
}

TEST_F(RendererTest, OneGlPlatformPerProcess) {
  // MuJoCo binds the GL functions of the first platform it sees; mixing platforms in one process
  // would render garbage, so asking for a second one is a clear error.
  Renderer first(env_->model(), RenderOptions{});
  const bool first_is_osmesa = first.description().find("osmesa") != std::string::npos;
  RenderOptions other;
  other.backend = first_is_osmesa ? GlBackend::kEglDevice : GlBackend::kOsmesa;
  try {
    Renderer second(env_->model(), other);
    FAIL() << "expected RenderError";
  } catch (const RenderError& e) {
    EXPECT_NE(std::string(e.what()).find("one GL platform per process"), std::string::npos)
        << e.what();
  }
}

TEST_F(RendererTest, UnknownCameraListsTheModelsCameras) {
  Renderer renderer(env_->model(), RenderOptions{});
  try {
    renderer.CameraId("overhead_cam");
    FAIL();
  } catch (const RenderError& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown camera 'overhead_cam'; the model's cameras are: agentview, wrist");
  }
}

TEST(GlBackend, ParsesNamesAndRejectsOthers) {
  EXPECT_EQ(ParseGlBackend("osmesa"), GlBackend::kOsmesa);
  EXPECT_EQ(ParseGlBackend("egl"), GlBackend::kEglDevice);
  EXPECT_THROW(ParseGlBackend("glx"), InvalidArgumentError);
}

}  // namespace
}  // namespace simscale::sim
