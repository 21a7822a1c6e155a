#pragma once

#include <cstddef>
#include <cstdint>

// The store's integrity checksum: CRC-32C (Castagnoli), the CRC of iSCSI, ext4 and Btrfs. It
// catches every burst error of up to 32 bits and misses random damage with probability 2^-32,
// and x86-64's SSE4.2 `crc32` instruction, run as three interleaved streams, computes it at
// over 10 GB/s (more than 10x byte-wise FNV-1a), so the training reader can verify what it reads
// (benchmarks/RESULTS.md, "Store checksums"). Other CPUs use a table-driven version with the same
// results.
namespace simscale::io {

// CRC-32C of `bytes` bytes, continuing from `crc` (0 to start; pass the previous result to
// continue over several pieces: Crc32c(b, n, Crc32c(a, m)) == Crc32c(a + b, m + n)).
uint32_t Crc32c(const void* data, size_t bytes, uint32_t crc = 0);

// The table-driven version (for tests: both must agree).
uint32_t Crc32cPortable(const void* data, size_t bytes, uint32_t crc = 0);

}  // namespace simscale::io
