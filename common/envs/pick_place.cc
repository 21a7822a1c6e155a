#include "common/envs/pick_place.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/envs/language.h"
#include "common/sim/assets.h"

namespace simscale::envs {
namespace {

constexpr std::array<double, 3> kHomePosition = {0.4, 0.0, 0.6};
constexpr std::array<double, sim::kArmJoints> kHomeGuess = {0, -0.17, 0, -2.12, 0, 1.19, 0};

int RequireName(const mjModel* model, mjtObj type, const char* name) {
  const int id = mj_name2id(model, type, name);
  SIMSCALE_CHECK(id >= 0, "the pick-and-place scene needs an object named '{}'", name);
  return id;
}

double Norm3(const double* a, const double* b) {
  const double dx = a[0] - b[0], dy = a[1] - b[1], dz = a[2] - b[2];
  return std::sqrt(dx * dx + dy * dy + dz * dz);
}

}  // namespace

PickPlaceEnv::PickPlaceEnv(const sim::EnvOptions& options)
    : PickPlaceEnv(kName, "pick_place.xml", "object", "place_target", options) {}

PickPlaceEnv::PickPlaceEnv(const char* name, const std::string& scene, const char* object_body,
                           const char* target_body, const sim::EnvOptions& options)
    : RobotEnv(name, sim::LoadSharedModel(scene), options) {
  const mjModel* m = model();
  SelectObject(RequireName(m, mjOBJ_BODY, object_body));
  pad_left_ = RequireName(m, mjOBJ_GEOM, "pad_left");
  pad_right_ = RequireName(m, mjOBJ_GEOM, "pad_right");
  table_geom_ = RequireName(m, mjOBJ_GEOM, "table_geom");
  if (target_body != nullptr) {
    target_mocap_ = m->body_mocapid[RequireName(m, mjOBJ_BODY, target_body)];
    SIMSCALE_CHECK(target_mocap_ >= 0, "{} must be a mocap body", target_body);
  }

  ee_obs_ = DeclareObservation("ee_pos", 3, -2, 2);
  gripper_obs_ = DeclareObservation("gripper_state", 2, -1, 1);
  joint_pos_obs_ = DeclareObservation("joint_pos", sim::kArmJoints, -M_PI, M_PI);
  joint_vel_obs_ = DeclareObservation("joint_vel", sim::kArmJoints, -10, 10);
  object_pos_obs_ = DeclareObservation("object_pos", 3, -2, 2);
  object_quat_obs_ = DeclareObservation("object_quat", 4, -1, 1);
  target_obs_ = DeclareObservation("target_pos", 3, -2, 2);
  ee_to_object_obs_ = DeclareObservation("ee_to_object", 3, -2, 2);
  object_to_target_obs_ = DeclareObservation("object_to_target", 3, -2, 2);
  DeclareMetric("reach_distance");
  DeclareMetric("place_distance");
  DeclareMetric("grasped");
  DeclareMetric("lifted");

  const auto home = sim::SolveHandDownPosture(m, arm(), kHomePosition, kHomeGuess);
  SetHomePosture(home);
  sim::DampedLeastSquaresController::Options ik;
  ik.rest_posture = home;
  SetController(std::make_unique<sim::DampedLeastSquaresController>(ik), 0.05);
  SetBinaryGripper(true);

  ee_point_ = reward_context_.AddPoint("ee");
  object_point_ = reward_context_.AddPoint("object");
  target_point_ = reward_context_.AddPoint("target");
  grasped_flag_ = reward_context_.AddFlag("grasped");
  lifted_flag_ = reward_context_.AddFlag("lifted");
  succeeded_flag_ = reward_context_.AddFlag("succeeded");
  if (options.reward == "staged") {
    BuildStagedReward();
  } else if (options.reward == "default") {
    BuildDefaultReward();
  } else {
    throw InvalidArgumentError(
        fmt::format("env '{}': reward '{}' is not one of: default, staged", name, options.reward));
  }
}

void PickPlaceEnv::BuildDefaultReward() {
  using rewards::ConditionalReward;
  using rewards::ConstantReward;
  using rewards::DistanceReward;
  using rewards::SuccessBonus;
  const auto& ctx = reward_context_;
  reward_.Add(std::make_unique<DistanceReward>(ctx, "ee", "object"));
  reward_.Add(
      std::make_unique<ConditionalReward>(ctx, "grasped", std::make_unique<ConstantReward>(1.0)));
  reward_.Add(std::make_unique<ConditionalReward>(
      ctx, "grasped", std::make_unique<SuccessBonus>(ctx, "ee", "object", 0.08, 0.25), false));
  reward_.Add(
      std::make_unique<ConditionalReward>(ctx, "lifted", std::make_unique<ConstantReward>(1.0)));
  reward_.Add(std::make_unique<ConditionalReward>(
      ctx, "lifted", std::make_unique<DistanceReward>(ctx, "object", "target")));
  reward_.Add(std::make_unique<ConditionalReward>(
      ctx, "lifted", std::make_unique<SuccessBonus>(ctx, "object", "target", 0.05, 5.0)));
}

// At most 1 per step before success: reach 0.2 (1 - tanh(10 |ee - object|)), grasped +0.3,
// lifted +0.2 + 0.3 (1 - tanh(10 |object - target|)); success +kStagedSuccessBonus, once, as the
// episode terminates. The bonus is 3 x 1 / (1 - 0.99), three times the discounted value of staying
// in the best non-terminal state forever (what a value function bootstraps on truncation), so
// finishing clearly pays more than hovering: at 1 x, a fine-tuned policy drifted towards holding
// the cube over the target.
void PickPlaceEnv::BuildStagedReward() {
  using rewards::ConditionalReward;
  using rewards::ConstantReward;
  using rewards::ProximityReward;
  const auto& ctx = reward_context_;
  reward_.Add(std::make_unique<ProximityReward>(ctx, "ee", "object", 10.0, 0.2));
  reward_.Add(
      std::make_unique<ConditionalReward>(ctx, "grasped", std::make_unique<ConstantReward>(0.3)));
  reward_.Add(
      std::make_unique<ConditionalReward>(ctx, "lifted", std::make_unique<ConstantReward>(0.2)));
  reward_.Add(std::make_unique<ConditionalReward>(
      ctx, "lifted", std::make_unique<ProximityReward>(ctx, "object", "target", 10.0, 0.3)));
  reward_.Add(std::make_unique<ConditionalReward>(
      ctx, "succeeded", std::make_unique<ConstantReward>(kStagedSuccessBonus)));
}

const double* PickPlaceEnv::object_position() const { return data()->xpos + 3 * object_body_; }

double PickPlaceEnv::object_half_size() const { return model()->geom_size[3 * object_geom_ + 2]; }

void PickPlaceEnv::SelectObject(int body) {
  const mjModel* m = model();
  SIMSCALE_CHECK(m->body_jntnum[body] == 1 && m->jnt_type[m->body_jntadr[body]] == mjJNT_FREE &&
                     m->body_geomnum[body] == 1,
                 "pick-and-place object '{}' needs one free joint and one geom",
                 mj_id2name(m, mjOBJ_BODY, body));
  object_body_ = body;
  object_geom_ = m->body_geomadr[body];
  object_qpos_ = m->jnt_qposadr[m->body_jntadr[body]];
  object_dof_ = m->jnt_dofadr[m->body_jntadr[body]];
}

double PickPlaceEnv::TableTop() const {
  const mjModel* m = model();
  const int table_body = m->geom_bodyid[table_geom_];
  return m->body_pos[3 * table_body + 2] + m->geom_pos[3 * table_geom_ + 2] +
         m->geom_size[3 * table_geom_ + 2];
}

void PickPlaceEnv::ResetTask(RandomStream* layout) {
  mjData* d = mutable_data();
  SIMSCALE_CHECK(target_mocap_ >= 0, "env '{}' has no target marker to place", name());
  // The table may have been moved by randomization; its top stays at the same height.
  const double table_top = TableTop();
  rest_height_ = table_top + object_half_size();
  const double ox = layout->Uniform(0.3, 0.6);
  const double oy = layout->Uniform(-0.2, 0.2);
  double tx = layout->Uniform(0.3, 0.6);
  double ty = layout->Uniform(-0.2, 0.2);
  for (int attempt = 0; attempt < 1000 && std::hypot(tx - ox, ty - oy) < 0.1; ++attempt) {
    tx = layout->Uniform(0.3, 0.6);
    ty = layout->Uniform(-0.2, 0.2);
  }
  double* q = d->qpos + object_qpos_;
  q[0] = ox;
  q[1] = oy;
  q[2] = rest_height_ + 0.0005;  // settles half a millimetre
  q[3] = 1.0;
  q[4] = q[5] = q[6] = 0.0;
  for (int k = 0; k < 6; ++k) d->qvel[object_dof_ + k] = 0.0;
  target_ = {tx, ty, rest_height_};
  d->mocap_pos[3 * target_mocap_] = tx;
  d->mocap_pos[3 * target_mocap_ + 1] = ty;
  d->mocap_pos[3 * target_mocap_ + 2] = table_top + 0.001;
  grasped_ = lifted_ = false;
}

bool PickPlaceEnv::PadsTouchObject() const {
  const mjData* d = data();
  bool left = false, right = false;
  for (int i = 0; i < d->ncon; ++i) {
    const int g1 = d->contact[i].geom1, g2 = d->contact[i].geom2;
    if (g1 != object_geom_ && g2 != object_geom_) continue;
    const int other = g1 == object_geom_ ? g2 : g1;
    left = left || other == pad_left_;
    right = right || other == pad_right_;
  }
  return left && right;
}

bool PickPlaceEnv::FingerPadTouches(int geom) const {
  const mjData* d = data();
  for (int i = 0; i < d->ncon; ++i) {
    const int g1 = d->contact[i].geom1, g2 = d->contact[i].geom2;
    if (g1 != geom && g2 != geom) continue;
    const int other = g1 == geom ? g2 : g1;
    if (other == pad_left_ || other == pad_right_) return true;
  }
  return false;
}

void PickPlaceEnv::ComputeObservation(double* out) const {
  const mjData* d = data();
  const double* ee = ee_position();
  const double* object = object_position();
  std::copy(ee, ee + 3, out + ee_obs_);
  out[gripper_obs_] = finger_opening();
  out[gripper_obs_ + 1] = 0.5 * (d->qvel[arm().finger_dof[0]] + d->qvel[arm().finger_dof[1]]);
  for (int j = 0; j < sim::kArmJoints; ++j) {
    out[joint_pos_obs_ + j] = d->qpos[arm().qpos[j]];
    out[joint_vel_obs_ + j] = d->qvel[arm().dof[j]];
  }
  std::copy(object, object + 3, out + object_pos_obs_);
  std::copy(d->qpos + object_qpos_ + 3, d->qpos + object_qpos_ + 7, out + object_quat_obs_);
  std::copy(target_.begin(), target_.end(), out + target_obs_);
  for (int k = 0; k < 3; ++k) {
    out[ee_to_object_obs_ + k] = object[k] - ee[k];
    out[object_to_target_obs_ + k] = target_[static_cast<size_t>(k)] - object[k];
  }
}

void PickPlaceEnv::EvaluateStep(const double* action, sim::StepResult* result) {
  const double* object = object_position();
  grasped_ = PadsTouchObject();
  if (grasped_ && object[2] > rest_height_ + kLiftHeight) lifted_ = true;
  reward_context_.SetPoint(ee_point_, ee_position());
  reward_context_.SetPoint(object_point_, object);
  reward_context_.SetPoint(target_point_, target_.data());
  const double place = Norm3(object, target_.data());
  result->success = lifted_ && !grasped_ && place < success_distance_ && SuccessAllowed();
  reward_context_.SetFlag(grasped_flag_, grasped_);
  reward_context_.SetFlag(lifted_flag_, lifted_);
  reward_context_.SetFlag(succeeded_flag_, result->success);
  reward_context_.SetAction(action, 4);
  result->reward = reward_.Compute(reward_context_);
  result->terminated = result->success || Failed();
  result->metrics[0] = Norm3(ee_position(), object);
  result->metrics[1] = place;
  result->metrics[2] = grasped_ ? 1.0 : 0.0;
  result->metrics[3] = lifted_ ? 1.0 : 0.0;
}

std::string PickPlaceEnv::MakeInstruction(RandomStream* language) const {
  const double* object = data()->qpos + object_qpos_;
  const std::string object_where = DescribeTableLocation(object[0], object[1]);
  const std::string target_where = DescribeTableLocation(target_[0], target_[1]);
  const std::string direction = DescribeRelativeDirection(object, target_.data());
  switch (ChooseTemplate(language, 4)) {
    case 0:
      return fmt::format("pick up the red cube {} and place it on the green target {}",
                         object_where, target_where);
    case 1:
      return fmt::format("move the red block to the green square {}", direction);
    case 2:
      return fmt::format("grasp the cube {} and put it down on the target {}", object_where,
                         target_where);
    default:
      return fmt::format("lift the red cube and set it on the green marker {}", direction);
  }
}

// ---------------------------------------------------------------------------------------------

namespace {
constexpr double kApproachHeight = 0.12;    // above the grasp point
constexpr double kGraspAboveCenter = 0.01;  // pads span the cube's upper part
constexpr double kLiftBy = 0.10;
constexpr double kFastSpeed = 0.0125;   // m per 50 ms step: 0.25 m/s
constexpr double kSlowSpeed = 0.00625;  // 0.125 m/s
constexpr double kArrivedTolerance = 0.004;
constexpr int kPhaseTimeout = 80;
constexpr double kFeedbackGain = 0.7;
}  // namespace

void PickPlaceExpert::Reset(const sim::RobotEnv& env, uint64_t, uint64_t) {
  const auto& spec = env.observation_spec();
  ee_ = spec.Offset("ee_pos");
  gripper_ = spec.Offset("gripper_state");
  object_ = spec.Offset("object_pos");
  target_ = spec.Offset("target_pos");
  action_scale_ = env.action_scale();
  const double* obs = env.observation();
  setpoint_ = {obs[ee_], obs[ee_ + 1], obs[ee_ + 2]};
  Enter(Phase::kApproach);
}

void PickPlaceExpert::Enter(Phase phase) {
  phase_ = phase;
  phase_steps_ = 0;
  settled_steps_ = 0;
}

bool PickPlaceExpert::MoveToward(const double* ee, const std::array<double, 3>& goal, double speed,
                                 double* action) {
  // Advance the setpoint toward the goal at `speed`.
  double remaining = 0.0;
  for (size_t k = 0; k < 3; ++k) remaining += (goal[k] - setpoint_[k]) * (goal[k] - setpoint_[k]);
  remaining = std::sqrt(remaining);
  const double fraction = remaining > speed ? speed / remaining : 1.0;
  for (size_t k = 0; k < 3; ++k) setpoint_[k] += (goal[k] - setpoint_[k]) * fraction;
  Hold(ee, action);
  double error = 0.0;
  for (int k = 0; k < 3; ++k) {
    const double e = ee[k] - goal[static_cast<size_t>(k)];
    error += e * e;
  }
  const bool arrived = remaining <= speed && std::sqrt(error) < kArrivedTolerance;
  settled_steps_ = arrived ? settled_steps_ + 1 : 0;
  return settled_steps_ >= 1;
}

void PickPlaceExpert::Hold(const double* ee, double* action) const {
  // Feedback on the measured end-effector: the controller's target moves by the remaining error,
  // so disturbances (action noise, contacts) are corrected instead of accumulated.
  for (int k = 0; k < 3; ++k) {
    action[k] = std::clamp(
        kFeedbackGain * (setpoint_[static_cast<size_t>(k)] - ee[k]) / action_scale_, -1.0, 1.0);
  }
}

void PickPlaceExpert::Act(const sim::RobotEnv& env, double* action) {
  const double* obs = env.observation();
  const double* ee = obs + ee_;
  const double* object = obs + object_;
  const double* target = obs + target_;
  const double finger_speed = std::abs(obs[gripper_ + 1]);
  action[0] = action[1] = action[2] = 0.0;
  ++phase_steps_;
  const bool timed_out = phase_steps_ > kPhaseTimeout;
  switch (phase_) {
    case Phase::kApproach: {
      action[3] = 1.0;
      goal_ = {object[0], object[1], object[2] + kGraspAboveCenter + kApproachHeight};
      if (MoveToward(ee, goal_, kFastSpeed, action) || timed_out) Enter(Phase::kDescend);
      break;
    }
    case Phase::kDescend: {
      action[3] = 1.0;
      goal_ = {object[0], object[1], object[2] + kGraspAboveCenter};
      if (MoveToward(ee, goal_, kSlowSpeed, action) || timed_out) Enter(Phase::kClose);
      break;
    }
    case Phase::kClose: {
      action[3] = -1.0;
      Hold(ee, action);
      // Wait at least 8 steps and until the fingers have stopped on the cube.
      if ((phase_steps_ >= 8 && finger_speed < 0.002) || phase_steps_ > 60) {
        for (int k = 0; k < 3; ++k) grasp_offset_[static_cast<size_t>(k)] = ee[k] - object[k];
        goal_ = {setpoint_[0], setpoint_[1], setpoint_[2] + kLiftBy};
        Enter(Phase::kLift);
      }
      break;
    }
    case Phase::kLift: {
      action[3] = -1.0;
      if (MoveToward(ee, goal_, kSlowSpeed, action) || timed_out) Enter(Phase::kCarry);
      break;
    }
    case Phase::kCarry: {
      action[3] = -1.0;
      goal_ = {target[0] + grasp_offset_[0], target[1] + grasp_offset_[1], goal_[2]};
      if (MoveToward(ee, goal_, kFastSpeed, action) || timed_out) Enter(Phase::kLower);
      break;
    }
    case Phase::kLower: {
      action[3] = -1.0;
      goal_ = {target[0] + grasp_offset_[0], target[1] + grasp_offset_[1],
               target[2] + grasp_offset_[2] + 0.002};
      if (MoveToward(ee, goal_, kSlowSpeed, action) || timed_out) Enter(Phase::kOpen);
      break;
    }
    case Phase::kOpen: {
      action[3] = 1.0;
      Hold(ee, action);
      if (phase_steps_ >= 8) {
        goal_ = {setpoint_[0], setpoint_[1], setpoint_[2] + kLiftBy};
        Enter(Phase::kRetreat);
      }
      break;
    }
    case Phase::kRetreat: {
      action[3] = 1.0;
      if (MoveToward(ee, goal_, kFastSpeed, action)) Enter(Phase::kDone);
      break;
    }
    case Phase::kDone:
      action[3] = 1.0;
      break;
  }
}

}  // namespace simscale::envs
