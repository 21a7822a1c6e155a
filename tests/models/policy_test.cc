// The policy contract, the registry, the shapes of seed-spec §13, parameter counts, normalisation
// and the language padding mask.
#include <memory>
#include <string>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/error.h"
#include "common/models/bc.h"
#include "common/models/policy.h"
#include "common/models/tokenizer.h"
#include "common/models/vla.h"
#include "tests/models/test_batches.h"

namespace simscale::models {
namespace {

using testing::RandomBatch;

ModelOptions Bc(int64_t state_dim, int64_t action_dim) {
  ModelOptions o;
  o.spec.state_dim = state_dim;
  o.spec.action_dim = action_dim;
  return o;
}

// The tests' and CI's debug VLA of the original: image 64, patch 16, width 64, 2 heads, 2 layers.
ModelOptions DebugVla(bool language, int64_t state_dim) {
  ModelOptions o;
  o.spec.state_dim = state_dim;
  o.spec.action_dim = 4;
  o.spec.policy.cameras = {"front"};
  o.spec.policy.image_size = 64;
  o.spec.policy.uses_language = language;
  o.vla.patch_size = 16;
  o.vla.embed_dim = 64;
  o.vla.num_heads = 2;
  o.vla.num_layers = 2;
  o.vla.state_token = state_dim > 0;
  return o;
}

TEST(Registry, ListsBcAndVlaSorted) {
  const auto names = ListModels();
  ASSERT_GE(names.size(), 2u);
  EXPECT_TRUE(std::is_sorted(names.begin(), names.end()));
  EXPECT_NE(std::find(names.begin(), names.end(), "bc"), names.end());
  EXPECT_NE(std::find(names.begin(), names.end(), "vla"), names.end());
}

TEST(Registry, UnknownNameListsTheValidOnes) {
  try {
    MakeModel("transformer_xl", Bc(20, 4));
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("unknown model 'transformer_xl'"), std::string::npos) << message;
    EXPECT_NE(message.find("bc, vla"), std::string::npos) << message;
  }
}

TEST(Registry, BuildsFromTypedOptionsAndRecordsItsName) {
  ModelOptions o = Bc(20, 4);
  o.bc.hidden_dim = 64;
  o.bc.num_layers = 2;
  auto model = MakeModel("bc", o);
  EXPECT_EQ(model->name(), "bc");
  EXPECT_EQ(model->spec().state_dim, 20);
  // 20->64->64->64 encoder, 64->64->64->4 head.
  const int64_t expected = (20 * 64 + 64) + 2 * (64 * 64 + 64) + 2 * (64 * 64 + 64) + (64 * 4 + 4);
  EXPECT_EQ(model->ParameterCount(), expected);
  EXPECT_THROW(MakeModel("bc", Bc(20, 0)), InvalidArgumentError);  // options are validated
}

TEST(Bc, ParameterCountMatchesTheOriginal) {
  EXPECT_EQ(MakeModel("bc", Bc(20, 4))->ParameterCount(), 335364);
  EXPECT_EQ(MakeModel("bc", Bc(28, 4))->ParameterCount(), 337412);
}

TEST(Vla, ParameterCountsMatchTheOriginal) {
  ModelOptions o;  // defaults: the 1.4M train_vla model
  o.spec.state_dim = 28;
  o.spec.action_dim = 4;
  o.spec.policy.cameras = {"front"};
  o.spec.policy.uses_language = true;
  EXPECT_EQ(MakeModel("vla", o)->ParameterCount(), 1404612);
  EXPECT_EQ(MakeModel("vla", DebugVla(false, 0))->ParameterCount(), 256740);
}

// --- Shapes of seed-spec §13
// -----------------------------------------------------------------------

TEST(Bc, StateOnlyForwardGivesScalarLossAndBatchOfActions) {
  torch::manual_seed(0);
  ModelOptions o = Bc(20, 4);
  o.bc.hidden_dim = 64;
  o.bc.num_layers = 2;
  auto model = MakeModel("bc", o);
  const auto out = model->Forward(RandomBatch(model->spec(), 8, true));
  EXPECT_EQ(out.loss.dim(), 0);
  EXPECT_GT(out.loss.item<double>(), 0.0);
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{8, 4}));
  ASSERT_EQ(out.metrics.count("action_mse"), 1u);
  ASSERT_EQ(out.metrics.count("action_mae"), 1u);
  // The metrics describe the returned predictions against the targets, in raw units.
  const Batch batch = RandomBatch(model->spec(), 8, true);
  model->eval();
  const auto checked = model->Forward(batch);
  const auto error = checked.predicted_actions - batch.actions;
  EXPECT_NEAR(checked.metrics.at("action_mse"), error.pow(2).mean().item<double>(), 1e-6);
  EXPECT_NEAR(checked.metrics.at("action_mae"), error.abs().mean().item<double>(), 1e-6);
  EXPECT_TRUE(
      model->Forward(RandomBatch(model->spec(), 8, true), /*with_metrics=*/false).metrics.empty());
}

