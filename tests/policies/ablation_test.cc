// What a vision policy may take as state (proprioception only), and the input ablations of a
// checkpoint policy: they change exactly the input they name, on the policy's own input path.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/envs/pick_place_multi.h"
#include "common/envs/registry.h"
#include "common/policies/checkpoint_policy.h"
#include "common/policies/factory.h"
#include "common/policies/policy_spec.h"

namespace simscale::policies {
namespace {

// Records what the policy hands the model; predicts zeros.
class RecordingModel : public ActionModel {
 public:
  explicit RecordingModel(models::ModelSpec spec) : spec_(std::move(spec)) {}
  const models::ModelSpec& spec() const override { return spec_; }
  void Predict(const ModelInputs& inputs, double* actions) override {
    instruction = inputs.instruction != nullptr ? *inputs.instruction : "<none>";
    images.clear();
    const size_t bytes = static_cast<size_t>(inputs.image_height * inputs.image_width * 3);
    for (const uint8_t* image : inputs.images) images.emplace_back(image, image + bytes);
    std::fill_n(actions, spec_.action_dim * spec_.policy.action_horizon, 0.0);
  }
  std::string instruction;
  std::vector<std::vector<uint8_t>> images;

 private:
  models::ModelSpec spec_;
};

models::ModelSpec VisionSpec(bool language) {
  models::ModelSpec spec;
  spec.policy.env = envs::PickPlaceMultiEnv::kName;
  spec.policy.state_keys = ProprioceptiveStateKeys();
  spec.policy.cameras = {"agentview", "wrist"};
  spec.policy.image_size = 32;
  spec.policy.uses_language = language;
  spec.state_dim = 3 + 2 + 7 + 7;
  spec.action_dim = 4;
  return spec;
}

// Plays one step of `episode` and returns what the model was given.
const RecordingModel& Observe(CheckpointPolicy* policy, const RecordingModel& model,
                              sim::RobotEnv* env, uint64_t episode) {
  env->Reset(4, episode);
  policy->Reset(*env, 4, episode);
  double action[4];
  policy->Act(*env, action);
  return model;
}

struct Fixture {
  explicit Fixture(InputAblation ablation, bool language = true) {
    auto recording = std::make_unique<RecordingModel>(VisionSpec(language));
    model = recording.get();
    policy = std::make_unique<CheckpointPolicy>("test", std::move(recording), sim::GlBackend::kAuto,
                                                std::move(ablation));
  }
  RecordingModel* model = nullptr;
  std::unique_ptr<CheckpointPolicy> policy;
};

bool AllZero(const std::vector<uint8_t>& image) {
  return std::all_of(image.begin(), image.end(), [](uint8_t v) { return v == 0; });
}

TEST(VisionState, ProprioceptiveKeysAreInThePickPlaceEnvsAndPrivilegedKeysAreRefused) {
  for (const char* name : {"pick_place", "pick_place_multi"}) {
    auto env = envs::MakeEnv(name, {});
    for (const auto& key : ProprioceptiveStateKeys()) {
      EXPECT_TRUE(env->observation_spec().Has(key)) << name << ": " << key;
    }
  }
  EXPECT_NO_THROW(CheckProprioceptiveStateKeys({"joint_pos", "ee_pos"}, "data.state_keys"));
  for (const char* key : {"object_pos", "target_pos", "cube_pos", "pad_pos", "task"}) {
    try {
      CheckProprioceptiveStateKeys({"ee_pos", key}, "data.state_keys");
      FAIL() << key;
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find(std::string("data.state_keys: '") + key +
                                           "' is not proprioception"),
                std::string::npos)
          << e.what();
    }
  }
}

TEST(InputAblation, WithoutAblationTheModelGetsTheEnvsInstructionAndImages) {
  Fixture f({});
  auto env = envs::MakeEnv(envs::PickPlaceMultiEnv::kName, {});
  const auto& seen = Observe(f.policy.get(), *f.model, env.get(), 0);
  EXPECT_EQ(seen.instruction, env->instruction());
  ASSERT_EQ(seen.images.size(), 2u);
  EXPECT_FALSE(AllZero(seen.images[0]));
  EXPECT_FALSE(AllZero(seen.images[1]));
}

TEST(InputAblation, BlankInstructionIsOneSpace) {
  InputAblation ablation;
  ablation.blank_instruction = true;
  Fixture f(ablation);
  auto env = envs::MakeEnv(envs::PickPlaceMultiEnv::kName, {});
  EXPECT_EQ(Observe(f.policy.get(), *f.model, env.get(), 0).instruction, " ");
  EXPECT_EQ(f.policy->instruction(), " ");
}

// The swapped instruction is a real instruction of this env for another cube or pad.
TEST(InputAblation, SwappedInstructionNamesAnotherTask) {
  InputAblation ablation;
  ablation.swap_instruction = true;
  Fixture f(ablation);
  envs::PickPlaceMultiEnv env{sim::EnvOptions{}}, other{sim::EnvOptions{}};
  for (uint64_t episode = 0; episode < 8; ++episode) {
    const std::string given = Observe(f.policy.get(), *f.model, &env, episode).instruction;
    bool found = false;
    for (uint64_t k = 1; k <= 64 && !found; ++k) {
      other.Reset(4, episode + k);
      if (other.instruction() != given) continue;
      found = true;
      EXPECT_TRUE(other.named_cube() != env.named_cube() || other.named_pad() != env.named_pad())
          << given << " vs " << env.instruction();
    }
    EXPECT_TRUE(found) << given;
  }
}

TEST(InputAblation, BlackoutZeroesOnlyTheNamedCamera) {
  InputAblation ablation;
  ablation.blackout_cameras = {"wrist"};
  Fixture plain({}), ablated(ablation);
  auto env = envs::MakeEnv(envs::PickPlaceMultiEnv::kName, {});
  const auto expected = Observe(plain.policy.get(), *plain.model, env.get(), 1).images;
  const auto& seen = Observe(ablated.policy.get(), *ablated.model, env.get(), 1);
  ASSERT_EQ(seen.images.size(), 2u);
  EXPECT_EQ(seen.images[0], expected[0]);  // agentview untouched
  EXPECT_TRUE(AllZero(seen.images[1]));
  EXPECT_FALSE(AllZero(expected[1]));
  EXPECT_EQ(seen.instruction, env->instruction());
}

TEST(InputAblation, AblationsThatCannotApplyAreClearErrors) {
  InputAblation camera;
  camera.blackout_cameras = {"overhead"};
  EXPECT_THROW(Fixture{camera}, InvalidArgumentError);
  InputAblation words;
  words.blank_instruction = true;
  try {
    Fixture f(words, /*language=*/false);
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("does not"), std::string::npos) << e.what();
  }
  PolicyOptions options;
  options.ablation = words;
  EXPECT_THROW(MakePolicy("scripted", "pick_place_multi", options), InvalidArgumentError);
  EXPECT_EQ(words.Describe(), "blank instruction");
  EXPECT_EQ(InputAblation{}.Describe(), "none");
}

