// The policy contract: PolicySpec's YAML, checkpoints of format 1 and 2, and the factory.
#include <gtest/gtest.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/envs/registry.h"
#include "common/models/checkpoint.h"
#include "common/policies/checkpoint_policy.h"
#include "common/policies/factory.h"
#include "common/policies/policy_spec.h"
#include "common/rollout/episode.h"
#include "common/sim/renderer.h"

namespace simscale::policies {
namespace {
namespace fs = std::filesystem;

const fs::path kGolden = fs::path(SIMSCALE_SOURCE_DIR) / "tests/assets/checkpoints/bc_reach_v1";

PolicySpec SampleSpec() {
  PolicySpec s;
  s.env = "pick_place";
  s.state_keys = {"ee_pos", "gripper"};
  s.history = 2;
  s.cameras = {"agentview", "wrist"};
  s.image_size = 64;
  s.render_size = 128;
  s.uses_language = true;
  s.action_horizon = 4;
  return s;
}

TEST(PolicySpecTest, YamlRoundTripKeepsEveryField) {
  const PolicySpec spec = SampleSpec();
  const YAML::Node node = YAML::Load(YAML::Dump(PolicySpecToYaml(spec)));
  EXPECT_EQ(PolicySpecFromYaml(node, "test"), spec);
  PolicySpec other = spec;
  other.history = 3;
  EXPECT_NE(other, spec);
}

TEST(PolicySpecTest, UnknownMissingAndMalformedKeysNameTheKey) {
  auto expect_error = [](const std::string& yaml, const std::string& needle) {
    try {
      PolicySpecFromYaml(YAML::Load(yaml), "meta.yaml");
      FAIL() << "accepted: " << yaml;
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  YAML::Node node = PolicySpecToYaml(SampleSpec());
  node["camras"] = "x";
  expect_error(YAML::Dump(node), "unknown policy spec key 'camras'");
  node = PolicySpecToYaml(SampleSpec());
  node.remove("history");
  expect_error(YAML::Dump(node), "no 'history'");
  node = PolicySpecToYaml(SampleSpec());
  node["history"] = "two";
  expect_error(YAML::Dump(node), "'history'");
  node = PolicySpecToYaml(SampleSpec());
  node["history"] = 0;
  expect_error(YAML::Dump(node), "history");
}

// A checkpoint written by the previous format (1), kept in the test assets: its policy contract,
// split between the model options and the trainer's `extra`, is read into one PolicySpec.
TEST(CheckpointFormatTest, Version1CheckpointStillLoadsWithItsPolicySpec) {
  const models::CheckpointMetadata meta = models::ReadCheckpointMetadata(kGolden);
  EXPECT_EQ(meta.format_version, 1);
  const PolicySpec& p = meta.model_options.spec.policy;
  EXPECT_EQ(p.env, "reach");
  EXPECT_EQ(p.state_keys, (std::vector<std::string>{"ee_pos", "joint_pos", "joint_vel",
                                                    "target_pos", "ee_to_target"}));
  EXPECT_EQ(p.history, 1);
  EXPECT_TRUE(p.cameras.empty());
  EXPECT_EQ(p.image_size, 64);
  EXPECT_EQ(p.ResolvedRenderSize(), 64);
  EXPECT_FALSE(p.uses_language);
  EXPECT_EQ(p.action_horizon, 1);
  EXPECT_EQ(meta.model_options.bc.hidden_dim, 16);
}

// The same policy, driven by today's code, plays exactly the episodes the code that wrote it
// played (returns recorded then, in expected_returns.txt).
TEST(CheckpointFormatTest, Version1PolicyPlaysTheEpisodesItPlayedWhenWritten) {
  std::ifstream in(kGolden / "expected_returns.txt");
  std::string line;
  std::vector<double> expected;
  while (std::getline(in, line)) {
    if (!line.empty() && (line[0] == '-' || std::isdigit(static_cast<unsigned char>(line[0])))) {
      expected.push_back(std::stod(line));
    }
  }
  ASSERT_EQ(expected.size(), 3u);
  auto env = envs::MakeEnv("reach", {});
  auto policy = MakePolicy(kGolden.string(), "reach");
  for (size_t e = 0; e < expected.size(); ++e) {
    const rollout::EpisodeSummary summary = rollout::RunEpisode(*env, *policy, {7, e});
    EXPECT_EQ(summary.length, 200);
    EXPECT_DOUBLE_EQ(summary.episode_return, expected[e]) << "episode " << e;
  }
}

class CheckpointPolicyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("simscale_policies_" + std::to_string(getpid()));
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

// Format 2 saves the spec in its own section and reads it back unchanged.
TEST_F(CheckpointPolicyTest, Version2SavesThePolicySpecAndTheFactoryBindsIt) {
  models::ModelOptions options = models::ReadCheckpointMetadata(kGolden).model_options;
  options.spec.policy.state_keys = {"ee_pos", "target_pos"};
  options.spec.state_dim = 6;
  auto model = models::MakeModel("bc", options);
  const fs::path checkpoint = models::CheckpointDirectory(dir_, 1);
  models::SaveCheckpoint(checkpoint, *model, nullptr, {});
  const models::CheckpointMetadata meta = models::ReadCheckpointMetadata(checkpoint);
  EXPECT_EQ(meta.format_version, models::kCheckpointFormatVersion);
  EXPECT_EQ(meta.model_options.spec.policy, options.spec.policy);

  // A run directory resolves to its newest checkpoint; the policy acts in its env.
  auto policy = MakePolicy(dir_.string(), "reach");
  auto env = envs::MakeEnv("reach", {});
  const auto summary = rollout::RunEpisode(*env, *policy, {0, 0});
  EXPECT_GT(summary.length, 0);
  // Bound to another env, it says which env it was trained in.
  auto other = envs::MakeEnv("pick_place", {});
  auto mismatched = MakePolicy(dir_.string(), "pick_place");
  try {
    mismatched->Reset(*other, 0, 0);
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("trained on env 'reach'"), std::string::npos) << e.what();
  }
}

// A camera policy sees what the env renders at the recorded size, area-resampled to the model's
// size: its action equals the model's prediction on an input built here by hand.
TEST_F(CheckpointPolicyTest, ACameraPolicyActsOnTheRenderedImageResampledToTheModelSize) {
  models::ModelOptions options = models::ReadCheckpointMetadata(kGolden).model_options;
  options.spec.policy.state_keys = {"ee_pos"};
  options.spec.policy.cameras = {"agentview"};
  options.spec.policy.image_size = 32;
  options.spec.policy.render_size = 48;
  options.spec.state_dim = 3;
  options.bc.dropout = 0.0;
  torch::manual_seed(3);
  auto model = models::MakeModel("bc", options);
  const fs::path checkpoint = models::CheckpointDirectory(dir_, 1);
  models::SaveCheckpoint(checkpoint, *model, nullptr, {});
  model->eval();

  auto env = envs::MakeEnv("reach", {});
  env->Reset(5, 2);
  auto policy = MakePolicy(checkpoint.string(), "reach");
  policy->Reset(*env, 5, 2);
  std::vector<double> action(4);
  policy->Act(*env, action.data());

  sim::RenderOptions render;
  render.width = render.height = 48;
  sim::Renderer renderer(env->model(), render);
  sim::CameraImage image;
  renderer.Render(env->model(), env->data(), renderer.CameraId("agentview"), &image);
  namespace F = torch::nn::functional;
  models::Batch batch;
  batch.images["agentview"] =
      F::interpolate(
          torch::from_blob(image.rgb.data(), {1, 48, 48, 3}, torch::kUInt8)
              .permute({0, 3, 1, 2})
              .to(torch::kFloat32)
              .div(255.0),
          F::InterpolateFuncOptions().size(std::vector<int64_t>{32, 32}).mode(torch::kArea))
          .contiguous();
  const int ee = env->observation_spec().Offset("ee_pos");
  std::vector<float> state(env->observation() + ee, env->observation() + ee + 3);
  batch.state = torch::from_blob(state.data(), {1, 3}, torch::kFloat32).clone();
  const torch::Tensor expected = model->Predict(batch).to(torch::kFloat64).flatten();
  ASSERT_EQ(expected.numel(), 4);
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(action[i], expected[i].item<double>(), 1e-6) << i;
}

TEST_F(CheckpointPolicyTest, ANameThatIsNeitherAPolicyNorACheckpointIsAClearError) {
  try {
    MakePolicy((dir_ / "nothing").string(), "reach");
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("expected scripted, random, a complete checkpoint"),
              std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace simscale::policies