TEST(Bc, WithImageForwardGivesBatchOfActions) {
  torch::manual_seed(0);
  ModelOptions o = Bc(20, 4);
  o.spec.policy.cameras = {"image"};
  o.spec.policy.image_size = 64;
  o.bc.image_embed_dim = 32;
  auto model = MakeModel("bc", o);
  const auto out = model->Forward(RandomBatch(model->spec(), 4, true));
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{4, 4}));
  EXPECT_TRUE(torch::isfinite(out.loss).item<bool>());
}

TEST(Bc, PredictOnOneObservationGivesOneChunk) {
  auto model = MakeModel("bc", Bc(10, 3));
  Batch b;
  b.state = torch::randn({1, 10});
  EXPECT_EQ(model->Predict(b).sizes(), (std::vector<int64_t>{1, 1, 3}));
}

TEST(Vla, ImageOnlyForwardGivesLossAndActions) {
  torch::manual_seed(0);
  auto model = MakeModel("vla", DebugVla(false, 0));
  const auto out = model->Forward(RandomBatch(model->spec(), 4, true));
  EXPECT_EQ(out.loss.dim(), 0);
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{4, 4}));
}

TEST(Vla, WithLanguageForwardGivesActions) {
  torch::manual_seed(0);
  ModelOptions o = DebugVla(true, 0);
  o.vla.vocab_size = 100;
  o.vla.max_text_len = 32;
  auto model = MakeModel("vla", o);
  const auto out = model->Forward(RandomBatch(model->spec(), 2, false, 32));
  EXPECT_FALSE(out.loss.defined());
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{2, 1, 4}));
}

TEST(Vla, ActionHorizonGivesChunks) {
  torch::manual_seed(0);
  ModelOptions o = DebugVla(true, 6);
  o.spec.policy.action_horizon = 4;
  auto model = MakeModel("vla", o);
  const auto batch = RandomBatch(model->spec(), 2, true);
  ASSERT_EQ(batch.actions.sizes(), (std::vector<int64_t>{2, 4, 4}));
  const auto out = model->Forward(batch);
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{2, 4, 4}));
  EXPECT_EQ(model->Predict(batch).sizes(), (std::vector<int64_t>{2, 4, 4}));
}

TEST(ActionHeads, DiffusionHeadGivesTheSameShapesForBcAndVla) {
  torch::manual_seed(0);
  ModelOptions bc = Bc(12, 3);
  bc.spec.policy.action_horizon = 5;
  bc.head.type = "diffusion";
  bc.head.hidden_dim = 64;
  auto bc_model = MakeModel("bc", bc);
  const auto bc_batch = RandomBatch(bc_model->spec(), 6, true);
  EXPECT_EQ(bc_model->Forward(bc_batch).predicted_actions.sizes(), (std::vector<int64_t>{6, 5, 3}));
  EXPECT_EQ(bc_model->Predict(bc_batch).sizes(), (std::vector<int64_t>{6, 5, 3}));

  ModelOptions vla = DebugVla(true, 6);
  vla.head.type = "diffusion";
  vla.head.hidden_dim = 64;
  auto vla_model = MakeModel("vla", vla);
  const auto vla_batch = RandomBatch(vla_model->spec(), 3, true);
  const auto out = vla_model->Forward(vla_batch);
  EXPECT_EQ(out.predicted_actions.sizes(), (std::vector<int64_t>{3, 4}));
  EXPECT_TRUE(torch::isfinite(out.loss).item<bool>());
}

// --- Contract
// ---------------------------------------------------------------------------------------

TEST(Policy, PredictRunsInEvalModeAndRestoresTrainingMode) {
  ModelOptions o = Bc(6, 2);
  o.bc.dropout = 0.5;
  auto model = MakeModel("bc", o);
  model->train();
  Batch b;
  b.state = torch::randn({4, 6});
  const auto first = model->Predict(b);
  const auto second = model->Predict(b);
  EXPECT_TRUE(torch::equal(first, second));  // no dropout: deterministic
  EXPECT_TRUE(model->is_training());
  EXPECT_FALSE(first.requires_grad());
}

