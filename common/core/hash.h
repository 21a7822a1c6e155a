#pragma once

#include <cstddef>
#include <cstdint>

namespace simscale {

// FNV-1a, 64 bits: a fast, stable fingerprint of bytes (not cryptographic). Continue a hash over
// several pieces by passing the previous result as `hash`.
inline constexpr uint64_t kFnvOffset = 0xcbf29ce484222325ULL;

inline uint64_t Fnv1a(const void* data, size_t bytes, uint64_t hash = kFnvOffset) {
  const auto* p = static_cast<const unsigned char*>(data);
  for (size_t i = 0; i < bytes; ++i) {
    hash ^= p[i];
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace simscale
