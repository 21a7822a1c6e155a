#include "common/config/config.h"

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/app/tool.h"
#include "common/core/atomic_file.h"

namespace simscale::config {
namespace {
namespace fs = std::filesystem;

struct Sample {
  app::RunOptions run;
  double lr = 1e-3;
  int64_t steps = 100;
  int64_t warmup = 10;
  std::string model = "bc";
  std::vector<std::string> cameras;
  bool amp = false;
};

class ConfigTest : public ::testing::Test {
 protected:
  ConfigTest() : schema_("sample_tool", "a tool for tests") {
    sample_.run.output = "out";
    app::AddRunOptions(&schema_, &sample_.run);
    schema_.Add("train.lr", &sample_.lr, "learning rate").GreaterThan(0).Max(1).Flag("lr");
    schema_.Add("train.steps", &sample_.steps, "optimizer steps").Min(1).Flag("steps");
    schema_.Add("train.warmup_steps", &sample_.warmup, "warmup").Min(0);
    schema_.Add("train.model", &sample_.model, "model").OneOf({"bc", "vla"}).Flag("model");
    schema_.Add("data.cameras", &sample_.cameras, "cameras").Flag("cameras");
    schema_.Add("train.amp", &sample_.amp, "bf16 autocast");
    schema_.AddCheck([this] {
      if (sample_.warmup > sample_.steps) {
        Fail("train.warmup_steps", "at most train.steps", std::to_string(sample_.warmup));
      }
    });
  }

  ParseResult Parse(std::vector<std::string> args) {
    args.insert(args.begin(), "sample_tool");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    return schema_.Parse(static_cast<int>(argv.size()), argv.data());
  }

  // The message of the ConfigError that parsing `args` throws ("" if none).
  std::string ErrorOf(std::vector<std::string> args) {
    try {
      Parse(std::move(args));
    } catch (const ConfigError& e) {
      return e.what();
    }
    return "";
  }

  fs::path WriteYaml(const std::string& text) {
    // Unique per process and test: ctest runs tests of this binary in parallel processes.
    const fs::path path = fs::temp_directory_path() /
                          ("simscale_config_test_" + std::to_string(::getpid()) + "_" +
                           ::testing::UnitTest::GetInstance()->current_test_info()->name() + "_" +
                           std::to_string(counter_++) + ".yaml");
    WriteFileAtomic(path, text);
    files_.push_back(path);
    return path;
  }
  ~ConfigTest() override {
    for (const auto& f : files_) fs::remove(f);
  }