TEST(Policy, StateNormalisationIsAppliedInsideTheModel) {
  torch::manual_seed(5);
  auto model = MakeModel("bc", Bc(3, 2));
  Batch raw;
  raw.state = torch::randn({5, 3}) * 10 + 100;
  NormalizationStats stats;
  stats.state_mean = {100, 100, 100};
  stats.state_std = {10, 10, 10};
  model->SetNormalization(stats);
  const auto with_stats = model->Predict(raw);
  model->SetNormalization({{0, 0, 0}, {1, 1, 1}, {}, {}, {}, {}, {}, {}});
  Batch normalised;
  normalised.state = (raw.state - 100) / 10;
  EXPECT_LT((model->Predict(normalised) - with_stats).abs().max().item<double>(), 1e-5);
}

TEST(Policy, ActionNormalisationMapsToRawUnitsAndClampsToBounds) {
  torch::manual_seed(6);
  ModelOptions o = Bc(4, 2);
  o.spec.action_low = {-1000, -1000};
  o.spec.action_high = {1000, 1000};
  auto model = MakeModel("bc", o);
  Batch b;
  b.state = torch::randn({7, 4});
  const auto normalised = model->Predict(b);
  NormalizationStats stats;
  stats.action_min = {10, -4};
  stats.action_max = {20, 0};  // offset (15, -2), scale (5, 2)
  model->SetNormalization(stats);
  const auto raw = model->Predict(b);
  const auto expected = normalised * torch::tensor({5.0f, 2.0f}) + torch::tensor({15.0f, -2.0f});
  EXPECT_LT((raw - expected).abs().max().item<double>(), 1e-4);

  // Bounds: a model whose bounds are [14.9, 15.1] x [-2.01, -1.99] never leaves them.
  ModelOptions tight = o;
  tight.spec.action_low = {14.9, -2.01};
  tight.spec.action_high = {15.1, -1.99};
  auto bounded = MakeModel("bc", tight);
  bounded->SetNormalization(stats);
  const auto clamped = bounded->Predict(b);
  EXPECT_GE(clamped.select(2, 0).min().item<double>(), 14.9 - 1e-5);
  EXPECT_LE(clamped.select(2, 0).max().item<double>(), 15.1 + 1e-5);
}

TEST(Policy, ZeroStandardDeviationIsGuarded) {
  auto model = MakeModel("bc", Bc(2, 1));
  NormalizationStats stats;
  stats.state_mean = {1, 2};
  stats.state_std = {0, 3};
  stats.action_mean = {0.5};
  stats.action_std = {0};
  model->SetNormalization(stats);
  const auto held = model->normalization();
  EXPECT_EQ(held.state_std, (std::vector<double>{1, 3}));
  EXPECT_EQ(held.action_std, (std::vector<double>{1}));
  EXPECT_EQ(held.state_mean, (std::vector<double>{1, 2}));
  // The statistics are buffers, i.e. part of what checkpoints save.
  const auto buffers = model->named_buffers();
  ASSERT_TRUE(buffers.contains("normalizer.state_mean"));
  EXPECT_FLOAT_EQ(buffers["normalizer.state_mean"][1].item<float>(), 2.0f);
  Batch b;
  b.state = torch::ones({1, 2});
  EXPECT_TRUE(torch::isfinite(model->Predict(b)).all().item<bool>());
  EXPECT_THROW(model->SetNormalization({{1, 2, 3}, {1, 1, 1}, {}, {}, {}, {}, {}, {}}),
               InvalidArgumentError);
}

TEST(Policy, BadBatchReportsEveryProblemAtOnce) {
  ModelOptions o = Bc(5, 2);
  o.spec.policy.cameras = {"front"};
  auto model = MakeModel("bc", o);
  Batch b;
  b.state = torch::randn({3, 4});                   // wrong width
  b.images["wrist"] = torch::rand({3, 3, 64, 64});  // wrong camera
  b.actions = torch::randn({3, 3});                 // wrong action size
  try {
    model->Forward(b);
    FAIL() << "expected an InvalidArgumentError";
  } catch (const InvalidArgumentError& e) {
    const std::string message = e.what();
    EXPECT_NE(message.find("state: expected float (B=3, 5), got [3, 4]"), std::string::npos)
        << message;
    EXPECT_NE(message.find("camera 'front' missing (batch has [wrist])"), std::string::npos)
        << message;
    EXPECT_NE(message.find("actions: expected"), std::string::npos) << message;
  }
}

