// The training library's parts: sharded batching, gradient buckets, LR schedule.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "common/train/grad_sync.h"
#include "common/train/loader.h"
#include "common/train/trainer.h"

namespace simscale::train {
namespace {

TEST(ShardedSampler, RanksTogetherTakeExactlyTheGlobalBatchAtAnyRankCount) {
  const int64_t samples = 1000, batch = 64;
  ShardedSampler single(samples, batch, 7, 0, 1);
  for (int world : {2, 3, 5}) {
    std::vector<ShardedSampler> ranks;
    for (int r = 0; r < world; ++r) ranks.emplace_back(samples, batch, 7, r, world);
    for (const LoaderPosition position :
         {LoaderPosition{0, 0}, LoaderPosition{0, 14}, LoaderPosition{3, 5}}) {
      std::vector<int64_t> together;
      for (auto& rank : ranks) {
        const auto part = rank.Local(position);
        together.insert(together.end(), part.begin(), part.end());
      }
      EXPECT_EQ(together, single.Local(position)) << world << " ranks";
    }
  }
}

TEST(ShardedSampler, AnEpochVisitsEachSampleAtMostOnceAndEpochsDiffer) {
  ShardedSampler sampler(500, 32, 3, 0, 1);
  EXPECT_EQ(sampler.batches_per_epoch(), 15);  // 500 / 32, the incomplete last batch dropped
  std::set<int64_t> seen;
  LoaderPosition position;
  for (int64_t b = 0; b < sampler.batches_per_epoch(); ++b) {
    for (int64_t s : sampler.Local(position)) EXPECT_TRUE(seen.insert(s).second) << s;
    position = sampler.Next(position);
  }
  EXPECT_EQ(position, (LoaderPosition{1, 0}));
  EXPECT_EQ(seen.size(), 480u);
  EXPECT_NE(sampler.Local({0, 0}), sampler.Local({1, 0}));
  EXPECT_EQ(sampler.Local({1, 0}), ShardedSampler(500, 32, 3, 0, 1).Local({1, 0}));
}

TEST(ShardedSampler, RejectsBatchesLargerThanTheDataOrSmallerThanTheRanks) {
  EXPECT_THROW(ShardedSampler(10, 32, 0, 0, 1), InvalidArgumentError);
  EXPECT_THROW(ShardedSampler(100, 2, 0, 0, 4), InvalidArgumentError);
}

TEST(GradientBuckets, GradientsLiveInTheBucketsAndSurviveBackward) {
  torch::nn::Linear a(8, 16), b(16, 4);
  std::vector<torch::Tensor> params;
  for (auto& p : a->parameters()) params.push_back(p);
  for (auto& p : b->parameters()) params.push_back(p);
  // A small bucket size splits the parameters over several buckets.
  GradientBuckets buckets(params, 300);
  EXPECT_GT(buckets.buckets().size(), 1u);
  int64_t total = 0;
  for (const auto& p : params) total += p.numel();
  EXPECT_EQ(buckets.num_elements(), total);
  for (int round = 0; round < 2; ++round) {
    buckets.Zero();
    const torch::Tensor x = torch::randn({5, 8});
    b->forward(torch::relu(a->forward(x))).pow(2).sum().backward();
    // Each .grad is a view into a bucket: the bucket sums equal the sum of the grads.
    double from_params = 0, from_buckets = 0;
    for (const auto& p : params) from_params += p.grad().pow(2).sum().item<double>();
    from_buckets = buckets.SquaredNorm();
    EXPECT_NEAR(from_params, from_buckets, 1e-6 * std::max(1.0, from_params));
    EXPECT_GT(from_buckets, 0.0);
  }
  buckets.Scale(0.5);
  double scaled = 0;
  for (const auto& p : params) scaled += p.grad().pow(2).sum().item<double>();
  EXPECT_NEAR(scaled, buckets.SquaredNorm(), 1e-6 * std::max(1.0, scaled));
}

TEST(LearningRate, WarmsUpLinearlyThenDecaysByCosine) {
  TrainerOptions o;
  o.lr = 1.0;
  o.steps = 110;
  o.warmup_steps = 10;
  o.min_lr_ratio = 0.1;
  EXPECT_DOUBLE_EQ(LearningRate(o, 0), 0.01);
  EXPECT_NEAR(LearningRate(o, 5), 0.01 + 0.99 * 0.5, 1e-12);
  EXPECT_DOUBLE_EQ(LearningRate(o, 10), 1.0);
  EXPECT_NEAR(LearningRate(o, 60), 0.1 + 0.9 * 0.5, 1e-12);  // half way through the cosine
  EXPECT_NEAR(LearningRate(o, 110), 0.1, 1e-12);
}

}  // namespace
}  // namespace simscale::train
