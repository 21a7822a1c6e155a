#pragma once

#include <array>

#include "common/envs/pick_place.h"

namespace simscale::envs {

// Pick and place among three 4 cm cubes (red, green, blue) and two place pads (left, right): the
// instruction names which cube goes on which pad ("put the blue cube on the left pad",
// paraphrased), so a policy needs the camera to find the cube and the words to know which.
//   observation (55): pick_place's 35, where object_* and target_pos refer to the named cube and
//     pad (privileged, for the expert), then cube_pos(9: red, green, blue) pad_pos(6: left,
//     right) task(5: one-hot cube, one-hot pad).
//   action, rewards: as pick_place, about the named cube and pad.
//   success (terminates): the named cube was lifted, then rests within kPadRadius of the named
//     pad's centre, not touched by either finger, gripper more than half open, while no other cube
//     has moved more than kDisturbance (horizontally) from where it started.
//   failure (terminates, no success): another cube moved more than kDisturbance.
//   layout: x in [0.3, 0.6]; left pad y in [0.075, 0.2], right pad y in [-0.2, -0.075]; cubes
//     anywhere in y in [-0.2, 0.2], every cube at least 10 cm from every other cube and pad.
class PickPlaceMultiEnv : public PickPlaceEnv {
 public:
  static constexpr const char* kName = "pick_place_multi";
  static constexpr int kCubes = 3;
  static constexpr int kPads = 2;
  static constexpr double kPadRadius = 0.04;
  static constexpr double kDisturbance = 0.02;
  static constexpr double kMinSeparation = 0.10;
  static constexpr std::array<const char*, kCubes> kCubeColours = {"red", "green", "blue"};
  static constexpr std::array<const char*, kPads> kPadSides = {"left", "right"};

  explicit PickPlaceMultiEnv(const sim::EnvOptions& options);

  int named_cube() const { return named_cube_; }
  int named_pad() const { return named_pad_; }
  const double* cube_position(int cube) const;
  const std::array<double, 3>& pad_position(int pad) const {
    return pads_[static_cast<size_t>(pad)];
  }
  // The largest horizontal distance any cube other than the named one has moved since reset.
  double largest_disturbance() const;

 protected:
  void ResetTask(RandomStream* layout) override;
  void ComputeObservation(double* out) const override;
  void EvaluateStep(const double* action, sim::StepResult* result) override;
  std::string MakeInstruction(RandomStream* language) const override;
  bool SuccessAllowed() const override;
  bool Failed() const override { return disturbed_; }

 private:
  void PlaceLayout(RandomStream* layout, double rest_height);

  std::array<int, kCubes> cube_body_{}, cube_qpos_{}, cube_dof_{}, cube_geom_{};
  std::array<int, kPads> pad_mocap_{};
  std::array<std::array<double, 3>, kPads> pads_{};
  std::array<std::array<double, 2>, kCubes> cube_start_{};
  int named_cube_ = 0, named_pad_ = 0;
  bool disturbed_ = false;
  int cubes_obs_ = 0, pads_obs_ = 0, task_obs_ = 0;
};

}  // namespace simscale::envs
