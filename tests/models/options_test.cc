#include <string>

#include <gtest/gtest.h>

#include "common/config/config.h"
#include "common/core/error.h"
#include "common/models/model_options.h"
#include "common/models/tokenizer.h"

namespace simscale::models {
namespace {

ModelOptions NonDefaultOptions() {
  ModelOptions o;
  o.spec.state_dim = 28;
  o.spec.action_dim = 7;
  o.spec.policy.action_horizon = 4;
  o.spec.policy.cameras = {"front", "wrist"};
  o.spec.policy.image_size = 96;
  o.spec.policy.uses_language = true;
  o.spec.action_low = {-1, -2, -3, -4, -5, -6, 0};
  o.spec.action_high = {1, 2, 3, 4, 5, 6, 0.04};
  o.bc.hidden_dim = 512;
  o.bc.loss = "l1";
  o.bc.dropout = 0.25;
  o.vla.embed_dim = 192;
  o.vla.num_heads = 6;
  o.vla.stem = "keypoints";
  o.vla.keypoints = 24;
  o.vla.film = true;
  o.vla.pointers = 3;
  o.vla.patch_size = 16;
  o.spec.target_dim = 6;
  o.target_keys = {"object_pos", "target_pos"};
  o.target_weight = 0.25;
  o.vla.state_token = false;
  o.head.type = "diffusion";
  o.head.schedule = "cosine";
  o.head.beta_start = 1.5e-4;
  o.head.inference_steps = 25;
  return o;
}

TEST(ModelOptions, YamlRoundTripKeepsEveryField) {
  const ModelOptions o = NonDefaultOptions();
  const std::string yaml = ModelOptionsToYaml(o);
  const ModelOptions back = ModelOptionsFromYaml(yaml, "test");
  EXPECT_EQ(back.spec.state_dim, 28);
  EXPECT_EQ(back.spec.action_dim, 7);
  // The policy contract is not a model option in the file: checkpoints save it in its own section
  // (PolicySpecTest covers its round trip).
  EXPECT_EQ(yaml.find("cameras"), std::string::npos) << yaml;
  EXPECT_EQ(back.spec.policy, policies::PolicySpec());
  // Format 1 checkpoints kept four of its fields among the model options; they are still read.
  const ModelOptions legacy =
      ModelOptionsFromYaml(yaml +
                               "  action_horizon: 4\n  cameras: [front, wrist]\n  image_size: 96\n"
                               "  uses_language: true\n",
                           "test", /*with_policy_keys=*/true);
  EXPECT_EQ(legacy.spec.policy.action_horizon, 4);
  EXPECT_EQ(legacy.spec.policy.cameras, (std::vector<std::string>{"front", "wrist"}));
  EXPECT_EQ(legacy.spec.policy.image_size, 96);
  EXPECT_TRUE(legacy.spec.policy.uses_language);
  EXPECT_EQ(back.spec.action_low, o.spec.action_low);
  EXPECT_EQ(back.spec.action_high, o.spec.action_high);
  EXPECT_EQ(back.bc.hidden_dim, 512);
  EXPECT_EQ(back.bc.loss, "l1");
  EXPECT_DOUBLE_EQ(back.bc.dropout, 0.25);
  EXPECT_EQ(back.vla.embed_dim, 192);
  EXPECT_EQ(back.vla.num_heads, 6);
  EXPECT_FALSE(back.vla.state_token);
  EXPECT_EQ(back.vla.stem, "keypoints");
  EXPECT_EQ(back.vla.keypoints, 24);
  EXPECT_TRUE(back.vla.film);
  EXPECT_EQ(back.vla.pointers, 3);
  EXPECT_EQ(back.spec.target_dim, 6);
  EXPECT_EQ(back.target_keys, (std::vector<std::string>{"object_pos", "target_pos"}));
  EXPECT_DOUBLE_EQ(back.target_weight, 0.25);
  EXPECT_EQ(back.head.type, "diffusion");
  EXPECT_EQ(back.head.schedule, "cosine");
  EXPECT_DOUBLE_EQ(back.head.beta_start, 1.5e-4);
  EXPECT_EQ(back.head.inference_steps, 25);
  // Serialising again gives the same text.
  EXPECT_EQ(ModelOptionsToYaml(back), yaml);
}

TEST(ModelOptions, UnknownKeyInYamlIsAnError) {
  try {
    ModelOptionsFromYaml("model:\n  bc:\n    hiden_dim: 3\n", "meta.yaml");
    FAIL() << "expected a ConfigError";
  } catch (const config::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("model.bc.hiden_dim"), std::string::npos) << e.what();
  }
}

TEST(ModelOptions, SchemaDeclaresDottedKeysWithRanges) {
  ModelOptions options;
  config::Schema schema("train_ddp", "test");
  DeclareModelOptions(&schema, &options);
  for (const char* key : {"model.state_dim", "model.bc.hidden_dim", "model.vla.embed_dim",
                          "model.head.type", "model.head.inference_steps", "model.cameras"}) {
    EXPECT_NE(schema.Find(key), nullptr) << key;
  }
  schema.ApplySet("model.head.type=diffusion");
  schema.ApplySet("model.vla.num_layers=6");
  EXPECT_EQ(options.head.type, "diffusion");
  EXPECT_EQ(options.vla.num_layers, 6);
  EXPECT_THROW(schema.ApplySet("model.head.type=gan"), config::ConfigError);
  EXPECT_THROW(schema.ApplySet("model.vla.embed_dim=0"), config::ConfigError);
  EXPECT_EQ(options.vla.embed_dim, 128);  // unchanged by the rejected value
}

TEST(ModelOptions, ValidationNamesTheInconsistentField) {
  ModelOptions o;
  o.spec.state_dim = 10;
  o.spec.action_dim = 4;
  o.spec.policy.cameras = {"front"};
  o.spec.policy.image_size = 64;
  o.vla.patch_size = 10;
  try {
    ValidateModelOptions("vla", o);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("model.image_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("patch_size = 10"), std::string::npos) << e.what();
  }
  o.vla.patch_size = 8;
  o.head.inference_steps = 200;  // more than the 100 diffusion steps
  EXPECT_THROW(ValidateModelOptions("vla", o), InvalidArgumentError);
  o.head.inference_steps = 10;
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  // A convolutional stem halves the image log2(patch) times: the patch must be a power of two.
  o.vla.stem = "conv";
  o.vla.patch_size = 16;
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  o.spec.policy.image_size = 96;
  o.vla.patch_size = 12;
  try {
    ValidateModelOptions("vla", o);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("model.vla.patch_size"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("power of two"), std::string::npos) << e.what();
  }
  o.spec.policy.image_size = 64;
  o.vla.patch_size = 8;
  o.vla.state_token = false;
  o.vla.state_skip = true;
  try {
    ValidateModelOptions("vla", o);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("model.vla.state_skip"), std::string::npos) << e.what();
  }
  o.vla.state_token = true;
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  // The keypoint skip needs keypoints (here the stem is conv).
  o.vla.keypoint_skip = true;
  try {
    ValidateModelOptions("vla", o);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("model.vla.keypoint_skip"), std::string::npos) << e.what();
  }
  o.vla.stem = "keypoints";
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  o.vla.keypoint_skip = false;
  o.vla.stem = "conv";
  // FiLM needs an instruction and the keypoint stem.
  o.vla.film = true;
  for (const bool language : {false, true}) {
    o.spec.policy.uses_language = language;
    try {
      ValidateModelOptions("vla", o);
      FAIL() << "expected an InvalidArgumentError (language " << language << ", stem " << o.vla.stem
             << ")";
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("model.vla.film"), std::string::npos) << e.what();
    }
  }
  o.vla.stem = "keypoints";
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  // Pointers read the instruction's words: they need FiLM.
  o.vla.pointers = 2;
  o.vla.film = false;
  try {
    ValidateModelOptions("vla", o);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    EXPECT_NE(std::string(e.what()).find("model.vla.pointers"), std::string::npos) << e.what();
  }
  o.vla.film = true;
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  o.vla.pointers = 0;
  o.vla.film = false;
  // Auxiliary targets: keys and their size go together (train_ddp fills the size).
  for (const auto& [keys, dim] :
       std::vector<std::pair<std::vector<std::string>, int64_t>>{{{"object_pos"}, 0}, {{}, 3}}) {
    o.target_keys = keys;
    o.spec.target_dim = dim;
    try {
      ValidateModelOptions("vla", o);
      FAIL() << "expected an InvalidArgumentError (" << keys.size() << " keys, size " << dim << ")";
    } catch (const InvalidArgumentError& e) {
      EXPECT_NE(std::string(e.what()).find("model.target_dim"), std::string::npos) << e.what();
    }
  }
  o.target_keys = {"object_pos"};
  o.spec.target_dim = 3;
  EXPECT_NO_THROW(ValidateModelOptions("vla", o));
  o.target_keys.clear();
  o.spec.target_dim = 0;
  o.spec.action_dim = 0;
  EXPECT_THROW(ValidateModelOptions("bc", o), InvalidArgumentError);
}

