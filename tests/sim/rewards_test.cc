#include "common/rewards/rewards.h"

#include <gtest/gtest.h>

#include "common/core/error.h"

namespace simscale::rewards {
namespace {

class RewardsTest : public ::testing::Test {
 protected:
  RewardsTest() {
    a_ = context_.AddPoint("ee");
    b_ = context_.AddPoint("target");
    flag_ = context_.AddFlag("lifted");
  }
  void Place(std::array<double, 3> a, std::array<double, 3> b) {
    context_.SetPoint(a_, a.data());
    context_.SetPoint(b_, b.data());
  }
  RewardContext context_;
  int a_, b_, flag_;
};

TEST_F(RewardsTest, DistanceRewardIsMinusScaledDistance) {
  Place({0, 0, 0}, {1, 0, 0});
  EXPECT_DOUBLE_EQ(DistanceReward(context_, "ee", "target").Compute(context_), -1.0);
  Place({0, 0, 0}, {0, 3, 4});
  EXPECT_DOUBLE_EQ(DistanceReward(context_, "ee", "target", 2.0).Compute(context_), -10.0);
}

TEST_F(RewardsTest, CompositeOfDistanceAndSuccessBonus) {
  // The original's test: distance 0.1 with a bonus of 10 below 0.5 gives 9.9.
  Place({0, 0, 0}, {0.1, 0, 0});
  CompositeReward reward;
  reward.Add(std::make_unique<DistanceReward>(context_, "ee", "target"));
  reward.Add(std::make_unique<SuccessBonus>(context_, "ee", "target", 0.5, 10.0));
  EXPECT_DOUBLE_EQ(reward.Compute(context_), 9.9);
  Place({0, 0, 0}, {0.6, 0, 0});
  EXPECT_DOUBLE_EQ(reward.Compute(context_), -0.6);
}

TEST_F(RewardsTest, ActionPenaltyUsesTheEuclideanNorm) {
  const double action[4] = {3, 4, 0, 0};
  context_.SetAction(action, 4);
  EXPECT_DOUBLE_EQ(ActionPenalty(0.01).Compute(context_), -0.05);
}

TEST_F(RewardsTest, ConditionalRewardFollowsItsFlag) {
  ConditionalReward gated(context_, "lifted", std::make_unique<ConstantReward>(5.0));
  ConditionalReward inverted(context_, "lifted", std::make_unique<ConstantReward>(1.0), false);
  context_.SetFlag(flag_, false);
  EXPECT_EQ(gated.Compute(context_), 0.0);
  EXPECT_EQ(inverted.Compute(context_), 1.0);
  context_.SetFlag(flag_, true);
  EXPECT_EQ(gated.Compute(context_), 5.0);
  EXPECT_EQ(inverted.Compute(context_), 0.0);
}

TEST_F(RewardsTest, UnknownSlotNamesAreRejectedWithTheValidOnes) {
  try {
    DistanceReward(context_, "ee", "object");
    FAIL();
  } catch (const InvalidArgumentError& e) {
    EXPECT_EQ(std::string(e.what()), "reward point 'object': expected one of {ee, target}");
  }
}

TEST_F(RewardsTest, DescribeNamesTheSlots) {
  CompositeReward reward;
  reward.Add(std::make_unique<DistanceReward>(context_, "ee", "target"));
  reward.Add(std::make_unique<ConditionalReward>(
      context_, "lifted", std::make_unique<SuccessBonus>(context_, "ee", "target", 0.05, 5.0)));
  EXPECT_EQ(reward.Describe(context_),
            "1*-1*|ee - target| + 1*(5 if |ee - target| < 0.05 if lifted)");
}

}  // namespace
}  // namespace simscale::rewards
