// The vision pipeline on a small dataset written by datagen_mpi. Training and evaluation feed a
// model the same input for the same step: a dataset written by
// datagen_mpi (two cameras, language, light randomization, noisy expert actions) is read through
// the training loader's path, and each stored episode is replayed in a fresh env with its seed,
// randomization and the datagen's own (noisy expert) actions while a checkpoint policy acts on it;
// the model input of every step (state, both images, instruction tokens) must be equal bit for
// bit, and the auxiliary targets the loader gathers must be that step's observation of their keys.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/envs/pick_place_multi.h"
#include "common/envs/policy.h"
#include "common/envs/registry.h"
#include "common/io/episode_store.h"
#include "common/models/layers.h"
#include "common/models/model_input.h"
#include "common/models/model_options.h"
#include "common/models/tokenizer.h"
#include "common/policies/checkpoint_policy.h"
#include "common/policies/factory.h"
#include "common/policies/policy_spec.h"
#include "common/sim/randomization.h"
#include "common/train/dataset.h"
#include "common/train/loader.h"
#include "tests/support/process.h"

namespace simscale::policies {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kImageSize = 64;
constexpr int64_t kMaxTextLen = 64;

// Keeps what the policy hands the model, converted as TorchActionModel converts it.
class CapturingModel : public ActionModel {
 public:
  explicit CapturingModel(models::ModelSpec spec) : spec_(std::move(spec)) {}
  const models::ModelSpec& spec() const override { return spec_; }
  void Predict(const ModelInputs& inputs, double* actions) override {
    state = models::StatesToTensor(inputs.state, 1, spec_.state_dim);
    images.clear();
    for (const uint8_t* image : inputs.images) {
      images.push_back(models::ImagesToTensor(image, 1, inputs.image_height, inputs.image_width,
                                              spec_.policy.image_size));
    }
    instruction = inputs.instruction != nullptr ? *inputs.instruction : "";
    std::fill_n(actions, spec_.action_dim * spec_.policy.action_horizon, 0.0);
  }
  torch::Tensor state;
  std::vector<torch::Tensor> images;
  std::string instruction;

 private:
  models::ModelSpec spec_;
};

class ModelInputTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = fs::temp_directory_path() / ("simscale_model_input_" + std::to_string(getpid()));
    fs::remove_all(dir_);
    fs::create_directories(dir_);
    dataset_ = dir_ / "multi.h5";
    const auto result = testing_support::RunProcess(
        testing_support::MpiRun(2) + testing_support::ToolPath("datagen_mpi") +
            " --env pick_place_multi --episodes 4 --max-steps 60 --dr light"
            " --cameras agentview,wrist --set datagen.image_size=64"
            " --set datagen.action_noise=0.05 --set datagen.only_successful=false --output " +
            dataset_.string() + " --log.level warn",
        300);
    ASSERT_EQ(result.exit_code, 0) << result.output;
  }
  static void TearDownTestSuite() { fs::remove_all(dir_); }

  static inline fs::path dir_;
  static inline fs::path dataset_;
};

// The language task's words (every paraphrase, every cube and pad) each get their own row of the
// VLA's word table at its default size: no two words share a vector.
TEST(WordBagOfTheLanguageTask, EveryWordHasItsOwnBucket) {
  auto env = envs::MakeEnv("pick_place_multi", sim::EnvOptions{});
  const models::CharTokenizer tokenizer(64);
  const int64_t buckets = models::VlaOptions().word_buckets;
  std::map<std::string, int64_t> bucket_of;
  for (uint64_t episode = 0; episode < 400; ++episode) {
    env->Reset(7, episode);
    std::istringstream words(env->instruction());
    for (std::string word; words >> word;) {
      const auto ids = tokenizer.EncodeIds(word);
      bucket_of[word] =
          models::WordBagImpl::Bucket(ids.data(), static_cast<int64_t>(ids.size()), buckets);
    }
  }
  EXPECT_GE(bucket_of.size(), 20u);  // 3 colours, 2 sides, the templates' words
  std::set<int64_t> distinct;
  for (const auto& [word, bucket] : bucket_of) distinct.insert(bucket);
  EXPECT_EQ(distinct.size(), bucket_of.size());
}

