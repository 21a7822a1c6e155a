#include "common/sim/arm_controller.h"

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/sim/mujoco.h"

namespace simscale::sim {
namespace {

int RequireId(const mjModel* model, mjtObj type, const std::string& name, const char* what) {
  const int id = mj_name2id(model, type, name.c_str());
  if (id < 0) {
    throw MujocoError(
        fmt::format("the model has no {} named '{}' (an arm scene needs j1..j7, "
                    "finger_left/right, act_j1..act_j7, act_finger_left/right and "
                    "ee_site)",
                    what, name));
  }
  return id;
}

// Positions the scratch data at the arm configuration `q` and computes kinematics + Jacobians.
void Kinematics(const mjModel* model, const ArmLayout& arm, const double* q, mjData* scratch) {
  for (int j = 0; j < kArmJoints; ++j) scratch->qpos[arm.qpos[j]] = q[j];
  mj_kinematics(model, scratch);
  mj_comPos(model, scratch);
}

void ClampToLimits(const ArmLayout& arm, double margin, double* q) {
  for (int j = 0; j < kArmJoints; ++j) {
    q[j] = std::clamp(q[j], arm.lower[j] + margin, arm.upper[j] - margin);
  }
}

}  // namespace

ArmLayout ArmLayout::Find(const mjModel* model) {
  ArmLayout arm;
  for (int j = 0; j < kArmJoints; ++j) {
    const std::string name = fmt::format("j{}", j + 1);
    const int joint = RequireId(model, mjOBJ_JOINT, name, "joint");
    arm.qpos[j] = model->jnt_qposadr[joint];
    arm.dof[j] = model->jnt_dofadr[joint];
    arm.lower[j] = model->jnt_range[2 * joint];
    arm.upper[j] = model->jnt_range[2 * joint + 1];
    arm.actuator[j] = RequireId(model, mjOBJ_ACTUATOR, "act_" + name, "actuator");
  }
  const char* fingers[2] = {"finger_left", "finger_right"};
  for (int f = 0; f < 2; ++f) {
    const int joint = RequireId(model, mjOBJ_JOINT, fingers[f], "joint");
    arm.finger_qpos[f] = model->jnt_qposadr[joint];
    arm.finger_dof[f] = model->jnt_dofadr[joint];
    arm.finger_open = model->jnt_range[2 * joint + 1];
    arm.finger_actuator[f] =
        RequireId(model, mjOBJ_ACTUATOR, std::string("act_") + fingers[f], "actuator");
  }
  arm.ee_site = RequireId(model, mjOBJ_SITE, "ee_site", "site");
  arm.hand_body = RequireId(model, mjOBJ_BODY, "hand", "body");
  return arm;
}

void CompensateArmBias(const ArmLayout& arm, mjData* data) {
  for (int j = 0; j < kArmJoints; ++j) data->qfrc_applied[arm.dof[j]] = data->qfrc_bias[arm.dof[j]];
}

// ---------------------------------------------------------------------------------------------

void JacobianTransposeController::Reset(const mjModel* model, const ArmLayout& /*arm*/,
                                        const double* q) {
  if (!scratch_) scratch_.reset(MakeData(model).release());
  jacp_.assign(static_cast<size_t>(3 * model->nv), 0.0);
  std::copy(q, q + kArmJoints, q_target_.begin());
}

void JacobianTransposeController::Update(const mjModel* model, const ArmLayout& arm,
                                         const double delta[3]) {
  Kinematics(model, arm, q_target_.data(), scratch_.get());
  mj_jacSite(model, scratch_.get(), jacp_.data(), nullptr, arm.ee_site);
  for (int j = 0; j < kArmJoints; ++j) {
    double dq = 0.0;
    for (int r = 0; r < 3; ++r)
      dq += jacp_[static_cast<size_t>(r * model->nv + arm.dof[j])] * delta[r];
    q_target_[static_cast<size_t>(j)] += gain_ * dq;
  }
  ClampToLimits(arm, 0.0, q_target_.data());
}

// ---------------------------------------------------------------------------------------------

DampedLeastSquaresController::DampedLeastSquaresController(Options options)
    : options_(std::move(options)) {}

void DampedLeastSquaresController::Prepare(const mjModel* model) {
  if (!scratch_) scratch_.reset(MakeData(model).release());
  jacp_.resize(static_cast<size_t>(3 * model->nv));
  jacr_.resize(static_cast<size_t>(3 * model->nv));
}

void DampedLeastSquaresController::Reset(const mjModel* model, const ArmLayout& arm,
                                         const double* q) {
  Prepare(model);
  std::copy(q, q + kArmJoints, q_target_.begin());
  Kinematics(model, arm, q_target_.data(), scratch_.get());
  for (int i = 0; i < 3; ++i)
    target_[static_cast<size_t>(i)] = scratch_->site_xpos[3 * arm.ee_site + i];
}

void DampedLeastSquaresController::Update(const mjModel* model, const ArmLayout& arm,
                                          const double delta[3]) {
  for (size_t i = 0; i < 3; ++i) {
    target_[i] =
        std::clamp(target_[i] + delta[i], options_.workspace_low[i], options_.workspace_high[i]);
  }
  Solve(model, arm, target_.data(), &q_target_);
}

// long function: one damped-least-squares solve (Jacobian, damped inverse, null-space pull,
// joint clipping) on shared scratch arrays; the steps only make sense together.
double DampedLeastSquaresController::Solve(const mjModel* model, const ArmLayout& arm,
                                           const double position[3],
                                           std::array<double, kArmJoints>* q_io) {
  if (jacp_.size() != static_cast<size_t>(3 * model->nv)) Prepare(model);
  mjData* d = scratch_.get();
  double* q = q_io->data();
  const int nv = model->nv;
  double jac[6][kArmJoints];
  double error[6];
  double position_error = 0.0;
  // Desired hand frame: z down, fingers sliding along world y (a rotation of pi about y).
  static constexpr double kDesired[3][3] = {{-1, 0, 0}, {0, 1, 0}, {0, 0, -1}};  // columns
  for (int iteration = 0; iteration <= options_.max_iterations; ++iteration) {
    Kinematics(model, arm, q, d);
    const mjtNum* x = d->site_xpos + 3 * arm.ee_site;
    const mjtNum* r = d->site_xmat + 9 * arm.ee_site;  // row-major; column k = axis k
    for (int i = 0; i < 3; ++i) error[i] = position[i] - x[i];
    for (int i = 0; i < 3; ++i) error[3 + i] = 0.0;
    for (int k = 0; k < 3; ++k) {
      const double axis[3] = {r[0 + k], r[3 + k], r[6 + k]};
      const double* want = kDesired[k];
      error[3] += 0.5 * (axis[1] * want[2] - axis[2] * want[1]);
      error[4] += 0.5 * (axis[2] * want[0] - axis[0] * want[2]);
      error[5] += 0.5 * (axis[0] * want[1] - axis[1] * want[0]);
    }
    position_error = std::sqrt(error[0] * error[0] + error[1] * error[1] + error[2] * error[2]);
    const double orientation_error =
        std::sqrt(error[3] * error[3] + error[4] * error[4] + error[5] * error[5]);
    if (iteration == options_.max_iterations ||
        (position_error < options_.position_tolerance &&
         orientation_error < options_.orientation_tolerance)) {
      break;
    }
    mj_jacSite(model, d, jacp_.data(), jacr_.data(), arm.ee_site);
    for (int j = 0; j < kArmJoints; ++j) {
      for (int row = 0; row < 3; ++row) {
        jac[row][j] = jacp_[static_cast<size_t>(row * nv + arm.dof[j])];
        jac[3 + row][j] = jacr_[static_cast<size_t>(row * nv + arm.dof[j])];
      }
    }
    // A = J J^T + lambda^2 I, Cholesky-factored once per iteration.
    mjtNum a[36];
    for (int i = 0; i < 6; ++i) {
      for (int k = 0; k < 6; ++k) {
        double s = 0.0;
        for (int j = 0; j < kArmJoints; ++j) s += jac[i][j] * jac[k][j];
        a[i * 6 + k] = s + (i == k ? options_.damping * options_.damping : 0.0);
      }
    }
    mju_cholFactor(a, 6, 1e-12);
    mjtNum y[6];
    mju_cholSolve(y, a, error, 6);
    double dq[kArmJoints];
    for (int j = 0; j < kArmJoints; ++j) {
      dq[j] = 0.0;
      for (int i = 0; i < 6; ++i) dq[j] += jac[i][j] * y[i];
    }
    // Null-space pull toward the rest posture: v - J^+ J v.
    double v[kArmJoints];
    for (int j = 0; j < kArmJoints; ++j) {
      v[j] = options_.nullspace_gain * (options_.rest_posture[static_cast<size_t>(j)] - q[j]);
    }
    mjtNum jv[6], w[6];
    for (int i = 0; i < 6; ++i) {
      jv[i] = 0.0;
      for (int j = 0; j < kArmJoints; ++j) jv[i] += jac[i][j] * v[j];
    }
    mju_cholSolve(w, a, jv, 6);
    double largest = 0.0;
    for (int j = 0; j < kArmJoints; ++j) {
      double projected = v[j];
      for (int i = 0; i < 6; ++i) projected -= jac[i][j] * w[i];
      dq[j] += projected;
      largest = std::max(largest, std::abs(dq[j]));
    }
    const double scale =
        largest > options_.max_joint_step ? options_.max_joint_step / largest : 1.0;
    for (int j = 0; j < kArmJoints; ++j) q[j] += scale * dq[j];
    ClampToLimits(arm, options_.limit_margin, q);
  }
  return position_error;
}

std::array<double, kArmJoints> SolveHandDownPosture(const mjModel* model, const ArmLayout& arm,
                                                    const std::array<double, 3>& position,
                                                    const std::array<double, kArmJoints>& guess) {
  DampedLeastSquaresController::Options options;
  options.max_iterations = 200;
  options.nullspace_gain = 0.0;
  options.damping = 0.05;
  DampedLeastSquaresController solver(options);
  std::array<double, kArmJoints> q = guess;
  const double error = solver.Solve(model, arm, position.data(), &q);
  if (!(error < 1e-3)) {
    throw MujocoError(fmt::format("no hand-down arm posture reaches ({}, {}, {}): {:.4f} m short",
                                  position[0], position[1], position[2], error));
  }
  return q;
}

}  // namespace simscale::sim
