// The fused CPU path (oneDNN sgemm + fused kernels) against plain LibTorch operations, and the
// fused AdamW against torch::optim::AdamW.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "common/core/error.h"
#include "common/models/cpu_kernels.h"
#include "common/models/layers.h"
#include "common/models/optimizer.h"
#include "common/models/tokenizer.h"

namespace simscale::models {
namespace {

// Runs `f` with the fused path, then with plain LibTorch; restores the default.
template <typename F>
std::pair<std::vector<torch::Tensor>, std::vector<torch::Tensor>> BothPaths(F f) {
  SetCpuKernels(CpuKernels::kAuto);
  auto fused = f();
  SetCpuKernels(CpuKernels::kTorch);
  auto plain = f();
  SetCpuKernels(CpuKernels::kAuto);
  return {fused, plain};
}

double MaxDiff(const torch::Tensor& a, const torch::Tensor& b) {
  return (a - b).abs().max().item<double>();
}

TEST(FusedCpu, DenseMatchesTorchLinearInValuesAndGradients) {
  torch::manual_seed(1);
  const auto x0 = torch::randn({3, 5, 40});
  const auto w0 = torch::randn({24, 40});
  const auto b0 = torch::randn({24});
  for (const bool with_bias : {true, false}) {
    auto run = [&] {
      auto x = x0.clone().requires_grad_(true);
      auto w = w0.clone().requires_grad_(true);
      auto b = b0.clone().requires_grad_(true);
      auto y = DenseForward(x, w, with_bias ? b : torch::Tensor());
      (y * y).sum().backward();
      std::vector<torch::Tensor> out = {y.detach(), x.grad(), w.grad()};
      if (with_bias) out.push_back(b.grad());
      return out;
    };
    const auto [fused, plain] = BothPaths(run);
    ASSERT_EQ(fused[0].sizes(), (std::vector<int64_t>{3, 5, 24}));
    for (size_t i = 0; i < fused.size(); ++i) {
      EXPECT_LT(MaxDiff(fused[i], plain[i]), 1e-3 * (1 + plain[i].abs().max().item<double>()))
          << "tensor " << i << " bias " << with_bias;
    }
  }
}

TEST(FusedCpu, TransformerBlockMatchesTorchPathWithMaskAndQueryCount) {
  torch::manual_seed(2);
  TransformerBlock block(TransformerBlockOptions(32, 4).dropout(0.0));
  const auto x0 = torch::randn({3, 9, 32});
  auto mask = torch::ones({3, 9}, torch::kBool);
  mask.index_put_({1, torch::indexing::Slice(4)}, false);
  for (const int64_t queries : {0, 1, 3}) {
    auto run = [&] {
      block->zero_grad();
      auto x = x0.clone().requires_grad_(true);
      auto y = block(x, mask, queries);
      (y * torch::sin(torch::arange(y.numel()).view(y.sizes()).to(torch::kFloat))).sum().backward();
      return std::vector<torch::Tensor>{y.detach(), x.grad(),
                                        block->named_parameters()["qkv.weight"].grad().clone(),
                                        block->named_parameters()["norm1.weight"].grad().clone(),
                                        block->named_parameters()["ffn.0.bias"].grad().clone()};
    };
    const auto [fused, plain] = BothPaths(run);
    EXPECT_EQ(fused[0].size(1), queries == 0 ? 9 : queries);
    for (size_t i = 0; i < fused.size(); ++i) {
      EXPECT_LT(MaxDiff(fused[i], plain[i]), 2e-5 * (1 + plain[i].abs().max().item<double>()))
          << "tensor " << i << " queries " << queries;
    }
  }
}

TEST(FusedCpu, GeluAndLayerNormMatchTorch) {
  const auto x0 = torch::linspace(-8, 8, 4001).view({1, 4001});
  auto gelu = [&] {
    auto x = x0.clone().requires_grad_(true);
    auto y = ActivationDropout(x, Activation::kGelu, 0.0, /*training=*/false);
    y.sum().backward();
    return std::vector<torch::Tensor>{y.detach(), x.grad()};
  };
  const auto [fused, plain] = BothPaths(gelu);
  EXPECT_LT(MaxDiff(fused[0], plain[0]), 2e-6);
  EXPECT_LT(MaxDiff(fused[1], plain[1]), 2e-6);

  torch::manual_seed(3);
  FusedLayerNorm norm(48);
  {
    torch::NoGradGuard no_grad;
    norm->weight.uniform_(0.5, 1.5);
    norm->bias.uniform_(-1, 1);
  }
  const auto z0 = torch::randn({6, 7, 48}) * 3 + 2;
  auto layer_norm = [&] {
    norm->zero_grad();
    auto z = z0.clone().requires_grad_(true);
    auto y = norm(z);
    (y * y.detach().cos()).sum().backward();
    return std::vector<torch::Tensor>{y.detach(), z.grad(), norm->weight.grad().clone(),
                                      norm->bias.grad().clone()};
  };
  const auto [fused_ln, plain_ln] = BothPaths(layer_norm);
  for (size_t i = 0; i < fused_ln.size(); ++i) {
    EXPECT_LT(MaxDiff(fused_ln[i], plain_ln[i]), 1e-4) << "tensor " << i;
  }
}

TEST(FusedCpu, DropoutKeepsTheRightFractionAndFollowsTheTorchSeed) {
  const auto ones = torch::ones({200000});
  torch::manual_seed(7);
  const auto a = ActivationDropout(ones, Activation::kIdentity, 0.3, /*training=*/true);
  torch::manual_seed(7);
  const auto b = ActivationDropout(ones, Activation::kIdentity, 0.3, /*training=*/true);
  const auto c = ActivationDropout(ones, Activation::kIdentity, 0.3, /*training=*/true);
  const double kept = a.ne(0).to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(kept, 0.7, 0.005);
  EXPECT_NEAR(a.mean().item<double>(), 1.0, 0.01);  // inverted dropout keeps the mean
  EXPECT_NEAR(a.max().item<double>(), 1.0 / 0.7, 1e-6);
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_FALSE(torch::equal(a, c));
  // Evaluation mode is the identity.
  EXPECT_TRUE(torch::equal(ActivationDropout(ones, Activation::kIdentity, 0.3, false), ones));
}

TEST(FusedCpu, ResultsDoNotDependOnTheThreadCount) {
  const int previous = at::get_num_threads();
  const auto x = torch::randn({300000});
  std::vector<torch::Tensor> results;
  for (const int threads : {1, 2}) {
    at::set_num_threads(threads);
    torch::manual_seed(21);
    auto input = x.clone().requires_grad_(true);
    auto y = ActivationDropout(input, Activation::kGelu, 0.2, /*training=*/true);
    y.backward(torch::ones_like(y));
    results.push_back(y.detach());
    results.push_back(input.grad());
  }
  at::set_num_threads(previous);
  EXPECT_TRUE(torch::equal(results[0], results[2]));
  EXPECT_TRUE(torch::equal(results[1], results[3]));
}

// A fused operation that kept its own output in its saved state would form a reference cycle
// (output -> autograd node -> saved state -> output) and leak every step's activations.
TEST(FusedCpu, AutogradGraphsReleaseTheirTensors) {
  torch::manual_seed(22);
  MlpOptions options;
  options.in = 8;
  options.hidden = {16, 16};
  options.out = 4;
  options.dropout = 0.1;
  Mlp mlp(options);
  TransformerBlock block(TransformerBlockOptions(16, 2));
  FusedLayerNorm norm(16);
  const auto check = [](const std::function<torch::Tensor()>& make, const char* what) {
    c10::weak_intrusive_ptr<c10::TensorImpl> weak(
        c10::intrusive_ptr<c10::TensorImpl>::reclaim(nullptr));
    {
      torch::Tensor out = make();
      out.sum().backward();
      weak = c10::weak_intrusive_ptr<c10::TensorImpl>(out.getIntrusivePtr());
      EXPECT_FALSE(weak.expired()) << what;
    }
    EXPECT_TRUE(weak.expired()) << what;
  };
  check([&] { return mlp(torch::randn({5, 8})); }, "mlp");
  check([&] { return mlp(torch::randn({5, 8}, torch::requires_grad())); }, "mlp with input grad");
  check(
      [&] {
        return block(torch::randn({2, 3, 16}), torch::ones({2, 3}, torch::kBool), 1);
      },
      "transformer block");
  check([&] { return norm(torch::randn({4, 16}, torch::requires_grad())); }, "layer norm");
}

// Row-major C = alpha op(A) op(B) + beta C on raw memory with row strides wider than the rows,
// on both paths, against at::matmul.
TEST(FusedCpu, CpuSgemmComputesTheProductOnBothPaths) {
  torch::manual_seed(6);
  const int64_t m = 5, n = 7, k = 9, pad = 3;
  for (const bool trans_a : {false, true}) {
    for (const bool trans_b : {false, true}) {
      const torch::Tensor a = torch::randn({trans_a ? k : m, (trans_a ? m : k) + pad});
      const torch::Tensor b = torch::randn({trans_b ? n : k, (trans_b ? k : n) + pad});
      const torch::Tensor c0 = torch::randn({m, n + pad});
      const torch::Tensor op_a = a.narrow(1, 0, trans_a ? m : k);
      const torch::Tensor op_b = b.narrow(1, 0, trans_b ? k : n);
      const torch::Tensor expected =
          0.5 * c0.narrow(1, 0, n) +
          2.0 * torch::matmul(trans_a ? op_a.t() : op_a, trans_b ? op_b.t() : op_b);
      const auto [fused, plain] = BothPaths([&] {
        torch::Tensor c = c0.clone();
        CpuSgemm(trans_a, trans_b, m, n, k, 2.0f, a.data_ptr<float>(), a.size(1),
                 b.data_ptr<float>(), b.size(1), 0.5f, c.data_ptr<float>(), c.size(1));
        return std::vector<torch::Tensor>{c};
      });
      for (const auto& c : {fused[0], plain[0]}) {
        EXPECT_LT(MaxDiff(c.narrow(1, 0, n), expected), 1e-5) << trans_a << trans_b;
        EXPECT_TRUE(torch::equal(c.narrow(1, n, pad), c0.narrow(1, n, pad)));  // padding kept
      }
    }
  }
}

TEST(FusedCpu, TanhRowsAreTanhToAFewUlpAndTheirBackwardSumsColumns) {
  // Every float step of 1e-4 over [-10, 10], plus the special values, in rows of 8 with a bias.
  std::vector<float> x;
  for (int i = -100000; i <= 100000; ++i) x.push_back(static_cast<float>(i) * 1e-4f);
  const float inf = std::numeric_limits<float>::infinity();
  x.insert(x.end(), {1e-30f, -1e-30f, 0.0f, 30.0f, -30.0f, inf, -inf});
  while (x.size() % 8 != 0) x.push_back(0.25f);
  const float bias[8] = {0, 0.5f, -0.5f, 0, 0, 0, 0, 1e-3f};
  std::vector<float> y = x;
  const auto rows = static_cast<int64_t>(x.size() / 8);
  internal::BiasTanhRows(y.data(), bias, rows, 8);
  double worst = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    const double expected = std::tanh(static_cast<double>(x[i] + bias[i % 8]));
    worst = std::max(worst, std::abs(y[i] - expected));
  }
  EXPECT_LT(worst, 5e-7);
  std::vector<float> nan_row(8, std::nanf(""));
  internal::BiasTanhRows(nan_row.data(), bias, 1, 8);
  EXPECT_TRUE(std::isnan(nan_row[3]));

