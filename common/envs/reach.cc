#include "common/envs/reach.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/envs/language.h"
#include "common/sim/assets.h"

namespace simscale::envs {
namespace {

// Start posture: hand down, pad centre at (0.4, 0, 0.6).
constexpr std::array<double, 3> kHomePosition = {0.4, 0.0, 0.6};
constexpr std::array<double, sim::kArmJoints> kHomeGuess = {0, -0.17, 0, -2.12, 0, 1.19, 0};

}  // namespace

ReachEnv::ReachEnv(const sim::EnvOptions& options)
    : RobotEnv(kName, sim::LoadSharedModel("reach.xml"), options) {
  const int body = mj_name2id(model(), mjOBJ_BODY, "target");
  SIMSCALE_CHECK(body >= 0 && model()->body_mocapid[body] >= 0,
                 "reach.xml needs a mocap body named 'target'");
  target_mocap_ = model()->body_mocapid[body];
  ee_obs_ = DeclareObservation("ee_pos", 3, -2, 2);
  joint_pos_obs_ = DeclareObservation("joint_pos", sim::kArmJoints, -M_PI, M_PI);
  joint_vel_obs_ = DeclareObservation("joint_vel", sim::kArmJoints, -10, 10);
  target_obs_ = DeclareObservation("target_pos", 3, -2, 2);
  ee_to_target_obs_ = DeclareObservation("ee_to_target", 3, -2, 2);
  DeclareMetric("distance");
  SetHomePosture(sim::SolveHandDownPosture(model(), arm(), kHomePosition, kHomeGuess));
  SetController(std::make_unique<sim::JacobianTransposeController>(), 0.05);

  if (options.reward != "default") {
    throw InvalidArgumentError(
        fmt::format("env 'reach': reward '{}' is not one of: default", options.reward));
  }
  ee_point_ = reward_context_.AddPoint("ee");
  target_point_ = reward_context_.AddPoint("target");
  reward_.Add(std::make_unique<rewards::DistanceReward>(reward_context_, "ee", "target"));
  reward_.Add(std::make_unique<rewards::SuccessBonus>(reward_context_, "ee", "target",
                                                      kSuccessDistance, 1.0));
}

void ReachEnv::ResetTask(RandomStream* layout) {
  target_ = {layout->Uniform(0.3, 0.7), layout->Uniform(-0.3, 0.3), layout->Uniform(0.45, 0.75)};
  mjData* d = mutable_data();
  for (int k = 0; k < 3; ++k) d->mocap_pos[3 * target_mocap_ + k] = target_[static_cast<size_t>(k)];
}

void ReachEnv::ComputeObservation(double* out) const {
  const mjData* d = data();
  std::copy(ee_position(), ee_position() + 3, out + ee_obs_);
  for (int j = 0; j < sim::kArmJoints; ++j) {
    out[joint_pos_obs_ + j] = d->qpos[arm().qpos[j]];
    out[joint_vel_obs_ + j] = d->qvel[arm().dof[j]];
  }
  std::copy(target_.begin(), target_.end(), out + target_obs_);
  for (int k = 0; k < 3; ++k) {
    out[ee_to_target_obs_ + k] = target_[static_cast<size_t>(k)] - ee_position()[k];
  }
}

void ReachEnv::EvaluateStep(const double* action, sim::StepResult* result) {
  reward_context_.SetPoint(ee_point_, ee_position());
  reward_context_.SetPoint(target_point_, target_.data());
  reward_context_.SetAction(action, 4);
  const double distance =
      rewards::Distance(reward_context_.point(ee_point_), reward_context_.point(target_point_));
  result->reward = reward_.Compute(reward_context_);
  result->terminated = distance < kTerminateDistance;
  result->success = distance < kSuccessDistance;
  result->metrics[0] = distance;
}

std::string ReachEnv::MakeInstruction(RandomStream* language) const {
  const std::string where = DescribeTableLocation(target_[0], target_[1]);
  const std::string height = target_[2] > 0.65 ? "high up" : (target_[2] < 0.52 ? "low" : "");
  const std::string place = height.empty() ? where : where + ", " + height;
  switch (ChooseTemplate(language, 4)) {
    case 0:
      return fmt::format("reach the green ball {}", place);
    case 1:
      return fmt::format("move the gripper to the target {}", place);
    case 2:
      return fmt::format("touch the green sphere {}", place);
    default:
      return fmt::format("bring the hand to the green marker {}", place);
  }
}

void ReachExpert::Reset(const sim::RobotEnv& env, uint64_t, uint64_t) {
  ee_ = env.observation_spec().Offset("ee_pos");
  target_ = env.observation_spec().Offset("target_pos");
}

void ReachExpert::Act(const sim::RobotEnv& env, double* action) {
  const double* obs = env.observation();
  for (int k = 0; k < 3; ++k) {
    action[k] = std::clamp(10.0 * (obs[target_ + k] - obs[ee_ + k]), -0.5, 0.5);
  }
  action[3] = 0.0;
}

}  // namespace simscale::envs
