#pragma once

#include <mujoco/mujoco.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/core/random.h"
#include "common/sim/arm_controller.h"
#include "common/sim/mujoco.h"
#include "common/sim/randomization.h"
#include "common/sim/spaces.h"

namespace simscale::sim {

struct EnvOptions {
  int64_t max_episode_steps = 0;  // 0: the task's default
  double control_dt = 0.05;       // 20 Hz
  RandomizationConfig randomization;
  double observation_noise = 0.0;  // std of Gaussian noise added to the state observation
  // The task's reward: "default", or a variant the task offers (pick_place: "staged", for RL).
  std::string reward = "default";
};

// The outcome of one control step. `metrics` follow the task's metric_names().
struct StepResult {
  double reward = 0.0;
  bool terminated = false;  // the task reached a terminal state (success)
  bool truncated = false;   // the episode ended for another reason (time limit, divergence)
  bool success = false;
  bool diverged = false;  // MuJoCo reported bad accelerations or the state became non-finite
  int64_t step = 0;
  std::vector<double> metrics;
  bool done() const { return terminated || truncated; }
};

// Base of every robot-arm env (template method). Reset: reset data -> domain randomization ->
// task reset -> forward -> observation. Step: action -> controller -> substeps (gravity
// compensated) -> observation, reward, termination, truncation. A task implements only the hooks
// below. Each env owns its mjData, random streams and counters; the compiled model is shared per
// process, and copied once per env only when domain randomization needs to change it. Step()
// does not allocate.
class RobotEnv {
 public:
  RobotEnv(std::string name, std::shared_ptr<const mjModel> model, EnvOptions options);
  virtual ~RobotEnv();
  RobotEnv(const RobotEnv&) = delete;
  RobotEnv& operator=(const RobotEnv&) = delete;

  // Starts episode `episode_index` of a run seeded `seed`: task layout, randomization and
  // observation noise each come from their own stream keyed by (seed, episode_index, purpose).
  void Reset(uint64_t seed, uint64_t episode_index);
  // `action` has action_spec().size() values in [-1, 1] (clipped); non-finite values throw.
  const StepResult& Step(const double* action);

  const std::string& name() const { return name_; }
  const VectorSpec& observation_spec() const { return observation_spec_; }
  const VectorSpec& action_spec() const { return action_spec_; }
  const std::vector<std::string>& metric_names() const { return metric_names_; }
  const double* observation() const { return observation_.data(); }
  const StepResult& last_result() const { return result_; }
  // The flattened MuJoCo state (qpos, qvel), for the dataset's `states`.
  int state_size() const { return model_->nq + model_->nv; }
  void CopyPhysicsState(double* out) const;

  // This episode's language instruction, generated from its own task parameters.
  const std::string& instruction() const { return instruction_; }
  const std::vector<AppliedValue>& applied_randomization() const { return applied_; }
  std::vector<std::string> randomization_value_names() const;
  int64_t max_episode_steps() const { return max_episode_steps_; }
  int64_t step_count() const { return result_.step; }
  int substeps() const { return substeps_; }
  // Metres of end-effector motion per unit of the ee_delta action.
  double action_scale() const { return action_scale_; }

  const mjModel* model() const { return model_; }
  const mjData* data() const { return data_.get(); }
  const ArmLayout& arm() const { return arm_; }
  // End-effector (pad centre) position, measured.
  const double* ee_position() const { return data_->site_xpos + 3 * arm_.ee_site; }

 protected:
  // --- hooks for the task ---
  // Places objects and targets for this episode (arm already at home, model randomized).
  virtual void ResetTask(RandomStream* layout) = 0;
  // Writes the observation (observation_spec().size() values) from the current state.
  virtual void ComputeObservation(double* out) const = 0;
  // Fills reward, terminated, success and metrics after the substeps of a control step.
  virtual void EvaluateStep(const double* action, StepResult* result) = 0;
  // The instruction for this episode; `language` picks among paraphrases.
  virtual std::string MakeInstruction(RandomStream* language) const = 0;
  virtual int64_t default_max_episode_steps() const { return 200; }

  // --- for task constructors ---
  int DeclareObservation(const std::string& name, int size, double low, double high);
  void DeclareMetric(const std::string& name);
  void SetController(std::unique_ptr<ArmController> controller, double action_scale);
  // A binary gripper closes (force-limited) for a negative gripper action and opens otherwise,
  // so a learned policy's regressed action near zero cannot leave the fingers half-open.
  void SetBinaryGripper(bool binary) { binary_gripper_ = binary; }
  // Joint configuration the arm starts each episode in.
  void SetHomePosture(const std::array<double, kArmJoints>& q) { home_ = q; }
  mjData* mutable_data() { return data_.get(); }
  double finger_opening() const;  // mean finger joint position / fully open, in [0, 1]

 private:
  void RecomputeSubsteps();
  bool CheckDiverged() const;
  int InstabilityWarnings() const;

  std::string name_;
  std::shared_ptr<const mjModel> shared_model_;
  ModelPtr randomized_model_;       // this env's copy, only when randomization is enabled
  const mjModel* model_ = nullptr;  // the shared model, or randomized_model_
  DataPtr data_;
  EnvOptions options_;
  ArmLayout arm_;
  std::unique_ptr<ArmController> controller_;
  double action_scale_ = 0.05;
  bool binary_gripper_ = false;
  std::optional<Randomizer> randomizer_;
  std::vector<AppliedValue> applied_;
  VectorSpec observation_spec_;
  VectorSpec action_spec_;
  std::vector<std::string> metric_names_;
  std::vector<double> observation_;
  StepResult result_;
  std::array<double, kArmJoints> home_{};
  std::optional<RandomStream> sensor_noise_;
  std::string instruction_;
  int substeps_ = 25;
  int64_t max_episode_steps_ = 200;
  int instability_baseline_ = 0;
};

}  // namespace simscale::sim