TEST_F(ModelInputTest, EvaluationGivesTheModelTheTrainingInputOfEveryStoredStepBitForBit) {
  const std::vector<std::string> cameras = {"agentview", "wrist"};
  train::DatasetOptions options;
  options.state_keys = ProprioceptiveStateKeys();
  options.cameras = cameras;
  options.language = true;
  options.split = "all";
  // Auxiliary training targets: where the named cube and pad are, at the sample's own step.
  const std::vector<std::string> target_keys = {"object_pos", "target_pos"};
  options.target_keys = target_keys;
  const train::TrajectoryDataset dataset(dataset_, options);
  const train::BatchConverter converter(dataset, kMaxTextLen, kImageSize);
  const io::EpisodeStoreReader store(dataset_);
  ASSERT_EQ(dataset.num_episodes(), store.num_episodes());

  models::ModelSpec spec;
  spec.policy.env = envs::PickPlaceMultiEnv::kName;
  spec.policy.state_keys = options.state_keys;
  spec.policy.cameras = cameras;
  spec.policy.image_size = kImageSize;
  spec.policy.uses_language = true;
  spec.state_dim = dataset.state_dim();
  spec.action_dim = dataset.action_dim();
  auto capturing = std::make_unique<CapturingModel>(spec);
  CapturingModel* model = capturing.get();
  CheckpointPolicy policy("test", std::move(capturing), sim::GlBackend::kAuto);
  const models::CharTokenizer tokenizer(kMaxTextLen);

  sim::EnvOptions env_options;
  env_options.max_episode_steps = 60;
  env_options.randomization = sim::RandomizationCondition("light");
  auto env = envs::MakeEnv(envs::PickPlaceMultiEnv::kName, env_options);
  // What datagen_mpi executed: the expert with its action noise (the store labels steps with the
  // expert's clean actions, so they cannot be replayed).
  envs::NoisyPolicy expert(policies::MakePolicy("scripted", env->name(), {}), 0.05);

  int64_t sample = 0, steps_compared = 0;
  for (int64_t e = 0; e < store.num_episodes(); ++e) {
    const auto seed = static_cast<uint64_t>(store.index().seed[static_cast<size_t>(e)]);
    const auto index = static_cast<uint64_t>(store.index().episode_index[static_cast<size_t>(e)]);
    env->Reset(seed, index);
    policy.Reset(*env, seed, index);
    expert.Reset(*env, seed, index);
    const int64_t length = store.index().length[static_cast<size_t>(e)];
    for (int64_t t = 0; t < length; ++t, ++sample) {
      SCOPED_TRACE("episode " + std::to_string(e) + " step " + std::to_string(t));
      train::HostBatch host;
      dataset.Gather(&sample, 1, &host);
      const models::Batch stored = converter.Convert(host);
      std::vector<double> action(static_cast<size_t>(spec.action_dim));
      policy.Act(*env, action.data());

      ASSERT_TRUE(torch::equal(model->state, stored.state)) << model->state << "\nstored:\n"
                                                            << stored.state;
      for (size_t c = 0; c < cameras.size(); ++c) {
        const torch::Tensor& live = model->images.at(c);
        const torch::Tensor& recorded = stored.images.at(cameras[c]);
        ASSERT_EQ(live.sizes(), recorded.sizes()) << cameras[c];
        ASSERT_EQ(std::memcmp(live.data_ptr<float>(), recorded.data_ptr<float>(),
                              static_cast<size_t>(live.numel()) * sizeof(float)),
                  0)
            << cameras[c] << ": " << (live - recorded).abs().gt(0).sum().item<int64_t>()
            << " values differ";
      }
      const models::TokenizedText text = tokenizer.Encode({model->instruction});
      ASSERT_TRUE(torch::equal(text.tokens, stored.language_tokens)) << model->instruction;
      ASSERT_TRUE(torch::equal(text.mask, stored.language_mask));
      ASSERT_EQ(stored.targets.sizes(), (std::vector<int64_t>{1, 6}));
      for (size_t k = 0, column = 0; k < target_keys.size(); ++k) {
        const int offset = env->observation_spec().Offset(target_keys[k]);
        for (int i = 0; i < 3; ++i, ++column) {
          ASSERT_EQ(stored.targets[0][static_cast<int64_t>(column)].item<float>(),
                    static_cast<float>(env->observation()[offset + i]))
              << target_keys[k] << "[" << i << "]";
        }
      }
      expert.Act(*env, action.data());
      env->Step(action.data());
      ++steps_compared;
    }
  }
  EXPECT_EQ(sample, dataset.num_samples());
  EXPECT_GT(steps_compared, 100);
}

// The debug VLA config (both cameras, the instruction, proprioception) fits a handful of image
// episodes: its loss falls at least tenfold within its 1,200 steps on 2 ranks.
TEST_F(ModelInputTest, DebugVlaOverfitsAHandfulOfImageEpisodes) {
  const fs::path run = dir_ / "vla_debug";
  const auto result = testing_support::RunProcess(
      testing_support::MpiRun(2) + testing_support::ToolPath("train_ddp") + " --config " +
          (fs::path(SIMSCALE_SOURCE_DIR) / "configs" / "vla_pick_place_multi_debug.yaml").string() +
          " --dataset " + dataset_.string() + " --output " + run.string() + " --log.level warn",
      600);
  ASSERT_EQ(result.exit_code, 0) << result.output;
  std::ifstream metrics(run / "metrics.jsonl");
  std::vector<double> losses;
  for (std::string line; std::getline(metrics, line);) {
    losses.push_back(nlohmann::json::parse(line).at("loss").get<double>());
  }
  ASSERT_GE(losses.size(), 10u);
  EXPECT_LT(losses.back() * 10.0, losses.front())
      << "first logged loss " << losses.front() << ", last " << losses.back();
}

}  // namespace
}  // namespace simscale::policies
