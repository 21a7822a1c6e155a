#pragma once

#include <deque>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "common/envs/policy.h"
#include "common/policies/action_model.h"
#include "common/sim/renderer.h"

namespace simscale::policies {

// Inputs of a checkpoint policy withheld or replaced, to show what it relies on (evaluate's
// ablation flags). The env, its task and its success check are untouched.
struct InputAblation {
  // The instruction becomes one space (an empty text would leave the language encoder nothing
  // to attend).
  bool blank_instruction = false;
  // The instruction of another episode with another task (the next episode, after this one,
  // whose "task" observation differs, or simply the next one in envs without it).
  bool swap_instruction = false;
  std::vector<std::string> blackout_cameras;  // these cameras' images are black

  bool any() const { return blank_instruction || swap_instruction || !blackout_cameras.empty(); }
  // "blank instruction, black agentview"; "none" when nothing is ablated.
  std::string Describe() const;
};

// A trained model acting in an env through its PolicySpec: each step it stacks the named
// observation slices (history frames, the oldest repeating the first at an episode's start, as in
// training), renders the spec's cameras at the recorded size, passes the episode's instruction,
// and executes the first action of the predicted chunk (receding horizon).
class CheckpointPolicy : public envs::Policy {
 public:
  CheckpointPolicy(std::filesystem::path checkpoint, std::unique_ptr<ActionModel> model,
                   sim::GlBackend gl_backend, InputAblation ablation = {});
  // The instruction the model is given this episode (the env's, unless ablated).
  const std::string& instruction() const { return instruction_; }
  // How a predicted chunk becomes the executed action. decay < 0 (the default): receding horizon,
  // the first action of the chunk predicted at this step. decay >= 0: temporal ensembling (ACT,
  // Zhao et al. 2023): the average of every prediction made for this step by the last H chunks,
  // weighted exp(-decay * i) with i = 0 for the oldest; 0 weighs them equally.
  void SetTemporalEnsemble(double decay) { ensemble_decay_ = decay; }
  void Reset(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index) override;
  void Act(const sim::RobotEnv& env, double* action) override;
  std::string name() const override;
  const models::ModelSpec& spec() const { return model_->spec(); }

 private:
  // Resolves the spec against the env (once): slices, sizes, cameras. Throws on a mismatch.
  void Bind(const sim::RobotEnv& env);
  // This episode's instruction for the model, with the ablation applied.
  void ChooseInstruction(const sim::RobotEnv& env, uint64_t seed, uint64_t episode_index);

  std::filesystem::path checkpoint_;
  std::unique_ptr<ActionModel> model_;
  sim::GlBackend gl_backend_;
  bool bound_ = false;
  std::vector<int> offsets_, sizes_;
  int64_t frame_dim_ = 0;
  std::deque<std::vector<float>> frames_;
  std::vector<float> state_;
  std::unique_ptr<sim::Renderer> renderer_;
  std::vector<int> camera_ids_;
  std::vector<sim::CameraImage> images_;  // one per camera, rendered in place
  std::vector<double> chunk_;
  double ensemble_decay_ = -1.0;
  std::deque<std::vector<double>> chunks_;  // temporal ensembling: the last H chunks, newest last
  InputAblation ablation_;
  std::vector<bool> blacked_out_;         // per spec camera
  std::unique_ptr<sim::RobotEnv> donor_;  // another episode's task, for swap_instruction
  std::string instruction_;
};

}  // namespace simscale::policies
