#include "common/io/checksum.h"

#include <array>
#include <cstring>

#if defined(__x86_64__)
#include <nmmintrin.h>
#endif

namespace simscale::io {
namespace {

constexpr uint32_t kPolynomial = 0x82f63b78u;  // Castagnoli, reflected

constexpr std::array<uint32_t, 256> MakeTable() {
  std::array<uint32_t, 256> table{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t crc = i;
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ ((crc & 1u) ? kPolynomial : 0u);
    table[i] = crc;
  }
  return table;
}

constexpr std::array<uint32_t, 256> kTable = MakeTable();

// a * b modulo the CRC polynomial, in the reflected bit order (zlib's multmodp).
uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t m = 1u << 31;
  uint32_t p = 0;
  for (;;) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    m >>= 1;
    b = (b & 1u) ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return p;
}

// x^(8 * bytes) modulo the polynomial: appending `bytes` bytes to a CRC multiplies it by this.
uint32_t ShiftOperator(uint64_t bytes) {
  uint32_t power = 1u << 30;   // x^1
  uint32_t result = 1u << 31;  // x^0
  for (uint64_t bits = bytes * 8; bits != 0; bits >>= 1) {
    if (bits & 1u) result = MultiplyModP(power, result);
    power = MultiplyModP(power, power);
  }
  return result;
}

#if defined(__x86_64__)
// Three independent streams over consecutive blocks, then combined: the crc32 instruction has a
// latency of 3 cycles and a throughput of 1, so one stream uses a third of it.
constexpr size_t kStreamBytes = 4096;

__attribute__((target("sse4.2"))) uint32_t Crc32cHardware(const unsigned char* p, size_t bytes,
                                                          uint32_t crc) {
  static const uint32_t shift = ShiftOperator(kStreamBytes);
  while (bytes >= 3 * kStreamBytes) {
    uint64_t a = ~crc;
    uint64_t b = 0xffffffffu;
    uint64_t c = 0xffffffffu;
    for (size_t i = 0; i < kStreamBytes; i += 8) {
      uint64_t wa, wb, wc;
      std::memcpy(&wa, p + i, 8);
      std::memcpy(&wb, p + kStreamBytes + i, 8);
      std::memcpy(&wc, p + 2 * kStreamBytes + i, 8);
      a = _mm_crc32_u64(a, wa);
      b = _mm_crc32_u64(b, wb);
      c = _mm_crc32_u64(c, wc);
    }
    // crc(A B) = crc(A) * x^(8|B|) + crc(B), on finished CRCs (zlib's crc32_combine).
    crc = MultiplyModP(shift, ~static_cast<uint32_t>(a)) ^ ~static_cast<uint32_t>(b);
    crc = MultiplyModP(shift, crc) ^ ~static_cast<uint32_t>(c);
    p += 3 * kStreamBytes;
    bytes -= 3 * kStreamBytes;
  }
  uint64_t state = ~crc;
  while (bytes >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    state = _mm_crc32_u64(state, word);
    p += 8;
    bytes -= 8;
  }
  auto state32 = static_cast<uint32_t>(state);
  while (bytes-- > 0) state32 = _mm_crc32_u8(state32, *p++);
  return ~state32;
}

bool HasSse42() {
  static const bool has = __builtin_cpu_supports("sse4.2");
  return has;
}
#endif

}  // namespace

uint32_t Crc32cPortable(const void* data, size_t bytes, uint32_t crc) {
  const auto* p = static_cast<const unsigned char*>(data);
  crc = ~crc;
  for (size_t i = 0; i < bytes; ++i) crc = kTable[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
  return ~crc;
}

uint32_t Crc32c(const void* data, size_t bytes, uint32_t crc) {
#if defined(__x86_64__)
  if (HasSse42()) return Crc32cHardware(static_cast<const unsigned char*>(data), bytes, crc);
#endif
  return Crc32cPortable(data, bytes, crc);
}

}  // namespace simscale::io