// --- Language padding ---------------------------------------------------------------------------

TEST(Vla, PaddedLanguagePositionsNeverInfluenceTheOutput) {
  torch::manual_seed(8);
  ModelOptions o = DebugVla(true, 5);
  o.vla.max_text_len = 24;
  auto model = MakeModel("vla", o);
  Batch b = RandomBatch(model->spec(), 3, false, 24);
  // Row 2: no real token at all.
  b.language_tokens[2].zero_();
  b.language_mask[2].fill_(false);
  const auto reference = model->Predict(b);
  ASSERT_TRUE(torch::isfinite(reference).all().item<bool>());

  // Fill every padded position with arbitrary real ids; the mask still says padding.
  Batch noisy = b;
  const auto random_ids = torch::randint(1, 44, b.language_tokens.sizes(), torch::kInt64);
  noisy.language_tokens = torch::where(b.language_mask, b.language_tokens, random_ids);
  ASSERT_GT(noisy.language_tokens.ne(b.language_tokens).sum().item<int64_t>(), 20);
  EXPECT_TRUE(torch::equal(model->Predict(noisy), reference));  // bit for bit

  // The same change at a real position does change the output (the test can fail).
  Batch changed = b;
  changed.language_tokens = b.language_tokens.clone();
  changed.language_tokens[0][0] = (b.language_tokens[0][0].item<int64_t>() % 43) + 1;
  EXPECT_GT((model->Predict(changed) - reference).abs().max().item<double>(), 0.0);
}

TEST(LanguageEncoder, RealPositionsIgnorePaddingContent) {
  torch::manual_seed(12);
  LanguageEncoderOptions options;
  options.dim = 32;
  options.heads = 4;
  options.max_len = 16;
  LanguageEncoder encoder(options);
  encoder->eval();
  auto tokens = torch::randint(1, 44, {2, 16}, torch::kInt64);
  auto mask = torch::arange(16).lt(torch::tensor({{9}, {4}}));  // lengths 9 and 4
  const auto reference = encoder(tokens, mask);
  const auto other = encoder(torch::where(mask, tokens, torch::randint(1, 44, {2, 16})), mask);
  EXPECT_TRUE(torch::equal(reference, other));
  EXPECT_EQ(reference.masked_select(mask.logical_not().unsqueeze(-1)).abs().max().item<float>(),
            0.0f);  // padded outputs are zero
  // A real token does matter, strongly, to the encoder's outputs.
  auto changed = tokens.clone();
  changed[0][2] = tokens[0][2].item<int64_t>() % 43 + 1;
  EXPECT_GT((encoder(changed, mask) - reference).abs().max().item<double>(), 1e-2);
}

// --- Overfitting a tiny fixed batch -------------------------------------------------------------

double TrainSteps(Policy& model, const Batch& batch, int steps, double lr) {
  model.train();
  torch::optim::Adam optimizer(model.parameters(), torch::optim::AdamOptions(lr));
  double loss = 0;
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    auto out = model.Forward(batch);
    out.loss.backward();
    optimizer.step();
    loss = out.loss.item<double>();
  }
  return loss;
}

TEST(Bc, OverfitsATinyFixedBatch) {
  torch::manual_seed(9);
  ModelOptions o = Bc(10, 3);
  o.bc.dropout = 0.0;
  auto model = MakeModel("bc", o);
  const Batch batch = RandomBatch(model->spec(), 8, true);
  const double loss = TrainSteps(*model, batch, 300, 1e-3);
  EXPECT_LT(loss, 1e-4);
  EXPECT_LT((model->Predict(batch).squeeze(1) - batch.actions).abs().max().item<double>(), 0.02);
}

TEST(Vla, OverfitsATinyFixedBatch) {
  torch::manual_seed(10);
  ModelOptions o = DebugVla(true, 6);
  o.vla.dropout = 0.0;
  auto model = MakeModel("vla", o);
  const Batch batch = RandomBatch(model->spec(), 4, true);
  const double loss = TrainSteps(*model, batch, 300, 1e-3);
  EXPECT_LT(loss, 1e-3);
  EXPECT_LT((model->Predict(batch).squeeze(1) - batch.actions).abs().max().item<double>(), 0.1);
}

