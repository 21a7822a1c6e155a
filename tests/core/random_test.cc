#include "common/core/random.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <vector>

#include "common/core/error.h"

namespace simscale {
namespace {

// Known-answer vectors of Philox4x32-10 from the Random123 distribution (kat_vectors).
TEST(Philox, MatchesRandom123KnownAnswers) {
  EXPECT_EQ(Philox4x32({0, 0, 0, 0}, {0, 0}),
            (std::array<uint32_t, 4>{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}));
  EXPECT_EQ(
      Philox4x32({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, {0xffffffffu, 0xffffffffu}),
      (std::array<uint32_t, 4>{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}));
  EXPECT_EQ(
      Philox4x32({0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}, {0xa4093822u, 0x299f31d0u}),
      (std::array<uint32_t, 4>{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}));
}

TEST(RandomStream, SameCoordinatesGiveSameDraws) {
  RandomStream a(42, 7, StreamPurpose::kTaskLayout);
  RandomStream b(42, 7, StreamPurpose::kTaskLayout);
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(a.NextU32(), b.NextU32()) << "draw " << i;
}

TEST(RandomStream, DrawsDoNotDependOnOtherStreamsBeingUsed) {
  // Interleaving draws from another stream (as another env on the same thread would) changes
  // nothing: there is no shared state.
  RandomStream alone(1, 3, StreamPurpose::kDomainRandomization);
  std::vector<double> expected;
  for (int i = 0; i < 100; ++i) expected.push_back(alone.Uniform());
  RandomStream mine(1, 3, StreamPurpose::kDomainRandomization);
  RandomStream other(1, 4, StreamPurpose::kDomainRandomization);
  for (int i = 0; i < 100; ++i) {
    other.Normal();
    EXPECT_EQ(mine.Uniform(), expected[static_cast<size_t>(i)]);
  }
}

TEST(RandomStream, PurposeIndexAndSeedEachChangeTheStream) {
  const uint64_t base = RandomStream(5, 10, StreamPurpose::kTaskLayout).NextU64();
  EXPECT_NE(base, RandomStream(5, 10, StreamPurpose::kDomainRandomization).NextU64());
  EXPECT_NE(base, RandomStream(5, 11, StreamPurpose::kTaskLayout).NextU64());
  EXPECT_NE(base, RandomStream(6, 10, StreamPurpose::kTaskLayout).NextU64());
  // Index uses the full 64 bits.
  EXPECT_NE(RandomStream(5, 1, StreamPurpose::kTaskLayout).NextU64(),
            RandomStream(5, 1ull << 40 | 1, StreamPurpose::kTaskLayout).NextU64());
}

TEST(RandomStream, UniformMomentsAreRight) {
  RandomStream s(0, 0, StreamPurpose::kTest);
  const int n = 200000;
  double sum = 0, sum_sq = 0, lo = 1, hi = 0;
  for (int i = 0; i < n; ++i) {
    const double u = s.Uniform();
    ASSERT_GE(u, 0.0);
    ASSERT_LT(u, 1.0);
    sum += u;
    sum_sq += u * u;
    lo = std::min(lo, u);
    hi = std::max(hi, u);
  }
  const double mean = sum / n;
  const double var = sum_sq / n - mean * mean;
  EXPECT_NEAR(mean, 0.5, 0.005);
  EXPECT_NEAR(var, 1.0 / 12.0, 0.002);
  EXPECT_LT(lo, 1e-4);
  EXPECT_GT(hi, 1 - 1e-4);
}

TEST(RandomStream, NormalMomentsAreRight) {
  RandomStream s(1, 0, StreamPurpose::kTest);
  const int n = 200000;
  double sum = 0, sum_sq = 0, sum_4 = 0;
  for (int i = 0; i < n; ++i) {
    const double x = s.Normal();
    sum += x;
    sum_sq += x * x;
    sum_4 += x * x * x * x;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.01);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.01);
  EXPECT_NEAR(sum_4 / n, 3.0, 0.06);  // kurtosis of a Gaussian
}

TEST(RandomStream, UniformIntCoversRangeWithoutBias) {
  RandomStream s(2, 0, StreamPurpose::kTest);
  std::vector<int> counts(7, 0);
  const int n = 70000;
  for (int i = 0; i < n; ++i) {
    const int64_t v = s.UniformInt(-3, 3);
    ASSERT_GE(v, -3);
    ASSERT_LE(v, 3);
    ++counts[static_cast<size_t>(v + 3)];
  }
  for (int c : counts) EXPECT_NEAR(c, n / 7, 400);
  EXPECT_EQ(s.UniformInt(5, 5), 5);
  EXPECT_THROW(s.UniformInt(2, 1), InvalidArgumentError);
}

TEST(RandomStream, CountsWordsDrawn) {
  RandomStream s(0, 0, StreamPurpose::kTest);
  EXPECT_EQ(s.words_drawn(), 0u);
  s.NextU32();
  EXPECT_EQ(s.words_drawn(), 1u);
  s.NextU64();
  EXPECT_EQ(s.words_drawn(), 3u);
  s.Uniform();
  EXPECT_EQ(s.words_drawn(), 5u);
}

TEST(Mix64, IsABijectionOnSamples) {
  std::set<uint64_t> seen;
  for (uint64_t i = 0; i < 10000; ++i) seen.insert(Mix64(i));
  EXPECT_EQ(seen.size(), 10000u);
}

}  // namespace
}  // namespace simscale
