#include "common/core/preemption.h"

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <mutex>
#include <thread>

namespace simscale::preemption {
namespace {

// Lock-free atomics are async-signal-safe.
std::atomic<int> g_signal{0};
static_assert(std::atomic<int>::is_always_lock_free);

void Record(int number) {
  int expected = 0;
  g_signal.compare_exchange_strong(expected, number);
}

void OnSignal(int number) { Record(number); }

sigset_t PreemptionSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGUSR1);
  return set;
}

}  // namespace

// The signals are blocked in the calling thread, and so in every thread it starts afterwards
// (MPI's, LibTorch's, OpenMP's, the data loader's), and taken by one thread that only waits for
// them: no computing thread is ever interrupted. Handled on the main thread, a SIGUSR1 during a
// train step corrupted the heap (abort in free() inside dnnl_sgemm, "corrupted size vs.
// prev_size") in 4 of 10 runs on a loaded machine; with the same handler on an alternate signal
// stack 0 of 12 crashed, so the signal frame pushed below the stack pointer of the interrupted
// GEMM code overwrote memory it still used. With the waiting thread: 0 of 16.
// The handler stays as the disposition for any thread that might not block them.
void InstallHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction action {};
    action.sa_handler = OnSignal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &action, nullptr);
    sigaction(SIGUSR1, &action, nullptr);
    const sigset_t set = PreemptionSignals();
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // A signal already pending (sent while the process started, or left blocked by the launcher)
    // is returned by the first sigwait.
    std::thread([set] {
      for (;;) {
        int number = 0;
        if (sigwait(&set, &number) == 0) Record(number);
      }
    }).detach();
  });
}

bool Requested() { return g_signal.load() != 0; }

int Signal() { return g_signal.load(); }

const char* SignalName() {
  switch (g_signal.load()) {
    case SIGTERM:
      return "SIGTERM";
    case SIGUSR1:
      return "SIGUSR1";
    default:
      return "none";
  }
}

void ResetForTesting() { g_signal.store(0); }

}  // namespace simscale::preemption