// The debug VLA with an 8-keypoint stem and no dropout.
ModelOptions KeypointVla(bool language, int64_t state_dim) {
  ModelOptions o = DebugVla(language, state_dim);
  o.vla.dropout = 0.0;
  o.vla.stem = "keypoints";
  o.vla.keypoints = 8;
  return o;
}

// Each named parameter exists and got a non-zero gradient.
void ExpectGradients(Policy& model, std::initializer_list<const char*> names) {
  const auto parameters = model.named_parameters();
  for (const char* name : names) {
    ASSERT_TRUE(parameters.contains(name)) << name;
    ASSERT_TRUE(parameters[name].grad().defined()) << name;
    EXPECT_GT(parameters[name].grad().abs().sum().item<double>(), 0.0) << name;
  }
}

// With FiLM the instruction reaches the keypoint stem: the stem's modulation weights get gradient
// from the loss (their gradient is the instruction's mean encoding times the stem's, so it is zero
// unless both paths are connected). KeypointStem's own test shows the modulation moves keypoints.
TEST(Vla, FilmSendsTheInstructionIntoTheKeypointStem) {
  torch::manual_seed(12);
  ModelOptions o = KeypointVla(true, 6);
  o.vla.film = true;
  auto model = MakeModel("vla", o);
  model->Forward(RandomBatch(model->spec(), 4, true)).loss.backward();
  ExpectGradients(*model, {"vision.keypoints.film_weight", "vision.keypoints.film_bias"});
  // Without FiLM the stem has no such parameters.
  o.vla.film = false;
  EXPECT_FALSE(MakeModel("vla", o)->named_parameters().contains("vision.keypoints.film_weight"));
}

// Pointers: the instruction reaches their filters (their weights get gradient from the action
// loss), their tokens join each camera's, and with the skip the head reads their coordinates too.
TEST(Vla, PointersReadTheInstructionAndReachTheHead) {
  torch::manual_seed(15);
  ModelOptions o = KeypointVla(true, 6);
  o.spec.policy.cameras = {"agentview", "wrist"};
  o.vla.film = true;
  o.vla.pointers = 3;
  o.vla.keypoint_skip = true;
  auto model = MakeModel("vla", o);
  model->Forward(RandomBatch(model->spec(), 4, true)).loss.backward();
  ExpectGradients(*model, {"vision.keypoints.pointer_weight", "vision.keypoints.pointer_bias",
                           "words.bag.weight"});
  int64_t widest = 0;
  for (const auto& item : model->named_parameters()) {
    if (item.key().rfind("head.", 0) == 0 && item.value().dim() == 2) {
      widest = std::max(widest, item.value().size(1));
    }
  }
  EXPECT_EQ(widest, o.vla.embed_dim + 2 * (8 + 3) * 2);
}

// The keypoint skip hands the head every camera's keypoint coordinates: with the coordinates'
// way into the tokens cut (their linear map zeroed), the loss still reaches the stem's
// convolutions through the skip, and only through it.
TEST(Vla, KeypointSkipGivesTheHeadEveryCamerasCoordinates) {
  for (const bool skip : {false, true}) {
    torch::manual_seed(14);
    ModelOptions o = KeypointVla(false, 6);
    o.spec.policy.cameras = {"agentview", "wrist"};
    o.vla.keypoint_skip = skip;
    auto model = MakeModel("vla", o);
    const auto parameters = model->named_parameters();
    {
      torch::NoGradGuard no_grad;
      parameters["vision.keypoints.coordinates_weight"].zero_();
      parameters["vision.keypoints.coordinates_bias"].zero_();
    }
    model->Forward(RandomBatch(model->spec(), 4, true)).loss.backward();
    const auto stem = parameters["vision.keypoints.net.0.weight"].grad();
    ASSERT_TRUE(stem.defined());
    const double magnitude = stem.abs().sum().item<double>();
    if (skip) {
      EXPECT_GT(magnitude, 0.0);
    } else {
      EXPECT_EQ(magnitude, 0.0);
    }
    // The head reads the fused feature plus 2 coordinates of each keypoint of each camera.
    int64_t widest = 0;
    for (const auto& item : parameters) {
      if (item.key().rfind("head.", 0) == 0 && item.value().dim() == 2) {
        widest = std::max(widest, item.value().size(1));
      }
    }
    EXPECT_EQ(widest, o.vla.embed_dim + (skip ? 2 * 8 * 2 : 0));
  }
}