  // Back: grad * (1 - y^2), and the column sums of that.
  std::vector<float> grad(y.size(), 2.0f);
  float sums[8];
  internal::TanhBackwardRows(y.data(), grad.data(), rows, 8, sums);
  double column_zero = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const float out = y[static_cast<size_t>(r * 8)];
    // Up to one rounding of y^2 (the kernel may fuse the multiply-add), which near |y| = 1 is
    // not small relative to 1 - y^2.
    EXPECT_NEAR(grad[static_cast<size_t>(r * 8)], 2.0f * (1.0f - out * out), 2.5e-7);
    column_zero += grad[static_cast<size_t>(r * 8)];
  }
  EXPECT_NEAR(sums[0], column_zero, 1e-3 * column_zero);
}

TEST(FusedAdamW, StepScaledIsAStepOnScaledGradients) {
  torch::manual_seed(5);
  const auto init = torch::randn({100, 3});
  const auto options = torch::optim::AdamWOptions(1e-2).weight_decay(0.01);
  auto scaled_param = init.clone().requires_grad_(true);
  auto plain_param = init.clone().requires_grad_(true);
  FusedAdamW scaled({scaled_param}, options);
  torch::optim::AdamW plain({plain_param}, options);
  for (const double scale : {0.3, 1.0, 0.05}) {
    const auto grad = torch::randn({100, 3});
    scaled_param.mutable_grad() = grad.clone();
    plain_param.mutable_grad() = grad * scale;
    scaled.StepScaled(scale);
    plain.step();
    EXPECT_TRUE(torch::equal(scaled_param.grad(), grad));  // gradients left as they were
  }
  EXPECT_LT(MaxDiff(scaled_param, plain_param), 1e-6);
  EXPECT_GT(MaxDiff(scaled_param, init), 1e-2);
}

