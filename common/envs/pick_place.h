#pragma once

#include <array>

#include "common/envs/policy.h"
#include "common/rewards/rewards.h"
#include "common/sim/robot_env.h"

namespace simscale::envs {

// Grasp a 4 cm cube by friction, lift it and put it down on a target marker on the table.
//   observation (35): ee_pos(3) gripper_state(2: opening in [0,1], finger speed m/s)
//     joint_pos(7) joint_vel(7) object_pos(3) object_quat(4) target_pos(3)
//     ee_to_object(3) object_to_target(3)
//   action: end-effector delta (damped least squares IK, hand kept pointing down, 5 cm per unit)
//     + gripper (negative: close with a 10 N limited grip; otherwise open)
//   reward ("default", the original's): -|ee - object| + (1 if grasped, else 0.25 if
//     |ee - object| < 8 cm) + (1 if lifted) + (if lifted: -|object - target| + 5 if
//     |object - target| < 5 cm). It pays more for hovering near the target than for finishing
//     (success ends the episode): fine for demonstrations, wrong for RL.
//   reward "staged" (EnvOptions::reward, for RL): bounded stages, success pays the most; see
//     BuildStagedReward.
//   grasped: both finger pads touch the cube; lifted: grasped with the cube 3 cm above its rest
//   height (sticky); success (terminates): lifted, then the cube within 3 cm of the target and no
//   longer held.
//   layout: cube x in [0.3, 0.6], y in [-0.2, 0.2]; target likewise, at least 10 cm away.
class PickPlaceEnv : public sim::RobotEnv {
 public:
  static constexpr const char* kName = "pick_place";
  static constexpr double kSuccessDistance = 0.03;
  static constexpr double kLiftHeight = 0.03;
  static constexpr double kStagedSuccessBonus = 300.0;

  explicit PickPlaceEnv(const sim::EnvOptions& options);

  const std::array<double, 3>& target() const { return target_; }
  const double* object_position() const;
  bool grasped() const { return grasped_; }
  bool lifted() const { return lifted_; }
  double object_half_size() const;

 protected:
  // For variants with their own scene (pick_place_multi): `object_body` is the cube the task is
  // about until SelectObject picks another; `target_body` names the mocap target marker moved by
  // this class's ResetTask (nullptr: the variant places its own targets).
  PickPlaceEnv(const char* name, const std::string& scene, const char* object_body,
               const char* target_body, const sim::EnvOptions& options);
  // Makes free body `body` (a cube) the object that observations, reward and success refer to.
  void SelectObject(int body);
  void SetTarget(const std::array<double, 3>& target) { target_ = target; }
  void SetSuccessDistance(double metres) { success_distance_ = metres; }
  // Height of the table top (randomization may move the table, never its height).
  double TableTop() const;
  bool FingerPadTouches(int geom) const;
  // Variants' extra conditions on success (checked with lifted, placed and not held) and a
  // failure that ends the episode.
  virtual bool SuccessAllowed() const { return true; }
  virtual bool Failed() const { return false; }
  // The cube's resting centre height this episode.
  double rest_height() const { return rest_height_; }
  void set_rest_height(double height) { rest_height_ = height; }
  void ResetFlags() { grasped_ = lifted_ = false; }

  void ResetTask(RandomStream* layout) override;
  void ComputeObservation(double* out) const override;
  void EvaluateStep(const double* action, sim::StepResult* result) override;
  std::string MakeInstruction(RandomStream* language) const override;
  int64_t default_max_episode_steps() const override { return 200; }

 private:
  bool PadsTouchObject() const;
  void BuildDefaultReward();
  void BuildStagedReward();

  int object_body_ = -1, object_geom_ = -1, object_qpos_ = -1, object_dof_ = -1;
  int pad_left_ = -1, pad_right_ = -1, table_geom_ = -1, target_mocap_ = -1;
  std::array<double, 3> target_{};
  double rest_height_ = 0.0;
  double success_distance_ = kSuccessDistance;
  bool grasped_ = false;
  bool lifted_ = false;
  int ee_obs_, gripper_obs_, joint_pos_obs_, joint_vel_obs_, object_pos_obs_, object_quat_obs_,
      target_obs_, ee_to_object_obs_, object_to_target_obs_;
  rewards::RewardContext reward_context_;
  rewards::CompositeReward reward_;
  int ee_point_, object_point_, target_point_, grasped_flag_, lifted_flag_, succeeded_flag_;
};

// A state machine that sees only the observation: approach above the cube, descend, close until
// the fingers stop, lift, carry above the target, lower, open. It moves a setpoint toward each
// phase's goal at a bounded speed and drives the measured end-effector onto the setpoint by
// feedback (so action noise and contact disturbances are corrected); a moving phase ends when the
// setpoint has arrived and the end-effector is within 4 mm of it for 2 steps.
class PickPlaceExpert : public Policy {
 public:
  enum class Phase { kApproach, kDescend, kClose, kLift, kCarry, kLower, kOpen, kRetreat, kDone };

  void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) override;
  void Act(const sim::RobotEnv& env, double* action) override;
  std::string name() const override { return "scripted_pick_place"; }
  Phase phase() const { return phase_; }

 private:
  void Enter(Phase phase);
  // Moves the commanded target toward `goal` at `speed` (m per step); true once it has arrived
  // and the measured end-effector has followed.
  bool MoveToward(const double* ee, const std::array<double, 3>& goal, double speed,
                  double* action);
  // Actions that keep the end-effector on the setpoint.
  void Hold(const double* ee, double* action) const;

  Phase phase_ = Phase::kApproach;
  int phase_steps_ = 0;
  int settled_steps_ = 0;
  std::array<double, 3> setpoint_{};  // where the end-effector should be now
  std::array<double, 3> goal_{};
  std::array<double, 3> grasp_offset_{};  // ee - object while holding
  double action_scale_ = 0.05;
  int ee_ = 0, gripper_ = 0, object_ = 0, target_ = 0;
};

}  // namespace simscale::envs
