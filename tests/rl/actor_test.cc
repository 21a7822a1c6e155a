// A train_ddp policy as PPO's actor (ppo.init_actor): it takes its own state keys from the env's
// raw observation, its mean is differentiable, and a PPO checkpoint rebuilds it exactly.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/envs/registry.h"
#include "common/models/checkpoint.h"
#include "common/mpi/mpi.h"
#include "common/rl/actor_critic.h"
#include "common/rl/checkpoint.h"

namespace simscale::rl {
namespace {
namespace fs = std::filesystem;

class PolicyActorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("simscale_actor_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    env_ = envs::MakeEnv("reach", {});
    for (const auto& field : env_->observation_spec().fields()) {
      keys_.push_back(field.name);
      sizes_.push_back(field.size());
    }
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A BC policy of reach that reads target_pos then ee_pos (not the env's order), with
  // non-trivial normalisation; saved as a train_ddp checkpoint.
  fs::path SaveBc(const std::string& head = "mlp") {
    models::ModelOptions options;
    options.spec.policy.env = "reach";
    options.spec.policy.state_keys = {"target_pos", "ee_pos"};
    options.spec.state_dim = 6;
    options.spec.action_dim = 4;
    options.head.type = head;
    torch::manual_seed(3);
    auto model = models::MakeModel("bc", options);
    models::NormalizationStats stats;
    stats.state_mean = {0.4, 0.1, 0.3, 0.5, -0.1, 0.2};
    stats.state_std = {0.2, 0.3, 0.1, 0.25, 0.2, 0.15};
    stats.action_mean = {0.01, -0.02, 0.03, -0.2};
    stats.action_std = {0.1, 0.12, 0.09, 0.9};
    model->SetNormalization(stats);
    const fs::path checkpoint = models::CheckpointDirectory(dir_ / "bc", 7);
    models::SaveCheckpoint(checkpoint, *model, nullptr, {});
    return checkpoint;
  }

  fs::path dir_;
  std::unique_ptr<sim::RobotEnv> env_;
  std::vector<std::string> keys_;
  std::vector<int64_t> sizes_;
};

TEST_F(PolicyActorTest, TheMeanIsThePolicysActionOnItsOwnKeys) {
  PolicyActor actor = LoadPolicyActor(SaveBc(), "reach", keys_, sizes_);
  ActorCriticOptions options;
  options.observation_size = env_->observation_spec().size();
  options.action_size = 4;
  options.initial_std = {0.02, 0.024, 0.018, 0.18};
  ActorCritic model(options, actor);
  const torch::Tensor raw = torch::rand({5, options.observation_size});
  const torch::Tensor mean = model->ActionMean(torch::zeros_like(raw), raw);

  // The policy's own input, built by hand from the named slices.
  const auto slice = [&](const char* key) {
    const int offset = env_->observation_spec().Offset(key);
    return raw.slice(1, offset, offset + 3);
  };
  models::Batch batch;
  batch.state = torch::cat({slice("target_pos"), slice("ee_pos")}, 1);
  EXPECT_TRUE(torch::equal(mean, actor.policy->ActionMean(batch).select(1, 0)));
  // What evaluation plays with this policy (Predict clamps to the action bounds: none here).
  EXPECT_TRUE(torch::allclose(mean, actor.policy->Predict(batch).select(1, 0), 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(model->log_std().exp(),
                              torch::tensor({0.02, 0.024, 0.018, 0.18}, torch::kFloat32)));

  // Inputs far outside the demonstrations are clipped to mean +- 10 std of the policy's data.
  torch::Tensor far = raw.clone();
  const int ee = env_->observation_spec().Offset("ee_pos");
  far.select(1, ee).fill_(1000.0);
  torch::Tensor at_clip = raw.clone();
  at_clip.select(1, ee).fill_(0.5 + kPolicyInputClip * 0.25);  // ee_pos[0]: mean 0.5, std 0.25
  {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(model->ActionMean(far, far), model->ActionMean(at_clip, at_clip)));
  }

  // PPO's gradient reaches the policy's parameters.
  mean.sum().backward();
  double grad = 0;
  for (const auto& p : actor.policy->parameters()) {
    if (p.grad().defined()) grad += p.grad().abs().sum().item<double>();
  }
  EXPECT_GT(grad, 0);
}

// The PPO checkpoint carries the actor as a checkpoint of its own and rebuilds the same
// actor-critic: the same means, bit for bit.
TEST_F(PolicyActorTest, APpoCheckpointRebuildsThePolicyActor) {
  PolicyActor actor = LoadPolicyActor(SaveBc(), "reach", keys_, sizes_);
  ActorCriticOptions options;
  options.observation_size = env_->observation_spec().size();
  options.action_size = 4;
  ActorCritic model(options, actor);
  {
    torch::NoGradGuard no_grad;
    for (auto& p : actor.policy->parameters()) p.add_(0.01);  // "fine-tuned"
  }
  ObservationNormalizer observations(options.observation_size, true);
  RewardScaler rewards(1, 0.99, true);
  torch::optim::Adam optimizer(model->parameters());
  TrainingState state;
  state.state.update = 3;
  state.state.env = "reach";
  state.state.observation_keys = keys_;
  state.observations = &observations;
  state.rewards = &rewards;
  const fs::path saved = SaveCheckpoint(dir_ / "ppo", model, optimizer, state);
  ASSERT_TRUE(PolicyActorCheckpoint(saved).has_value());
  EXPECT_TRUE(fs::exists(*PolicyActorCheckpoint(saved) / "meta.yaml"));

  PolicyCheckpoint loaded = LoadPolicyCheckpoint(saved);
  ASSERT_TRUE(loaded.model->policy_actor().policy);
  const torch::Tensor raw = torch::rand({4, options.observation_size});
  torch::NoGradGuard no_grad;
  EXPECT_TRUE(torch::equal(loaded.model->ActionMean(raw, raw), model->ActionMean(raw, raw)));
}

TEST_F(PolicyActorTest, PoliciesThatCannotBeFineTunedAreRefusedByName) {
  const fs::path bc = SaveBc();
  try {
    LoadPolicyActor(bc, "pick_place", keys_, sizes_);
    FAIL() << "a reach policy accepted for pick_place";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("env 'reach'"), std::string::npos) << e.what();
  }
  fs::remove_all(dir_);
  try {
    LoadPolicyActor(SaveBc("diffusion"), "reach", keys_, sizes_);
    FAIL() << "a diffusion head accepted";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("diffusion"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace simscale::rl