// Auxiliary targets (model.target_keys): their normalised squared error joins the loss with its
// weight, their gradient reaches the image stem (what they are for: the features must say where
// the object is), and they never change the actions a model predicts.
TEST(Policy, AuxiliaryTargetsAddTheirLossReachTheStemAndNeverChangeActions) {
  torch::manual_seed(13);
  ModelOptions o = KeypointVla(false, 6);
  o.spec.target_dim = 3;
  o.target_keys = {"object_pos"};
  o.target_weight = 0.5;
  auto model = MakeModel("vla", o);
  NormalizationStats stats;
  stats.target_mean = {0.4, -0.1, 0.8};
  stats.target_std = {0.1, 0.2, 0.05};
  model->SetNormalization(stats);
  const NormalizationStats held = model->normalization();  // float buffers
  ASSERT_EQ(held.target_std.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FLOAT_EQ(held.target_mean[i], stats.target_mean[i]);
    EXPECT_FLOAT_EQ(held.target_std[i], stats.target_std[i]);
  }
  Batch batch = RandomBatch(model->spec(), 5, true);
  const Batch without = batch;
  batch.targets = torch::randn({5, 3}) * 0.1 + torch::tensor({0.4f, -0.1f, 0.8f});

  const ForwardOutput plain = model->Forward(without);
  EXPECT_FALSE(plain.target_loss.defined());
  const ForwardOutput out = model->Forward(batch);
  ASSERT_TRUE(out.target_loss.defined());
  EXPECT_GT(out.target_loss.item<double>(), 0.0);
  EXPECT_NEAR(out.loss.item<double>(),
              plain.loss.item<double>() + 0.5 * out.target_loss.item<double>(), 1e-6);
  // Normalised by the statistics: the same targets already standardised, under identity
  // statistics, give the same target loss.
  torch::manual_seed(13);
  auto identity = MakeModel("vla", o);  // the same weights, identity target statistics
  Batch standardised = batch;
  standardised.targets =
      (batch.targets - torch::tensor({0.4f, -0.1f, 0.8f})) / torch::tensor({0.1f, 0.2f, 0.05f});
  EXPECT_NEAR(identity->Forward(standardised).target_loss.item<double>(),
              out.target_loss.item<double>(), 1e-5 * out.target_loss.item<double>());
  EXPECT_GT(std::abs(identity->Forward(batch).target_loss.item<double>() -
                     out.target_loss.item<double>()),
            0.1 * out.target_loss.item<double>());

  // The target loss alone reaches the keypoint stem and the target head.
  model->zero_grad();
  out.target_loss.backward();
  ExpectGradients(*model, {"target_head.weight", "vision.keypoints.net.0.weight"});
  // Inference ignores them.
  EXPECT_TRUE(torch::equal(model->Predict(batch), model->Predict(without)));
  // Wrong width, or targets for a model that predicts none, are refused.
  Batch wrong = batch;
  wrong.targets = torch::zeros({5, 4});
  EXPECT_THROW(model->Forward(wrong), InvalidArgumentError);
  o.target_keys.clear();
  o.spec.target_dim = 0;
  auto none = MakeModel("vla", o);
  EXPECT_FALSE(none->named_parameters().contains("target_head.weight"));
  EXPECT_THROW(none->Forward(batch), InvalidArgumentError);
}

// The vision stems and the head's direct state input train like the original layout.
class VlaStemTest : public ::testing::TestWithParam<const char*> {};

TEST_P(VlaStemTest, OverfitsATinyFixedBatch) {
  torch::manual_seed(11);
  ModelOptions o = DebugVla(true, 6);
  o.vla.dropout = 0.0;
  o.vla.stem = GetParam();
  o.vla.keypoints = 8;
  o.vla.state_skip = true;
  auto model = MakeModel("vla", o);
  const Batch batch = RandomBatch(model->spec(), 4, true);
  const double loss = TrainSteps(*model, batch, 300, 1e-3);
  EXPECT_LT(loss, 1e-3);
  EXPECT_LT((model->Predict(batch).squeeze(1) - batch.actions).abs().max().item<double>(), 0.1);
}

INSTANTIATE_TEST_SUITE_P(Stems, VlaStemTest, ::testing::Values("patch", "conv", "keypoints"));

}  // namespace
}  // namespace simscale::models
