// The diffusion action head: any depth, schedules, strided DDIM sampling, bounds, overfitting, and
// the claim that matters: on a two-mode action distribution its samples land on both modes, where
// MSE regression lands between them.
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/error.h"
#include "common/models/action_heads.h"
#include "common/models/policy.h"
#include "tests/models/test_batches.h"

namespace simscale::models {
namespace {

ModelOptions DiffusionBc(int64_t state_dim, int64_t action_dim) {
  ModelOptions o;
  o.spec.state_dim = state_dim;
  o.spec.action_dim = action_dim;
  o.bc.hidden_dim = 64;
  o.bc.num_layers = 2;
  o.bc.dropout = 0.0;
  o.head.type = "diffusion";
  o.head.hidden_dim = 128;
  o.head.num_layers = 3;
  return o;
}

TEST(DiffusionHead, TrainsAtAnyDepth) {
  // The original built every residual block for the first block's input width, so any depth >= 2
  // failed at the first forward pass.
  for (const int64_t layers : {1, 2, 6}) {
    torch::manual_seed(0);
    ActionHeadOptions options;
    options.hidden_dim = 32;
    options.num_layers = layers;
    DiffusionActionHead head(16, options, /*horizon=*/2, /*action_dim=*/3);
    const auto features = torch::randn({5, 16});
    const auto out = head.Loss(features, torch::rand({5, 2, 3}));
    out.loss.backward();
    EXPECT_TRUE(torch::isfinite(out.loss).item<bool>()) << layers;
    EXPECT_EQ(out.prediction.sizes(), (std::vector<int64_t>{5, 2, 3}));
    const auto first = head.named_parameters()["blocks.0.mlp.0.weight"];
    ASSERT_TRUE(first.grad().defined());
    EXPECT_GT(first.grad().abs().sum().item<double>(), 0.0) << layers;
    EXPECT_EQ(head.Sample(features, -torch::ones({3}), torch::ones({3})).sizes(),
              (std::vector<int64_t>{5, 2, 3}));
  }
}

TEST(DiffusionHead, SchedulesEndWithAlmostNoSignal) {
  for (const char* schedule : {"linear", "cosine"}) {
    for (const int64_t steps : {50, 100, 1000}) {
      ActionHeadOptions options;
      options.schedule = schedule;
      options.diffusion_steps = steps;
      options.inference_steps = 10;
      DiffusionActionHead head(8, options, 1, 2);
      const auto abar = head.alphas_cumprod();
      ASSERT_EQ(abar.size(0), steps);
      EXPECT_GT(abar[0].item<double>(), 0.97) << schedule << steps;
      EXPECT_LT(abar[steps - 1].item<double>(), 1e-3) << schedule << steps;
      EXPECT_TRUE((abar.slice(0, 1) < abar.slice(0, 0, steps - 1)).all().item<bool>());
    }
  }
}

TEST(DiffusionHead, DdimVisitsEvenlySpacedTimestepsFromTheLastToZero) {
  ActionHeadOptions options;  // T = 100, 10 inference steps
  DiffusionActionHead head(8, options, 1, 2);
  EXPECT_EQ(head.SamplingTimesteps(),
            (std::vector<int64_t>{99, 88, 77, 66, 55, 44, 33, 22, 11, 0}));
  head.set_inference_steps(1);
  EXPECT_EQ(head.SamplingTimesteps(), (std::vector<int64_t>{99}));
  head.set_inference_steps(100);
  EXPECT_EQ(head.SamplingTimesteps().size(), 100u);
  EXPECT_THROW(head.set_inference_steps(101), InvalidArgumentError);
}

TEST(DiffusionHead, SamplesStayInsideTheActionBounds) {
  torch::manual_seed(1);
  ModelOptions o = DiffusionBc(4, 2);
  o.spec.action_low = {-0.2, 0.5};
  o.spec.action_high = {0.1, 0.6};
  auto model = MakeModel("bc", o);
  Batch b;
  b.state = torch::randn({256, 4});
  const auto actions = model->Predict(b);  // untrained: raw samples are spread widely
  EXPECT_GE(actions.select(2, 0).min().item<double>(), -0.2 - 1e-6);
  EXPECT_LE(actions.select(2, 0).max().item<double>(), 0.1 + 1e-6);
  EXPECT_GE(actions.select(2, 1).min().item<double>(), 0.5 - 1e-6);
  EXPECT_LE(actions.select(2, 1).max().item<double>(), 0.6 + 1e-6);
}

double Train(Policy& model, const std::function<Batch()>& next_batch, int steps, double lr) {
  model.train();
  torch::optim::AdamW optimizer(model.parameters(), torch::optim::AdamWOptions(lr));
  double recent = 0.0;
  for (int i = 0; i < steps; ++i) {
    optimizer.zero_grad();
    auto out = model.Forward(next_batch());
    out.loss.backward();
    optimizer.step();
    if (i >= steps - 100) recent += out.loss.item<double>() / 100.0;
  }
  return recent;
}

TEST(DiffusionHead, OverfitsATinyFixedBatch) {
  torch::manual_seed(2);
  auto model = MakeModel("bc", DiffusionBc(6, 2));
  const Batch batch = testing::RandomBatch(model->spec(), 4, true);
  // The same four pairs, each with 32 noise draws per step.
  Batch repeated;
  repeated.state = batch.state.repeat({32, 1});
  repeated.actions = batch.actions.repeat({32, 1});
  const double loss = Train(
      *model, [&] { return repeated; }, 1000, 2e-3);
  EXPECT_LT(loss, 0.04);  // noise-prediction MSE, mean of the last 100 steps (1.0 untrained)
  const auto sampled = model->Predict(batch).squeeze(1);
  EXPECT_LT((sampled - batch.actions).abs().max().item<double>(), 0.1) << sampled << batch.actions;
}

// One observation; the expert's action is +0.8 or -0.8 with equal probability.
Batch TwoModeBatch(int64_t size) {
  Batch b;
  b.state = torch::zeros({size, 1});
  b.actions = torch::where(torch::rand({size, 1}) < 0.5, torch::full({size, 1}, 0.8f),
                           torch::full({size, 1}, -0.8f));
  return b;
}

TEST(DiffusionHead, SamplesCoverBothModesWhereRegressionAverages) {
  torch::manual_seed(3);
  auto diffusion = MakeModel("bc", DiffusionBc(1, 1));
  Train(
      *diffusion, [] { return TwoModeBatch(64); }, 1500, 2e-3);
  Batch query;
  query.state = torch::zeros({400, 1});
  const auto samples = diffusion->Predict(query).flatten();
  const double near_high = ((samples - 0.8).abs() < 0.2).to(torch::kDouble).mean().item<double>();
  const double near_low = ((samples + 0.8).abs() < 0.2).to(torch::kDouble).mean().item<double>();
  const double between = (samples.abs() < 0.4).to(torch::kDouble).mean().item<double>();
  EXPECT_GT(near_high, 0.3);
  EXPECT_GT(near_low, 0.3);
  EXPECT_LT(between, 0.1);

  torch::manual_seed(3);
  ModelOptions mse = DiffusionBc(1, 1);
  mse.head.type = "mlp";
  auto regression = MakeModel("bc", mse);
  Train(
      *regression, [] { return TwoModeBatch(64); }, 300, 2e-3);
  const auto predicted = regression->Predict(query).flatten();
  EXPECT_LT(predicted.abs().max().item<double>(), 0.2);  // between the modes, near their mean
}

}  // namespace
}  // namespace simscale::models
