#pragma once

#include <mujoco/mujoco.h>

#include <string>
#include <utility>
#include <vector>

#include "common/core/random.h"

namespace simscale::sim {

struct ScaleRange {
  double low = 1.0;
  double high = 1.0;
};

// Which model parameters domain randomization changes per episode, and by how much. Every change is
// relative to the compiled (nominal) model, never to the previous episode's values.
struct RandomizationConfig {
  bool lighting = false;
  double light_direction_noise = 1.0;  // added to each light's nominal direction, renormalised
  ScaleRange light_diffuse_scale{0.4, 1.25};
  bool camera = false;
  double camera_position_noise = 0.05;  // metres, per axis (a fifth for cameras on the arm)
  double camera_fovy_noise = 10.0;      // degrees for a 60-degree camera, in proportion for others
  bool materials = false;
  double color_noise = 0.15;  // per RGB channel, added then clipped to [0, 1]
  bool friction = false;
  ScaleRange friction_scale{0.7, 1.3};
  bool mass = false;
  ScaleRange mass_scale{0.5, 2.0};  // free (manipulated) bodies
  bool damping = false;
  ScaleRange damping_scale{0.8, 1.2};  // joint damping, per DOF group
  bool gains = false;
  ScaleRange gain_scale{0.8, 1.2};  // kp and kv together: a stiffer or softer servo
  bool object_size = false;
  ScaleRange size_scale{0.7, 1.5};  // free bodies; mass and inertia follow (density kept)
  bool table = false;
  double table_position_noise = 0.02;  // metres in x and y
  bool gravity = false;
  double gravity_noise = 0.5;  // m/s^2 on z
  bool timestep = false;
  ScaleRange timestep_scale{0.8, 1.2};  // the env recomputes its substeps

  bool any() const;
};

// Named conditions: presets "clean", "light", "default", "heavy" and single-parameter switches
// ("friction", "mass", "damping", "gains", "object_size", "lighting", "gravity", "camera",
// "materials", "table", "timestep"): clean plus one group with the ablation range.
RandomizationConfig RandomizationCondition(const std::string& name);
std::vector<std::string> RandomizationConditionNames();

// A value domain randomization applied in one episode ("friction.object" = 1.13).
struct AppliedValue {
  std::string name;
  double value = 0.0;
};

// Applies a RandomizationConfig to an env's own copy of the model. Nominal values come from the
// shared, compiled model. All draws are made in a fixed order whatever is enabled, so one episode
// gets the same friction in the "friction" condition as in "default".
class Randomizer {
 public:
  Randomizer(const mjModel* nominal, RandomizationConfig config);

  // Restores `model` to nominal, then applies this episode's draws from `stream`. Returns the
  // applied values (the enabled groups only). `model` must be a copy of the nominal model.
  const std::vector<AppliedValue>& Apply(RandomStream* stream, mjModel* model);
  // The names Apply() reports, in order (fixed for a config and model).
  std::vector<std::string> ValueNames() const;
  const RandomizationConfig& config() const { return config_; }

 private:
  void RestoreNominal(mjModel* model) const;
  // One per group, in Apply's draw order.
  void ApplyLighting(RandomStream* stream, mjModel* m);
  void ApplyCameras(RandomStream* stream, mjModel* m);
  void ApplyMaterials(RandomStream* stream, mjModel* m);
  void ApplyFriction(RandomStream* stream, mjModel* m);
  void ApplyDamping(RandomStream* stream, mjModel* m);
  void ApplyGains(RandomStream* stream, mjModel* m);
  void ApplyMassAndSize(RandomStream* stream, double mass_scale, mjModel* m);
  void ApplyTable(RandomStream* stream, mjModel* m);
  void ApplyGravity(RandomStream* stream, mjModel* m);
  void ApplyTimestep(RandomStream* stream, mjModel* m);
  void Report(const char* name, double value);

  const mjModel* nominal_;
  RandomizationConfig config_;
  std::vector<int> object_bodies_;  // bodies with a free joint
  std::vector<int> object_geoms_;
  std::vector<int> finger_geoms_;
  std::vector<int> table_geoms_;
  std::vector<int> arm_dofs_;
  std::vector<int> finger_dofs_;
  std::vector<int> arm_actuators_;
  std::vector<int> gripper_actuators_;
  int table_body_ = -1;
  std::vector<AppliedValue> applied_;
};

}  // namespace simscale::sim