  Sample sample_;
  Schema schema_;
  std::vector<fs::path> files_;
  int counter_ = 0;
};

TEST_F(ConfigTest, DefaultsApplyWithoutArguments) {
  Parse({});
  EXPECT_EQ(sample_.lr, 1e-3);
  EXPECT_EQ(sample_.steps, 100);
  EXPECT_EQ(schema_.Find("train.lr")->source(), "default");
}

TEST_F(ConfigTest, LayersApplyDefaultsThenYamlThenSetAndFlagsInOrder) {
  const fs::path file = WriteYaml(
      "train:\n  lr: 0.01\n  steps: 500\n  model: vla\ndata:\n  cameras: [agentview, wrist]\n");
  // Flags and --set are one layer above the file, in command-line order (the later wins).
  Parse({"--steps", "70", "--config", file.string(), "--set", "train.steps=90", "--lr=0.5"});
  EXPECT_EQ(sample_.lr, 0.5);       // flag beats file
  EXPECT_EQ(sample_.steps, 90);     // --set after --steps wins; both beat the file
  EXPECT_EQ(sample_.model, "vla");  // from the file
  EXPECT_EQ(sample_.warmup, 10);    // default
  EXPECT_EQ(sample_.cameras, (std::vector<std::string>{"agentview", "wrist"}));
  EXPECT_EQ(schema_.Find("train.model")->source(), "file '" + file.string() + "'");
  EXPECT_EQ(schema_.Find("train.lr")->source(), "command line --lr");
}

TEST_F(ConfigTest, LaterFilesWinOverEarlierOnes) {
  const fs::path a = WriteYaml("train: {steps: 10, lr: 0.1}\n");
  const fs::path b = WriteYaml("train: {steps: 20}\n");
  Parse({"--config", a.string(), "--config", b.string()});
  EXPECT_EQ(sample_.steps, 20);
  EXPECT_EQ(sample_.lr, 0.1);
}

TEST_F(ConfigTest, UnknownKeyInFileNamesKeyFileAndSuggestion) {
  const fs::path file = WriteYaml("train:\n  lrr: 0.1\n");
  const std::string error = ErrorOf({"--config", file.string()});
  EXPECT_NE(error.find("unknown config key 'train.lrr'"), std::string::npos) << error;
  EXPECT_NE(error.find(file.string()), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean 'train.lr'"), std::string::npos) << error;
}

TEST_F(ConfigTest, UnknownKeyInSetIsRejected) {
  const std::string error = ErrorOf({"--set", "train.stepz=3"});
  EXPECT_NE(error.find("unknown config key 'train.stepz' (from --set)"), std::string::npos)
      << error;
  EXPECT_NE(error.find("did you mean 'train.steps'"), std::string::npos) << error;
}

TEST_F(ConfigTest, UnknownFlagIsRejectedWithSuggestion) {
  const std::string error = ErrorOf({"--step", "3"});
  EXPECT_NE(error.find("unknown option '--step'"), std::string::npos) << error;
  EXPECT_NE(error.find("did you mean '--steps'"), std::string::npos) << error;
}

TEST_F(ConfigTest, WrongTypeNamesKeySourceExpectationAndValue) {
  EXPECT_EQ(ErrorOf({"--set", "train.steps=ten"}),
            "config key 'train.steps' (from --set): expected an integer >= 1, got 'ten'");
  EXPECT_EQ(ErrorOf({"--lr", "fast"}),
            "config key 'train.lr' (from command line --lr): expected a finite number > 0 and "
            "<= 1, got 'fast'");
  const fs::path file = WriteYaml("train:\n  steps: 2.5\n");
  EXPECT_EQ(ErrorOf({"--config", file.string()}), "config key 'train.steps' (from file '" +
                                                      file.string() +
                                                      "'): expected an integer >= 1, got '2.5'");
}

TEST_F(ConfigTest, OutOfRangeNamesTheBound) {
  EXPECT_EQ(ErrorOf({"--steps", "0"}),
            "config key 'train.steps' (from command line --steps): expected an integer >= 1, "
            "got '0'");
  EXPECT_EQ(ErrorOf({"--lr", "2"}),
            "config key 'train.lr' (from command line --lr): expected a finite number > 0 and "
            "<= 1, got '2'");
  EXPECT_EQ(ErrorOf({"--model", "gpt"}),
            "config key 'train.model' (from command line --model): expected one of {bc, vla}, "
            "got 'gpt'");
}

TEST_F(ConfigTest, ListWhereScalarExpectedIsRejected) {
  const fs::path file = WriteYaml("train:\n  steps: [1, 2]\n");
  const std::string error = ErrorOf({"--config", file.string()});
  EXPECT_NE(error.find("expected an integer >= 1, got a list [1, 2]"), std::string::npos) << error;
}

TEST_F(ConfigTest, InvalidYamlReportsLine) {
  const fs::path file = WriteYaml("train:\n  lr: 0.1\n   steps: 3\n");
  const std::string error = ErrorOf({"--config", file.string()});
  EXPECT_NE(error.find("invalid YAML at line"), std::string::npos) << error;
}

TEST_F(ConfigTest, MissingConfigFileIsAConfigError) {
  const std::string error = ErrorOf({"--config", "/nonexistent/dir/x.yaml"});
  EXPECT_NE(error.find("/nonexistent/dir/x.yaml"), std::string::npos) << error;
}

TEST_F(ConfigTest, CrossKeyChecksRunAfterAllLayers) {
  EXPECT_EQ(ErrorOf({"--steps", "5", "--set", "train.warmup_steps=6"}),
            "config key 'train.warmup_steps': expected at most train.steps, got 6");
  EXPECT_EQ(ErrorOf({"--steps", "5", "--set", "train.warmup_steps=5"}), "");
}

TEST_F(ConfigTest, BoolFlagsWorkBareOrWithValue) {
  Parse({"--train.amp"});
  EXPECT_TRUE(sample_.amp);
  Parse({"--train.amp=false", "--overwrite"});
  EXPECT_FALSE(sample_.amp);
  EXPECT_TRUE(sample_.run.overwrite);
  EXPECT_NE(ErrorOf({"--set", "train.amp=maybe"}).find("expected a boolean"), std::string::npos);
}

TEST_F(ConfigTest, ListsAcceptCommaSeparatedAndYamlFlowSyntax) {
  Parse({"--cameras", "a,b"});
  EXPECT_EQ(sample_.cameras, (std::vector<std::string>{"a", "b"}));
  Parse({"--set", "data.cameras=[x, y, z]"});
  EXPECT_EQ(sample_.cameras, (std::vector<std::string>{"x", "y", "z"}));
  Parse({"--cameras", ""});
  EXPECT_TRUE(sample_.cameras.empty());
}

// Found by fuzzing (tests/fuzz/corpus/config/crash_complex_key): these escaped as yaml-cpp's
// TypedBadConversion and ended the tool with std::terminate.
TEST_F(ConfigTest, ComplexYamlKeysAndNestedListItemsAreConfigErrors) {
  EXPECT_NE(ErrorOf({"--config", WriteYaml("train:\n  ? [a, b]\n  : 1\n").string()})
                .find("not a plain name"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--config", WriteYaml("? {train: lr}\n: 1\n").string()}).find("top level"),
            std::string::npos);
  EXPECT_NE(ErrorOf({"--set", "data.cameras=[[a], b]"}).find("expected a list of scalars"),
            std::string::npos);
}

TEST_F(ConfigTest, ResumeAndOverwriteTogetherAreRejected) {
  EXPECT_NE(ErrorOf({"--resume", "--overwrite"}).find("run.resume"), std::string::npos);
}

TEST_F(ConfigTest, PositionalArgumentsAreRejected) {
  EXPECT_NE(ErrorOf({"stray"}).find("unexpected positional argument 'stray'"), std::string::npos);
}

TEST_F(ConfigTest, HelpListsEveryKeyWithAliasDefaultAndExpectation) {
  EXPECT_TRUE(Parse({"--help"}).help);
  const std::string help = schema_.HelpText();
  EXPECT_NE(help.find("--train.steps, --steps INT"), std::string::npos) << help;
  EXPECT_NE(help.find("optimizer steps (an integer >= 1; default: 100)"), std::string::npos)
      << help;
  EXPECT_NE(help.find("--run.seed, --seed"), std::string::npos) << help;
  EXPECT_NE(help.find("--print-config"), std::string::npos) << help;
}

TEST_F(ConfigTest, ResolvedYamlRoundTripsThroughTheFileLayer) {
  Parse({"--lr", "0.25", "--cameras", "agentview,wrist", "--steps", "77", "--seed", "3"});
  const std::string yaml = schema_.ToYaml();
  EXPECT_NE(yaml.find("lr: 0.25"), std::string::npos) << yaml;
  // A fresh schema fed the written YAML resolves to the same values.
  Sample copy;
  copy.run.output = "x";
  Schema other("sample_tool", "copy");
  app::AddRunOptions(&other, &copy.run);
  other.Add("train.lr", &copy.lr, "");
  other.Add("train.steps", &copy.steps, "");
  other.Add("train.warmup_steps", &copy.warmup, "");
  other.Add("train.model", &copy.model, "");
  other.Add("data.cameras", &copy.cameras, "");
  other.Add("train.amp", &copy.amp, "");
  other.ApplyYaml(yaml, "resolved");
  EXPECT_EQ(copy.lr, 0.25);
  EXPECT_EQ(copy.steps, 77);
  EXPECT_EQ(copy.run.seed, 3);
  EXPECT_EQ(copy.run.output, "out");
  EXPECT_EQ(copy.cameras, sample_.cameras);
  EXPECT_EQ(other.ToYaml().substr(other.ToYaml().find('\n')), yaml.substr(yaml.find('\n')));
}

TEST(ClosestMatch, SuggestsByEditDistanceAndLastComponent) {
  const std::vector<std::string> keys = {"train.lr", "train.steps", "datagen.episodes"};
  EXPECT_EQ(ClosestMatch("train.setps", keys), "train.steps");
  EXPECT_EQ(ClosestMatch("episodes", keys), "datagen.episodes");
  EXPECT_EQ(ClosestMatch("completely.different.thing", keys), "");
}

}  // namespace
}  // namespace simscale::config

namespace simscale::config {
namespace {

TEST(ConfigRequired, AKeyWithAnInvalidDefaultMustBeSet) {
  std::string dataset;
  Schema schema("tool", "test");
  schema.Add("train.dataset", &dataset, "dataset").NonEmpty().Flag("dataset");
  const char* bare[] = {"tool"};
  try {
    schema.Parse(1, bare);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()),
              "config key 'train.dataset' is required: expected a non-empty string, and no "
              "--config file, --set or flag sets it");
  }
  const char* set[] = {"tool", "--dataset", "data.h5"};
  schema.Parse(3, set);
  EXPECT_EQ(dataset, "data.h5");
}

}  // namespace
}  // namespace simscale::config