// Predicts, at the k-th call of an episode, a chunk whose j-th action is 10 k + j (every
// dimension).
class CountingChunkModel : public ActionModel {
 public:
  explicit CountingChunkModel(models::ModelSpec spec) : spec_(std::move(spec)) {}
  const models::ModelSpec& spec() const override { return spec_; }
  void Predict(const ModelInputs&, double* actions) override {
    for (int64_t j = 0; j < spec_.policy.action_horizon; ++j) {
      for (int64_t i = 0; i < spec_.action_dim; ++i) {
        actions[j * spec_.action_dim + i] =
            10.0 * static_cast<double>(calls) + static_cast<double>(j);
      }
    }
    ++calls;
  }
  int64_t calls = 0;

 private:
  models::ModelSpec spec_;
};

// The first action of each chunk, or the weighted average of every chunk's prediction for the
// step (ACT's temporal ensembling), restarted at each episode.
TEST(ChunkExecution, RecedingHorizonOrTemporalEnsembling) {
  models::ModelSpec spec = VisionSpec(false);
  spec.policy.action_horizon = 3;
  auto env = envs::MakeEnv(envs::PickPlaceMultiEnv::kName, {});
  auto actions_of = [&](double decay, int steps) {
    auto model = std::make_unique<CountingChunkModel>(spec);
    CheckpointPolicy policy("test", std::move(model), sim::GlBackend::kAuto);
    policy.SetTemporalEnsemble(decay);
    std::vector<double> first;
    for (int episode = 0; episode < 2; ++episode) {
      env->Reset(4, static_cast<uint64_t>(episode));
      policy.Reset(*env, 4, static_cast<uint64_t>(episode));
      for (int t = 0; t < steps; ++t) {
        double action[4];
        policy.Act(*env, action);
        EXPECT_EQ(action[0], action[3]);
        if (episode == 0) first.push_back(action[0]);
      }
    }
    return first;
  };
  // Receding horizon: the newest chunk's first action, 10 k at call k.
  EXPECT_EQ(actions_of(-1.0, 4), (std::vector<double>{0, 10, 20, 30}));
  // Equal weights: step 1 averages chunk 0's second (1) and chunk 1's first (10) action; step 3
  // averages chunks 1..3 (the oldest, chunk 0, has no entry left): (12 + 21 + 30) / 3.
  const auto equal = actions_of(0.0, 4);
  EXPECT_DOUBLE_EQ(equal[0], 0.0);
  EXPECT_DOUBLE_EQ(equal[1], 5.5);
  EXPECT_DOUBLE_EQ(equal[2], (2.0 + 11.0 + 20.0) / 3.0);
  EXPECT_DOUBLE_EQ(equal[3], (12.0 + 21.0 + 30.0) / 3.0);
  // Decay 1: weights 1, e^-1, e^-2 from the oldest.
  const auto decayed = actions_of(1.0, 3);
  const double w1 = std::exp(-1.0), w2 = std::exp(-2.0);
  EXPECT_NEAR(decayed[2], (2.0 + 11.0 * w1 + 20.0 * w2) / (1.0 + w1 + w2), 1e-12);
}

TEST(ChunkExecution, TemporalEnsemblingIsForCheckpointPoliciesOnly) {
  PolicyOptions options;
  options.temporal_ensemble = 0.01;
  try {
    MakePolicy("scripted", "pick_place", options);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("checkpoint policies only"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace simscale::policies
