// Replaces the global operator new/delete with counting versions (not under sanitizers).
#include "tests/support/allocation_counter.h"

#include <atomic>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_ADDRESS__)
#define SIMSCALE_COUNT_ALLOCATIONS 0
#else
#define SIMSCALE_COUNT_ALLOCATIONS 1
#endif

namespace {
std::atomic<long> g_allocations{0};
}

namespace simscale::testing_support {
long AllocationCount() { return g_allocations.load(); }
bool AllocationCounterActive() { return SIMSCALE_COUNT_ALLOCATIONS != 0; }
}  // namespace simscale::testing_support

#if SIMSCALE_COUNT_ALLOCATIONS
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t size) {
  ++g_allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
#endif
