#include "common/sim/robot_env.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace simscale::sim {

RobotEnv::RobotEnv(std::string name, std::shared_ptr<const mjModel> model, EnvOptions options)
    : name_(std::move(name)), shared_model_(std::move(model)), options_(std::move(options)) {
  SIMSCALE_CHECK(shared_model_ != nullptr, "env '{}' constructed without a model", name_);
  CheckArgument(options_.control_dt > 0, "env control_dt", options_.control_dt, "a positive time");
  CheckArgument(options_.observation_noise >= 0, "env observation_noise",
                options_.observation_noise, "a non-negative standard deviation");
  CheckArgument(options_.max_episode_steps >= 0, "env max_episode_steps",
                options_.max_episode_steps, "0 (task default) or a positive step count");
  model_ = shared_model_.get();
  if (options_.randomization.any()) {
    randomized_model_.reset(mj_copyModel(nullptr, shared_model_.get()));
    if (!randomized_model_) throw MujocoError("mj_copyModel failed (out of memory?)");
    model_ = randomized_model_.get();
    randomizer_.emplace(shared_model_.get(), options_.randomization);
  }
  data_ = MakeData(model_);
  arm_ = ArmLayout::Find(model_);
  action_spec_.Add("ee_delta", 3, -1.0, 1.0);
  action_spec_.Add("gripper", 1, -1.0, 1.0);
  RecomputeSubsteps();
}

RobotEnv::~RobotEnv() = default;

int RobotEnv::DeclareObservation(const std::string& name, int size, double low, double high) {
  const int offset = observation_spec_.Add(name, size, low, high);
  observation_.assign(static_cast<size_t>(observation_spec_.size()), 0.0);
  return offset;
}

void RobotEnv::DeclareMetric(const std::string& name) {
  metric_names_.push_back(name);
  result_.metrics.assign(metric_names_.size(), 0.0);
}

void RobotEnv::SetController(std::unique_ptr<ArmController> controller, double action_scale) {
  controller_ = std::move(controller);
  action_scale_ = action_scale;
}

std::vector<std::string> RobotEnv::randomization_value_names() const {
  return randomizer_ ? randomizer_->ValueNames() : std::vector<std::string>{};
}

void RobotEnv::RecomputeSubsteps() {
  substeps_ =
      std::max(1, static_cast<int>(std::lround(options_.control_dt / model_->opt.timestep)));
}

double RobotEnv::finger_opening() const {
  const double q = data_->qpos[arm_.finger_qpos[0]] + data_->qpos[arm_.finger_qpos[1]];
  return q / (2.0 * arm_.finger_open);
}

void RobotEnv::CopyPhysicsState(double* out) const {
  std::copy(data_->qpos, data_->qpos + model_->nq, out);
  std::copy(data_->qvel, data_->qvel + model_->nv, out + model_->nq);
}

void RobotEnv::Reset(uint64_t seed, uint64_t episode_index) {
  SIMSCALE_CHECK(controller_ != nullptr, "env '{}' has no controller", name_);
  max_episode_steps_ =
      options_.max_episode_steps > 0 ? options_.max_episode_steps : default_max_episode_steps();
  mj_resetData(model_, data_.get());
  applied_.clear();
  if (randomizer_) {
    RandomStream dr(seed, episode_index, StreamPurpose::kDomainRandomization);
    applied_ = randomizer_->Apply(&dr, randomized_model_.get());
    RecomputeSubsteps();
  }
  for (int j = 0; j < kArmJoints; ++j) {
    data_->qpos[arm_.qpos[j]] = home_[static_cast<size_t>(j)];
    data_->ctrl[arm_.actuator[j]] = home_[static_cast<size_t>(j)];
  }
  for (int f = 0; f < 2; ++f) {
    data_->qpos[arm_.finger_qpos[f]] = arm_.finger_open;
    data_->ctrl[arm_.finger_actuator[f]] = arm_.finger_open;
  }
  controller_->Reset(model_, arm_, home_.data());
  RandomStream layout(seed, episode_index, StreamPurpose::kTaskLayout);
  ResetTask(&layout);
  mj_forward(model_, data_.get());
  instability_baseline_ = InstabilityWarnings();

  result_.reward = 0.0;
  result_.terminated = result_.truncated = result_.success = result_.diverged = false;
  result_.step = 0;
  std::fill(result_.metrics.begin(), result_.metrics.end(), 0.0);

  sensor_noise_.reset();
  if (options_.observation_noise > 0) {
    sensor_noise_.emplace(seed, episode_index, StreamPurpose::kSensorNoise);
  }
  ComputeObservation(observation_.data());
  if (sensor_noise_) {
    for (double& x : observation_) x += options_.observation_noise * sensor_noise_->Normal();
  }
  RandomStream language(seed, episode_index, StreamPurpose::kLanguage);
  instruction_ = MakeInstruction(&language);
}

