#pragma once

#include <array>

#include "common/envs/policy.h"
#include "common/rewards/rewards.h"
#include "common/sim/robot_env.h"

namespace simscale::envs {

// Move the pad centre of the gripper to a target sphere above the table.
//   observation: ee_pos(3) joint_pos(7) joint_vel(7) target_pos(3) (the original's 20) and
//     ee_to_target(3) = target - ee (learned policies need this difference precisely)
//   action: end-effector delta (Jacobian-transpose IK, 5 cm per unit) + gripper (unused)
//   reward: -|ee - target| + 1 if |ee - target| < 5 cm; terminated below 2 cm; success below 5 cm
//   target: x in [0.3, 0.7], y in [-0.3, 0.3], z in [0.45, 0.75] (above the table, reachable)
class ReachEnv : public sim::RobotEnv {
 public:
  static constexpr const char* kName = "reach";
  static constexpr double kSuccessDistance = 0.05;
  static constexpr double kTerminateDistance = 0.02;

  explicit ReachEnv(const sim::EnvOptions& options);
  const std::array<double, 3>& target() const { return target_; }

 protected:
  void ResetTask(RandomStream* layout) override;
  void ComputeObservation(double* out) const override;
  void EvaluateStep(const double* action, sim::StepResult* result) override;
  std::string MakeInstruction(RandomStream* language) const override;

 private:
  int target_mocap_ = -1;
  std::array<double, 3> target_{};
  int ee_obs_, joint_pos_obs_, joint_vel_obs_, target_obs_, ee_to_target_obs_;
  rewards::RewardContext reward_context_;
  rewards::CompositeReward reward_;
  int ee_point_, target_point_;
};

// Proportional move toward the target, speed-limited.
class ReachExpert : public Policy {
 public:
  void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) override;
  void Act(const sim::RobotEnv& env, double* action) override;
  std::string name() const override { return "scripted_reach"; }

 private:
  int ee_ = 0, target_ = 0;
};

}  // namespace simscale::envs
