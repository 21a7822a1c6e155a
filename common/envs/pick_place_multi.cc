#include "common/envs/pick_place_multi.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/envs/language.h"

namespace simscale::envs {
namespace {

constexpr std::array<const char*, PickPlaceMultiEnv::kCubes> kCubeBodies = {
    "cube_red", "cube_green", "cube_blue"};
constexpr std::array<const char*, PickPlaceMultiEnv::kPads> kPadBodies = {"place_pad_0",
                                                                          "place_pad_1"};
constexpr double kLowX = 0.3, kHighX = 0.6, kHighY = 0.2;
constexpr double kPadInnerY = 0.075;  // pads keep at least 15 cm apart across: "left" and "right"
constexpr int kAttempts = 1000;

int FindBody(const mjModel* m, const char* name) {
  const int id = mj_name2id(m, mjOBJ_BODY, name);
  SIMSCALE_CHECK(id >= 0, "pick_place_multi.xml needs a body named '{}'", name);
  return id;
}

}  // namespace

PickPlaceMultiEnv::PickPlaceMultiEnv(const sim::EnvOptions& options)
    : PickPlaceEnv(kName, "pick_place_multi.xml", kCubeBodies[0], nullptr, options) {
  const mjModel* m = model();
  for (size_t c = 0; c < kCubeBodies.size(); ++c) {
    const int body = FindBody(m, kCubeBodies[c]);
    SelectObject(body);  // checks the body's joint and geom
    cube_body_[c] = body;
    cube_geom_[c] = m->body_geomadr[body];
    cube_qpos_[c] = m->jnt_qposadr[m->body_jntadr[body]];
    cube_dof_[c] = m->jnt_dofadr[m->body_jntadr[body]];
  }
  for (size_t p = 0; p < kPadBodies.size(); ++p) {
    pad_mocap_[p] = m->body_mocapid[FindBody(m, kPadBodies[p])];
    SIMSCALE_CHECK(pad_mocap_[p] >= 0, "{} must be a mocap body", kPadBodies[p]);
  }
  cubes_obs_ = DeclareObservation("cube_pos", 3 * kCubes, -2, 2);
  pads_obs_ = DeclareObservation("pad_pos", 3 * kPads, -2, 2);
  task_obs_ = DeclareObservation("task", kCubes + kPads, 0, 1);
  DeclareMetric("wrong_cube_moved");
  SetSuccessDistance(kPadRadius);
}

const double* PickPlaceMultiEnv::cube_position(int cube) const {
  return data()->xpos + 3 * cube_body_[static_cast<size_t>(cube)];
}

void PickPlaceMultiEnv::PlaceLayout(RandomStream* layout, double rest_height) {
  std::vector<std::array<double, 2>> taken;
  auto far_enough = [&taken](double x, double y) {
    return std::all_of(taken.begin(), taken.end(), [&](const std::array<double, 2>& o) {
      return std::hypot(x - o[0], y - o[1]) >= kMinSeparation;
    });
  };
  for (size_t p = 0; p < pads_.size(); ++p) {
    const double x = layout->Uniform(kLowX, kHighX);
    const double y =
        p == 0 ? layout->Uniform(kPadInnerY, kHighY) : -layout->Uniform(kPadInnerY, kHighY);
    pads_[p] = {x, y, rest_height};
    taken.push_back({x, y});
  }
  for (size_t c = 0; c < cube_start_.size(); ++c) {
    double x = layout->Uniform(kLowX, kHighX), y = layout->Uniform(-kHighY, kHighY);
    for (int attempt = 0; attempt < kAttempts && !far_enough(x, y); ++attempt) {
      x = layout->Uniform(kLowX, kHighX);
      y = layout->Uniform(-kHighY, kHighY);
    }
    cube_start_[c] = {x, y};
    taken.push_back({x, y});
  }
}

void PickPlaceMultiEnv::ResetTask(RandomStream* layout) {
  mjData* d = mutable_data();
  const double table_top = TableTop();
  const double rest_height = table_top + model()->geom_size[3 * cube_geom_[0] + 2];
  PlaceLayout(layout, rest_height);
  for (size_t c = 0; c < cube_start_.size(); ++c) {
    double* q = d->qpos + cube_qpos_[c];
    q[0] = cube_start_[c][0];
    q[1] = cube_start_[c][1];
    q[2] = rest_height + 0.0005;  // settles half a millimetre
    q[3] = 1.0;
    q[4] = q[5] = q[6] = 0.0;
    for (int k = 0; k < 6; ++k) d->qvel[cube_dof_[c] + k] = 0.0;
  }
  for (size_t p = 0; p < pads_.size(); ++p) {
    d->mocap_pos[3 * pad_mocap_[p]] = pads_[p][0];
    d->mocap_pos[3 * pad_mocap_[p] + 1] = pads_[p][1];
    d->mocap_pos[3 * pad_mocap_[p] + 2] = table_top + 0.001;
  }
  named_cube_ = static_cast<int>(layout->UniformInt(0, kCubes - 1));
  named_pad_ = static_cast<int>(layout->UniformInt(0, kPads - 1));
  SelectObject(cube_body_[static_cast<size_t>(named_cube_)]);
  SetTarget(pads_[static_cast<size_t>(named_pad_)]);
  set_rest_height(rest_height);
  ResetFlags();
  disturbed_ = false;
}

double PickPlaceMultiEnv::largest_disturbance() const {
  double largest = 0.0;
  for (int c = 0; c < kCubes; ++c) {
    if (c == named_cube_) continue;
    const double* now = cube_position(c);
    const auto& start = cube_start_[static_cast<size_t>(c)];
    largest = std::max(largest, std::hypot(now[0] - start[0], now[1] - start[1]));
  }
  return largest;
}

void PickPlaceMultiEnv::ComputeObservation(double* out) const {
  PickPlaceEnv::ComputeObservation(out);
  for (int c = 0; c < kCubes; ++c) std::copy_n(cube_position(c), 3, out + cubes_obs_ + 3 * c);
  for (size_t p = 0; p < pads_.size(); ++p) {
    std::copy(pads_[p].begin(), pads_[p].end(), out + pads_obs_ + 3 * static_cast<int>(p));
  }
  std::fill_n(out + task_obs_, kCubes + kPads, 0.0);
  out[task_obs_ + named_cube_] = 1.0;
  out[task_obs_ + kCubes + named_pad_] = 1.0;
}

bool PickPlaceMultiEnv::SuccessAllowed() const {
  const int named_geom = cube_geom_[static_cast<size_t>(named_cube_)];
  return !disturbed_ && finger_opening() > 0.5 && !FingerPadTouches(named_geom);
}

void PickPlaceMultiEnv::EvaluateStep(const double* action, sim::StepResult* result) {
  const double disturbance = largest_disturbance();
  disturbed_ = disturbed_ || disturbance > kDisturbance;
  PickPlaceEnv::EvaluateStep(action, result);
  result->metrics[4] = disturbed_ ? 1.0 : 0.0;
}

std::string PickPlaceMultiEnv::MakeInstruction(RandomStream* language) const {
  const char* cube = kCubeColours[static_cast<size_t>(named_cube_)];
  const char* side = kPadSides[static_cast<size_t>(named_pad_)];
  switch (ChooseTemplate(language, 6)) {
    case 0:
      return fmt::format("put the {} cube on the {} pad", cube, side);
    case 1:
      return fmt::format("place the {} block on the {} pad", cube, side);
    case 2:
      return fmt::format("move the {} cube onto the pad on the {}", cube, side);
    case 3:
      return fmt::format("pick up the {} cube and set it down on the {} pad", cube, side);
    case 4:
      return fmt::format("the {} cube goes on the {} pad", cube, side);
    default:
      return fmt::format("grab the {} block and put it on the {} target", cube, side);
  }
}

}  // namespace simscale::envs
