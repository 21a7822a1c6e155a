#pragma once

#include <mujoco/mujoco.h>

#include <array>
#include <memory>
#include <vector>

namespace simscale::sim {

inline constexpr int kArmJoints = 7;

// Where the arm lives in a compiled model: found by name once (j1..j7, finger_left/right, their
// act_* actuators, ee_site). Throws MujocoError naming anything missing.
struct ArmLayout {
  std::array<int, kArmJoints> qpos{};      // qpos address of each arm joint
  std::array<int, kArmJoints> dof{};       // dof address of each arm joint
  std::array<int, kArmJoints> actuator{};  // actuator driving each arm joint
  std::array<double, kArmJoints> lower{};  // joint limits
  std::array<double, kArmJoints> upper{};
  std::array<int, 2> finger_qpos{};
  std::array<int, 2> finger_dof{};
  std::array<int, 2> finger_actuator{};
  double finger_open = 0.04;  // finger joint upper limit: fully open
  int ee_site = -1;
  int hand_body = -1;

  static ArmLayout Find(const mjModel* model);
};

// Cancels gravity and Coriolis forces on the arm joints: call between mj_step1 and mj_step2, so the
// joint PD servos only have to track, and a zero action leaves the arm where it is. (MuJoCo 2.2.2
// has no gravcomp attribute.)
void CompensateArmBias(const ArmLayout& arm, mjData* data);

// Maps an end-effector displacement command to the arm's joint-space target. Both implementations
// keep a persistent joint target (clipped to the joint limits) that the PD servos track; the IK
// works on a scratch mjData so the simulation state is never touched.
class ArmController {
 public:
  virtual ~ArmController() = default;
  // Starts from joint configuration `q` (the arm's current target).
  virtual void Reset(const mjModel* model, const ArmLayout& arm, const double* q) = 0;
  // Moves the target by `delta` (metres, world frame, already scaled).
  virtual void Update(const mjModel* model, const ArmLayout& arm, const double delta[3]) = 0;
  const std::array<double, kArmJoints>& joint_target() const { return q_target_; }

 protected:
  std::array<double, kArmJoints> q_target_{};
};

// q_target += J^T * delta, with J the translational Jacobian of the end-effector at q_target.
// Orientation is free. (The reach task's controller, as in the original.)
class JacobianTransposeController : public ArmController {
 public:
  explicit JacobianTransposeController(double gain = 1.0) : gain_(gain) {}
  void Reset(const mjModel* model, const ArmLayout& arm, const double* q) override;
  void Update(const mjModel* model, const ArmLayout& arm, const double delta[3]) override;

 private:
  double gain_;
  struct DataDeleter {
    void operator()(mjData* d) const { mj_deleteData(d); }
  };
  std::unique_ptr<mjData, DataDeleter> scratch_;
  std::vector<mjtNum> jacp_;  // 3 x nv, allocated once
};

// Damped least squares on a persistent Cartesian target (position + a fixed hand-down
// orientation, 6-D), with a null-space pull toward a rest posture. delta moves the Cartesian
// target, which is kept inside a workspace box; each update iterates DLS from the previous
// joint target until the pose error is small.
class DampedLeastSquaresController : public ArmController {
 public:
  struct Options {
    double damping = 0.01;  // lambda
    int max_iterations = 10;
    double position_tolerance = 1e-4;
    double orientation_tolerance = 1e-3;
    double max_joint_step = 0.2;  // rad per iteration
    double nullspace_gain = 0.05;
    double limit_margin = 0.01;  // rad kept inside the joint limits
    std::array<double, 3> workspace_low = {0.15, -0.45, 0.428};
    std::array<double, 3> workspace_high = {0.85, 0.45, 0.90};
    std::array<double, kArmJoints> rest_posture{};
  };
  explicit DampedLeastSquaresController(Options options);
  void Reset(const mjModel* model, const ArmLayout& arm, const double* q) override;
  void Update(const mjModel* model, const ArmLayout& arm, const double delta[3]) override;
  // Solves for a joint configuration placing the end-effector at `position`, hand down,
  // starting from `q`; returns the remaining position error (m).
  double Solve(const mjModel* model, const ArmLayout& arm, const double position[3],
               std::array<double, kArmJoints>* q);
  const std::array<double, 3>& cartesian_target() const { return target_; }

 private:
  void Prepare(const mjModel* model);

  Options options_;
  std::array<double, 3> target_{};
  struct DataDeleter {
    void operator()(mjData* d) const { mj_deleteData(d); }
  };
  std::unique_ptr<mjData, DataDeleter> scratch_;
  std::vector<mjtNum> jacp_, jacr_;  // 3 x nv each, allocated once
};

// The joint configuration that puts the end-effector at `position` with the hand pointing down
// (fingers along world y), found by damped least squares from `guess`. Throws MujocoError if the
// pose is not reached within 1 mm.
std::array<double, kArmJoints> SolveHandDownPosture(const mjModel* model, const ArmLayout& arm,
                                                    const std::array<double, 3>& position,
                                                    const std::array<double, kArmJoints>& guess);

}  // namespace simscale::sim