int RobotEnv::InstabilityWarnings() const {
  // MuJoCo resets the state (silently, apart from these counters) when it finds non-finite
  // positions, velocities or accelerations.
  return data_->warning[mjWARN_BADQPOS].number + data_->warning[mjWARN_BADQVEL].number +
         data_->warning[mjWARN_BADQACC].number;
}

bool RobotEnv::CheckDiverged() const {
  if (InstabilityWarnings() != instability_baseline_) return true;
  for (int i = 0; i < model_->nq; ++i) {
    if (!std::isfinite(data_->qpos[i])) return true;
  }
  return false;
}

const StepResult& RobotEnv::Step(const double* action) {
  SIMSCALE_CHECK(result_.step >= 0 && max_episode_steps_ > 0, "env '{}' stepped before Reset",
                 name_);
  double a[4];
  for (int i = 0; i < 4; ++i) {
    if (!std::isfinite(action[i])) {
      throw InvalidArgumentError(fmt::format(
          "env '{}' action[{}]: expected a finite number in [-1, 1], got {}", name_, i, action[i]));
    }
    a[i] = std::clamp(action[i], -1.0, 1.0);
  }
  const double delta[3] = {action_scale_ * a[0], action_scale_ * a[1], action_scale_ * a[2]};
  controller_->Update(model_, arm_, delta);
  const auto& q_target = controller_->joint_target();
  for (int j = 0; j < kArmJoints; ++j)
    data_->ctrl[arm_.actuator[j]] = q_target[static_cast<size_t>(j)];
  // Binary grippers close on a negative command and open otherwise; continuous ones map [-1, 1]
  // linearly onto [closed, open].
  const double opening = binary_gripper_ ? (a[3] < 0.0 ? 0.0 : 1.0) : 0.5 * (a[3] + 1.0);
  const double finger = arm_.finger_open * opening;
  data_->ctrl[arm_.finger_actuator[0]] = finger;
  data_->ctrl[arm_.finger_actuator[1]] = finger;

  bool diverged = false;
  for (int s = 0; s < substeps_ && !diverged; ++s) {
    mj_step1(model_, data_.get());
    CompensateArmBias(arm_, data_.get());
    mj_step2(model_, data_.get());
    diverged = CheckDiverged();
  }
  // Positions of bodies, sites and cameras for the new state (mj_step leaves them one substep
  // behind qpos).
  mj_kinematics(model_, data_.get());
  mj_comPos(model_, data_.get());
  mj_camlight(model_, data_.get());

  ++result_.step;
  ComputeObservation(observation_.data());
  if (sensor_noise_) {
    for (double& x : observation_) x += options_.observation_noise * sensor_noise_->Normal();
  }
  result_.terminated = result_.success = false;
  EvaluateStep(a, &result_);
  result_.diverged = diverged;
  result_.truncated = result_.step >= max_episode_steps_;
  if (diverged) {
    result_.terminated = false;
    result_.success = false;
    result_.truncated = true;
  }
  return result_;
}

}  // namespace simscale::sim