TEST(FusedAdamW, MatchesTorchAdamWAndSharesItsStateFormat) {
  torch::manual_seed(4);
  const auto init = torch::randn({300, 7});
  const auto options = torch::optim::AdamWOptions(3e-3).betas({0.8, 0.95}).weight_decay(0.1);
  auto fused_param = init.clone().requires_grad_(true);
  auto plain_param = init.clone().requires_grad_(true);
  FusedAdamW fused({fused_param}, options);
  torch::optim::AdamW plain({plain_param}, options);
  for (int step = 0; step < 5; ++step) {
    const auto grad = torch::randn({300, 7});
    fused.zero_grad();
    plain.zero_grad();
    (fused_param * grad).sum().backward();
    (plain_param * grad).sum().backward();
    fused.step();
    plain.step();
  }
  EXPECT_LT(MaxDiff(fused_param, plain_param), 1e-6);
  EXPECT_GT(MaxDiff(fused_param, init), 1e-3);  // it did move

  // The fused optimizer's state loads into the stock one and continues identically.
  torch::serialize::OutputArchive archive;
  fused.save(archive);
  std::ostringstream stream;
  archive.save_to(stream);
  auto copy_param = fused_param.detach().clone().requires_grad_(true);
  torch::optim::AdamW restored({copy_param}, options);
  torch::serialize::InputArchive input;
  std::istringstream in(stream.str());
  input.load_from(in);
  restored.load(input);
  const auto grad = torch::randn({300, 7});
  for (auto* opt : std::vector<torch::optim::Optimizer*>{&fused, &restored}) opt->zero_grad();
  (fused_param * grad).sum().backward();
  (copy_param * grad).sum().backward();
  fused.step();
  restored.step();
  EXPECT_LT(MaxDiff(fused_param, copy_param), 1e-6);
}

}  // namespace
}  // namespace simscale::models