namespace simscale::config {
namespace {

enum class Precision { kFp32, kBf16 };

// The message of the ConfigError that `apply` throws ("" if none).
template <typename F>
std::string ErrorOf(F apply) {
  try {
    apply();
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(ChoiceOption, WordsBecomeEnumValuesAndReadExactlyLikeAStringOneOf) {
  Precision precision = Precision::kFp32;
  std::string word = "fp32";
  Schema choice("tool", "a tool"), text("tool", "a tool");
  choice
      .AddChoice("train.precision", &precision,
                 {{"fp32", Precision::kFp32}, {"bf16", Precision::kBf16}}, "precision")
      .Flag("precision");
  text.Add("train.precision", &word, "precision").OneOf({"fp32", "bf16"}).Flag("precision");
  const char* args[] = {"tool", "--precision", "bf16"};
  choice.Parse(3, args);
  text.Parse(3, args);
  EXPECT_EQ(precision, Precision::kBf16);
  EXPECT_EQ(choice.ToYaml(), text.ToYaml());
  EXPECT_EQ(choice.HelpText(), text.HelpText());
  // Bad words, lists and empty values fail with the string option's messages.
  for (const std::string yaml :
       {"train: {precision: fp64}", "train: {precision: [fp32]}", "train: {precision: }"}) {
    const std::string error = ErrorOf([&] { choice.ApplyYaml(yaml, "file"); });
    EXPECT_FALSE(error.empty()) << yaml;
    EXPECT_EQ(error, ErrorOf([&] { text.ApplyYaml(yaml, "file"); })) << yaml;
  }
  EXPECT_EQ(ErrorOf([&] { choice.ApplySet("train.precision=fp16"); }),
            "config key 'train.precision' (from --set): expected one of {fp32, bf16}, got 'fp16'");
  EXPECT_EQ(precision, Precision::kBf16) << "a rejected word leaves the value alone";
}

}  // namespace
}  // namespace simscale::config
