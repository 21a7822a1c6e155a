#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace simscale {

// What a random stream is used for. Each purpose is an independent stream, so adding draws to one
// (say, a new domain-randomization parameter) never shifts another (the task layout).
enum class StreamPurpose : uint32_t {
  kTaskLayout = 1,           // object and target placement of an episode
  kDomainRandomization = 2,  // physics and visual parameters of an episode
  kPolicyNoise = 3,          // exploration / demonstration noise added to actions
  kSensorNoise = 4,          // observation noise
  kRandomPolicy = 5,         // the seeded random policy's actions
  kDataShuffle = 6,          // dataset order per epoch
  kModelInit = 7,            // parameter initialisation
  kLanguage = 8,             // choice of instruction template
  kTest = 1000,
};

std::string_view PurposeName(StreamPurpose purpose);

// The Philox4x32-10 counter-based generator (Salmon et al., SC'11): output block = a bijection of
// (counter, key). Stateless, so a draw depends only on its coordinates.
std::array<uint32_t, 4> Philox4x32(std::array<uint32_t, 4> counter, std::array<uint32_t, 2> key);

// A stream of random numbers keyed by (seed, index, purpose), where `index` is e.g. the global
// episode index. Draw k of a stream is a pure function of (seed, index, purpose, k): it does not
// depend on which rank or thread makes it, nor on any other stream. Cheap to construct (no state
// beyond a few words); construct one per episode and purpose.
class RandomStream {
 public:
  RandomStream(uint64_t seed, uint64_t index, StreamPurpose purpose);

  uint32_t NextU32();
  uint64_t NextU64();
  // Uniform in [0, 1) with 53 random bits.
  double Uniform();
  // Uniform in [lo, hi).
  double Uniform(double lo, double hi);
  // Standard normal (Box-Muller; uses two uniforms per pair, caches the second value).
  double Normal();
  double Normal(double mean, double stddev) { return mean + stddev * Normal(); }
  // Uniform integer in [lo, hi] (inclusive), unbiased.
  int64_t UniformInt(int64_t lo, int64_t hi);
  bool Bernoulli(double p) { return Uniform() < p; }

  // Number of 32-bit words consumed so far.
  uint64_t words_drawn() const { return block_ * 4 + static_cast<uint64_t>(used_) - 4; }

 private:
  void Refill();

  std::array<uint32_t, 2> key_;
  uint64_t index_;
  uint64_t block_ = 0;  // next block counter
  std::array<uint32_t, 4> buffer_{};
  int used_ = 4;  // words of buffer_ already consumed
  bool has_cached_normal_ = false;
  double cached_normal_ = 0.0;
};

// SplitMix64 finaliser: a well-mixed 64-bit hash, used to derive keys and seeds.
uint64_t Mix64(uint64_t x);

}  // namespace simscale