namespace simscale::models {
namespace {

// A black image with one red 4 x 4 square at (row, col).
torch::Tensor RedSquare(int64_t size, int64_t row, int64_t col) {
  auto image = torch::zeros({1, 3, size, size});
  image.index_put_(
      {0, 0, torch::indexing::Slice(row, row + 4), torch::indexing::Slice(col, col + 4)}, 1.0);
  return image;
}

TEST(VisionStems, ConvStemGivesThePatchGridAndRefusesOtherPatchSizes) {
  torch::manual_seed(3);
  ConvStem stem(64, 16, 3, 32);
  EXPECT_EQ(stem->num_patches(), 16);
  EXPECT_EQ(stem->forward(torch::rand({2, 3, 64, 64})).sizes(), (std::vector<int64_t>{2, 16, 32}));
  EXPECT_THROW(ConvStem(96, 12, 3, 32), InvalidArgumentError);
  // Four stride-2 convolutions, the last one to the token width.
  int convs = 0;
  for (const auto& p : stem->named_parameters()) {
    if (p.key().find("weight") != std::string::npos) ++convs;
  }
  EXPECT_EQ(convs, 4);
}

TEST(VisionStems, KeypointStemTokensFollowWhereTheObjectIsAndEveryParameterLearns) {
  torch::manual_seed(4);
  KeypointStem stem(32, 3, 8, 16);
  const auto a = stem->forward(RedSquare(32, 4, 4));
  const auto b = stem->forward(RedSquare(32, 20, 24));
  ASSERT_EQ(a.sizes(), (std::vector<int64_t>{1, 8, 16}));
  EXPECT_GT((a - b).abs().max().item<double>(), 1e-3);
  // The same image gives the same tokens; a batch is the rows of single images.
  EXPECT_TRUE(
      torch::allclose(stem->forward(torch::cat({RedSquare(32, 4, 4), RedSquare(32, 20, 24)})),
                      torch::cat({a, b}), 1e-5, 1e-6));
  ((a - b).pow(2).sum() + a.sum()).backward();
  for (const auto& p : stem->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0.0) << p.key();
  }
}

TEST(VisionStems, FilmKeypointStemStartsAsTheIdentityLearnsAndThenFollowsItsCondition) {
  torch::manual_seed(5);
  KeypointStem plain(32, 3, 8, 16);
  KeypointStem film(32, 3, 8, 16, /*condition_dim=*/6);
  {
    torch::NoGradGuard no_grad;
    auto film_parameters = film->named_parameters();
    for (const auto& p : plain->named_parameters()) film_parameters[p.key()].copy_(p.value());
  }
  const auto image = RedSquare(32, 10, 12);
  const auto first = torch::randn({1, 6});
  const auto second = torch::randn({1, 6});
  // Zero FiLM weights: exactly the unconditioned stem, whatever the condition.
  EXPECT_TRUE(torch::equal(film->forward(image, first), plain->forward(image)));
  EXPECT_TRUE(torch::equal(film->forward(image, first), film->forward(image, second)));
  // The modulation learns from the start.
  film->forward(image, first).pow(2).sum().backward();
  for (const char* name : {"film_weight", "film_bias"}) {
    const auto grad = film->named_parameters()[name].grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << name;
  }
  // Once the weights are not zero, the same image gives other keypoints under another condition.
  {
    torch::NoGradGuard no_grad;
    film->named_parameters()["film_weight"].normal_(0.0, 0.5);
  }
  EXPECT_GT((film->forward(image, first) - film->forward(image, second)).abs().max().item<double>(),
            1e-3);
  // A batch is the rows of its single images and conditions.
  EXPECT_TRUE(torch::allclose(
      film->forward(torch::cat({image, RedSquare(32, 2, 20)}), torch::cat({first, second})),
      torch::cat({film->forward(image, first), film->forward(RedSquare(32, 2, 20), second)}), 1e-5,
      1e-6));
  EXPECT_THROW(film->forward(image), InvalidArgumentError);
  EXPECT_THROW(film->forward(image, torch::randn({1, 5})), InvalidArgumentError);
  EXPECT_THROW(film->forward(image, torch::randn({2, 6})), InvalidArgumentError);
  EXPECT_THROW(plain->forward(image, first), InvalidArgumentError);
}

// A black image with a red and a green 4 x 4 square at the given corners.
torch::Tensor TwoSquares(int64_t size, int64_t red_row, int64_t red_col, int64_t green_row,
                         int64_t green_col) {
  auto image = RedSquare(size, red_row, red_col);
  image.index_put_({0, 1, torch::indexing::Slice(green_row, green_row + 4),
                    torch::indexing::Slice(green_col, green_col + 4)},
                   1.0);
  return image;
}

// Pointers add conditioned keypoints after the fixed ones and leave those as they were.
TEST(VisionStems, PointersComeAfterTheFixedKeypointsAndLeaveThemUnchanged) {
  torch::manual_seed(6);
  KeypointStem film(32, 3, 8, 16, /*condition_dim=*/6);
  KeypointStem pointed(32, 3, 8, 16, /*condition_dim=*/6, /*pointers=*/3);
  EXPECT_EQ(pointed->num_patches(), 11);
  {
    torch::NoGradGuard no_grad;
    auto target = pointed->named_parameters();
    for (const auto& p : film->named_parameters()) {
      auto into = target[p.key()];
      // The token embedding and the temperature have a row per keypoint: the first 8 are shared.
      (into.size(0) == 1 && into.dim() == 3 ? into.narrow(1, 0, 8) : into).copy_(p.value());
    }
    target["film_weight"].normal_(0.0, 0.3);
    film->named_parameters()["film_weight"].copy_(target["film_weight"]);
  }
  const auto image = TwoSquares(32, 4, 6, 20, 22);
  const auto condition = torch::randn({2, 6});
  const auto images = torch::cat({image, image});
  torch::Tensor points, fixed_points;
  const auto tokens = pointed->forward(images, condition, &points);
  const auto fixed = film->forward(images, condition, &fixed_points);
  ASSERT_EQ(tokens.sizes(), (std::vector<int64_t>{2, 11, 16}));
  ASSERT_EQ(points.sizes(), (std::vector<int64_t>{2, 11, 2}));
  EXPECT_TRUE(torch::equal(points.narrow(1, 0, 8), fixed_points));
  EXPECT_TRUE(torch::equal(tokens.narrow(1, 0, 8), fixed));
  // The pointers read the condition: the same image under two conditions, two places.
  EXPECT_GT((points[0].narrow(0, 8, 3) - points[1].narrow(0, 8, 3)).abs().max().item<double>(),
            1e-3);
  tokens.pow(2).sum().backward();
  for (const char* name : {"pointer_weight", "pointer_bias"}) {
    const auto grad = pointed->named_parameters()[name].grad();
    ASSERT_TRUE(grad.defined()) << name;
    EXPECT_GT(grad.abs().sum().item<double>(), 0.0) << name;
  }
  EXPECT_THROW(KeypointStem(32, 3, 8, 16, /*condition_dim=*/0, /*pointers=*/2),
               InvalidArgumentError);
}

// What pointers are for: one conditioned keypoint learns to sit on the red square when the
// condition says red and on the green one when it says green, on layouts it never saw. A keypoint
// that ignored its condition could not: the squares are at least 12 pixels apart, so it would be
// 0.375 (in [-1, 1] units) from the named one on average.
TEST(VisionStems, APointerLearnsToSitOnTheObjectItsConditionNames) {
  torch::manual_seed(7);
  KeypointStem stem(32, 3, 4, 16, /*condition_dim=*/2, /*pointers=*/1);
  torch::optim::Adam adam(stem->parameters(), torch::optim::AdamOptions(3e-3));
  // Layouts: squares at random corners 0..28, at least 12 pixels apart in row or column.
  auto layouts = [](int64_t count, uint64_t seed) {
    std::mt19937_64 random(seed);
    std::uniform_int_distribution<int64_t> corner(0, 28);
    std::vector<torch::Tensor> images, conditions, targets;
    while (static_cast<int64_t>(images.size()) < count) {
      const int64_t rr = corner(random), rc = corner(random), gr = corner(random),
                    gc = corner(random);
      if (std::max(std::abs(rr - gr), std::abs(rc - gc)) < 12) continue;
      const bool red = images.size() % 2 == 0;
      images.push_back(TwoSquares(32, rr, rc, gr, gc));
      conditions.push_back(torch::tensor({{red ? 1.0f : 0.0f, red ? 0.0f : 1.0f}}));
      // The named square's centre in [-1, 1] (x from the column, y from the row).
      const double row = static_cast<double>(red ? rr : gr) + 2.0;
      const double col = static_cast<double>(red ? rc : gc) + 2.0;
      targets.push_back(torch::tensor({{col / 16.0 - 1.0, row / 16.0 - 1.0}}, torch::kFloat32));
    }
    return std::make_tuple(torch::cat(images), torch::cat(conditions), torch::cat(targets));
  };
  const auto [images, conditions, targets] = layouts(256, 1);
  for (int step = 0; step < 400; ++step) {
    const auto rows = torch::randint(256, {32}, torch::kInt64);
    torch::Tensor points;
    stem->forward(images.index_select(0, rows), conditions.index_select(0, rows), &points);
    const auto loss = (points.select(1, 4) - targets.index_select(0, rows)).pow(2).sum(-1).mean();
    adam.zero_grad();
    loss.backward();
    adam.step();
  }
  torch::NoGradGuard no_grad;
  const auto [test_images, test_conditions, test_targets] = layouts(64, 2);
  torch::Tensor points;
  stem->forward(test_images, test_conditions, &points);
  const double error =
      (points.select(1, 4) - test_targets).pow(2).sum(-1).sqrt().mean().item<double>();
  // About 0.09 here (1.5 pixels; the stride-4 maps are 8 x 8); a keypoint blind to its condition
  // ends near 0.64 (checked by training on zero conditions).
  EXPECT_LT(error, 0.2) << "mean distance from the named square, in [-1, 1] units";
}

// Bag of words: order, spacing, punctuation and padding do not matter, one word does; a text
// without words gives zero; only the words' rows learn.
TEST(WordBag, OneVectorPerWordAveragedOverTheInstruction) {
  torch::manual_seed(6);
  WordBag bag(64, 8);
  const CharTokenizer tokenizer(48);
  auto encode = [&](const std::vector<std::string>& texts) {
    const auto t = tokenizer.Encode(texts);
    return bag->forward(t.tokens, t.mask);
  };
  const auto out =
      encode({"put the red cube on the left pad", "the  left pad, the red cube on put!",
              "put the blue cube on the left pad", " ", ""});
  ASSERT_EQ(out.sizes(), (std::vector<int64_t>{5, 8}));
  EXPECT_TRUE(torch::allclose(out[0], out[1], 1e-6, 1e-6));
  EXPECT_GT((out[0] - out[2]).abs().max().item<double>(), 1e-3);
  EXPECT_TRUE(torch::equal(out[3], torch::zeros({8})));
  EXPECT_TRUE(torch::equal(out[4], torch::zeros({8})));
  // Padded positions are skipped whatever they hold.
  auto t = tokenizer.Encode({"red cube"});
  const auto clean = bag->forward(t.tokens, t.mask);
  t.tokens.masked_fill_(t.mask.logical_not(), 5);
  EXPECT_TRUE(torch::equal(bag->forward(t.tokens, t.mask), clean));
  // The mean of the two words' rows, which are the only rows with gradient.
  const auto red = tokenizer.EncodeIds("red");
  const auto cube = tokenizer.EncodeIds("cube");
  const int64_t r = WordBagImpl::Bucket(red.data(), 3, 64);
  const int64_t c = WordBagImpl::Bucket(cube.data(), 4, 64);
  ASSERT_NE(r, c);
  const auto weight = bag->named_parameters()["bag.weight"];
  EXPECT_TRUE(torch::allclose(clean[0], (weight[r] + weight[c]) / 2, 1e-6, 1e-6));
  clean.sum().backward();
  const auto rows_with_grad = weight.grad().abs().sum(1).gt(0).nonzero().flatten();
  EXPECT_EQ(rows_with_grad.numel(), 2);
  EXPECT_THROW(bag->forward(t.tokens, t.mask.narrow(1, 0, 3)), InvalidArgumentError);
}

}  // namespace
}  // namespace simscale::models