TEST(CharTokenizer, MapsTheOriginalVocabularyToIds1To43) {
  const CharTokenizer tokenizer(8);
  EXPECT_EQ(tokenizer.EncodeIds(" "), (std::vector<int64_t>{1}));
  EXPECT_EQ(tokenizer.EncodeIds("a"), (std::vector<int64_t>{2}));
  EXPECT_EQ(tokenizer.EncodeIds("z"), (std::vector<int64_t>{27}));
  EXPECT_EQ(tokenizer.EncodeIds("0"), (std::vector<int64_t>{28}));
  EXPECT_EQ(tokenizer.EncodeIds("-"), (std::vector<int64_t>{43}));
  EXPECT_EQ(tokenizer.EncodeIds("AbC"), tokenizer.EncodeIds("abc"));       // lower-cased
  EXPECT_EQ(tokenizer.EncodeIds("a#b"), (std::vector<int64_t>{2, 0, 3}));  // unknown -> 0
  EXPECT_EQ(tokenizer.EncodeIds("abcdefghijk").size(), 8u);                // cut at max_len
  EXPECT_EQ(tokenizer.Decode(tokenizer.EncodeIds("Pick up!")), "pick up!");
}

TEST(CharTokenizer, PadsWithZerosAndMasksPaddingAndUnknowns) {
  const CharTokenizer tokenizer(6);
  const auto out = tokenizer.Encode({"ab", "a#cdefgh"});
  ASSERT_EQ(out.tokens.sizes(), (std::vector<int64_t>{2, 6}));
  ASSERT_EQ(out.mask.scalar_type(), torch::kBool);
  const auto t = out.tokens.accessor<int64_t, 2>();
  const auto m = out.mask.accessor<bool, 2>();
  EXPECT_EQ(t[0][0], 2);
  EXPECT_EQ(t[0][1], 3);
  for (int j = 2; j < 6; ++j) {
    EXPECT_EQ(t[0][j], 0);
    EXPECT_FALSE(m[0][j]);
  }
  EXPECT_TRUE(m[0][0]);
  EXPECT_EQ(t[1][1], 0);  // '#'
  EXPECT_FALSE(m[1][1]);
  EXPECT_TRUE(m[1][5]);  // 'f', the sixth character
  // Padding to the longest text only.
  EXPECT_EQ(tokenizer.Encode({"ab", "abc"}, /*pad_to_longest=*/true).tokens.size(1), 3);
}

}  // namespace
}  // namespace simscale::models
