#include "common/core/random.h"

#include <cmath>
#include <limits>

#include "common/core/error.h"

namespace simscale {
namespace {

constexpr uint32_t kMultiplier0 = 0xD2511F53u;
constexpr uint32_t kMultiplier1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;
constexpr uint32_t kWeyl1 = 0xBB67AE85u;

inline void MulHiLo(uint32_t a, uint32_t b, uint32_t* hi, uint32_t* lo) {
  const uint64_t product = static_cast<uint64_t>(a) * static_cast<uint64_t>(b);
  *hi = static_cast<uint32_t>(product >> 32);
  *lo = static_cast<uint32_t>(product);
}

}  // namespace

std::string_view PurposeName(StreamPurpose purpose) {
  switch (purpose) {
    case StreamPurpose::kTaskLayout:
      return "task_layout";
    case StreamPurpose::kDomainRandomization:
      return "domain_randomization";
    case StreamPurpose::kPolicyNoise:
      return "policy_noise";
    case StreamPurpose::kSensorNoise:
      return "sensor_noise";
    case StreamPurpose::kRandomPolicy:
      return "random_policy";
    case StreamPurpose::kDataShuffle:
      return "data_shuffle";
    case StreamPurpose::kModelInit:
      return "model_init";
    case StreamPurpose::kLanguage:
      return "language";
    case StreamPurpose::kTest:
      return "test";
  }
  return "unknown";
}

std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key) {
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kWeyl0;
      key[1] += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    MulHiLo(kMultiplier0, counter[0], &hi0, &lo0);
    MulHiLo(kMultiplier1, counter[2], &hi1, &lo1);
    counter = {hi1 ^ counter[1] ^ key[0], lo1, hi0 ^ counter[3] ^ key[1], lo0};
  }
  return counter;
}

uint64_t Mix64(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

RandomStream::RandomStream(uint64_t seed, uint64_t index, StreamPurpose purpose) : index_(index) {
  // Key = hash of (seed, purpose); counter = (block, index). Distinct (seed, purpose) pairs give
  // unrelated keys; distinct indices and blocks give distinct counters under one key.
  const uint64_t k = Mix64(seed ^ Mix64(static_cast<uint64_t>(purpose)));
  key_ = {static_cast<uint32_t>(k), static_cast<uint32_t>(k >> 32)};
}

void RandomStream::Refill() {
  buffer_ = Philox4x32({static_cast<uint32_t>(block_), static_cast<uint32_t>(block_ >> 32),
                        static_cast<uint32_t>(index_), static_cast<uint32_t>(index_ >> 32)},
                       key_);
  ++block_;
  used_ = 0;
}

uint32_t RandomStream::NextU32() {
  if (used_ == 4) Refill();
  return buffer_[static_cast<size_t>(used_++)];
}

uint64_t RandomStream::NextU64() {
  const uint64_t lo = NextU32();
  const uint64_t hi = NextU32();
  return (hi << 32) | lo;
}

double RandomStream::Uniform() { return static_cast<double>(NextU64() >> 11) * 0x1.0p-53; }

double RandomStream::Uniform(double lo, double hi) { return lo + (hi - lo) * Uniform(); }

double RandomStream::Normal() {
  if (has_cached_normal_) {
    has_cached_normal_ = false;
    return cached_normal_;
  }
  double u1 = Uniform();
  while (u1 <= 0.0) u1 = Uniform();
  const double u2 = Uniform();
  const double radius = std::sqrt(-2.0 * std::log(u1));
  const double angle = 2.0 * M_PI * u2;
  cached_normal_ = radius * std::sin(angle);
  has_cached_normal_ = true;
  return radius * std::cos(angle);
}

int64_t RandomStream::UniformInt(int64_t lo, int64_t hi) {
  CheckArgument(lo <= hi, "RandomStream::UniformInt range", fmt::format("[{}, {}]", lo, hi),
                "lo <= hi");
  const uint64_t span = static_cast<uint64_t>(hi) - static_cast<uint64_t>(lo);
  if (span == std::numeric_limits<uint64_t>::max()) return static_cast<int64_t>(NextU64());
  const uint64_t range = span + 1;
  // Rejection sampling removes the modulo bias.
  const uint64_t limit =
      std::numeric_limits<uint64_t>::max() - std::numeric_limits<uint64_t>::max() % range;
  uint64_t x = NextU64();
  while (x >= limit) x = NextU64();
  return static_cast<int64_t>(static_cast<uint64_t>(lo) + x % range);
}

}  // namespace simscale
