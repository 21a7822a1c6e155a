#pragma once

#include <mpi.h>

#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <type_traits>
#include <vector>

#include "common/core/error.h"

// The toolkit's only MPI wrapper: RAII init/finalize, checked calls that carry MPI's own error
// text, typed collectives, work splitting, agreement on errors, and a main() harness that turns an
// escaping exception on any rank into a logged, job-wide abort instead of a hang.
namespace simscale::mpi {

class MpiError : public Error {
 public:
  using Error::Error;
};

// An error every rank knows about (after AgreeOnError): ranks finalize cleanly and exit with
// `exit_code()`; only `origin_rank` logs it.
class AgreedError : public Error {
 public:
  AgreedError(const std::string& message, int exit_code, int origin_rank)
      : Error(message), exit_code_(exit_code), origin_rank_(origin_rank) {}
  int exit_code() const override { return exit_code_; }
  int origin_rank() const { return origin_rank_; }

 private:
  int exit_code_;
  int origin_rank_;
};

// Throws MpiError("<call> failed: <MPI error string>") unless code == MPI_SUCCESS.
void Check(int code, const char* call);

#define SIMSCALE_MPI_CALL(call) ::simscale::mpi::Check((call), #call)

enum class ReduceOp { kSum, kMin, kMax, kLogicalAnd, kLogicalOr };

template <typename T>
MPI_Datatype DataType();
template <>
MPI_Datatype DataType<float>();
template <>
MPI_Datatype DataType<double>();
template <>
MPI_Datatype DataType<int>();
template <>
MPI_Datatype DataType<unsigned int>();
template <>
MPI_Datatype DataType<long>();
template <>
MPI_Datatype DataType<long long>();
template <>
MPI_Datatype DataType<unsigned long>();
template <>
MPI_Datatype DataType<unsigned long long>();
template <>
MPI_Datatype DataType<uint8_t>();
template <>
MPI_Datatype DataType<char>();

// A non-owning view of a communicator with checked, typed collectives.
class Communicator {
 public:
  explicit Communicator(MPI_Comm comm);

  int rank() const { return rank_; }
  int size() const { return size_; }
  bool is_root() const { return rank_ == 0; }
  MPI_Comm handle() const { return comm_; }

  void Barrier() const;

  template <typename T>
  void AllReduceInPlace(T* data, size_t count, ReduceOp op) const {
    AllReduceRaw(data, count, DataType<T>(), op);
  }
  template <typename T>
  T AllReduce(T value, ReduceOp op) const {
    AllReduceInPlace(&value, 1, op);
    return value;
  }
  template <typename T>
  void Broadcast(T* data, size_t count, int root) const {
    BroadcastRaw(data, count, DataType<T>(), root);
  }
  void Broadcast(std::string* text, int root) const;

  // Every rank's value, in rank order.
  template <typename T>
  std::vector<T> AllGather(const T& value) const {
    static_assert(std::is_trivially_copyable_v<T>);
    std::vector<T> out(static_cast<size_t>(size_));
    AllGatherBytes(&value, out.data(), sizeof(T));
    return out;
  }
  // Variable-length gather of one vector per rank, concatenated in rank order on every rank.
  template <typename T>
  std::vector<T> AllGatherV(const std::vector<T>& values) const {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto counts = AllGather<int64_t>(static_cast<int64_t>(values.size()));
    int64_t total = 0;
    for (int64_t c : counts) total += c;
    std::vector<T> out(static_cast<size_t>(total));
    AllGatherVBytes(values.data(), values.size() * sizeof(T), counts, sizeof(T), out.data());
    return out;
  }
  // Sum of `value` over ranks below this one (0 on rank 0).
  int64_t ExclusivePrefixSum(int64_t value) const;

 private:
  void AllReduceRaw(void* data, size_t count, MPI_Datatype type, ReduceOp op) const;
  void BroadcastRaw(void* data, size_t count, MPI_Datatype type, int root) const;
  void AllGatherBytes(const void* in, void* out, size_t bytes) const;
  void AllGatherVBytes(const void* in, size_t in_bytes, const std::vector<int64_t>& counts,
                       size_t element_bytes, void* out) const;

  MPI_Comm comm_;
  int rank_ = 0;
  int size_ = 1;
};

// RAII MPI_Init_thread / MPI_Finalize. Works under mpirun/srun and without a launcher (a
// singleton: one rank). Errors on MPI_COMM_WORLD are returned, not fatal, so Check() sees them.
class Context {
 public:
  Context(int* argc, char*** argv);
  ~Context();
  Context(const Context&) = delete;
  Context& operator=(const Context&) = delete;

  const Communicator& world() const { return world_; }
  int thread_level() const { return thread_level_; }

  // Ends every rank of the job now with `exit_code` (MPI_Abort). Never returns.
  [[noreturn]] static void Abort(int exit_code);

 private:
  // Declared before world_: its initialiser sets them.
  int thread_level_ = 0;
  bool owns_init_ = false;
  Communicator world_;
};

// This rank's index among the ranks of its node (shared-memory domain), e.g. to pick a GPU.
int LocalRank(const Communicator& comm);

// A contiguous range of indices [begin, end).
struct Range {
  int64_t begin = 0;
  int64_t end = 0;
  int64_t size() const { return end - begin; }
  bool empty() const { return end <= begin; }
  bool operator==(const Range& other) const { return begin == other.begin && end == other.end; }
};

// Splits [0, total) into `parts` contiguous blocks in order; the first total % parts blocks get
// one extra element. Part p of the split is returned.
Range SplitEvenly(int64_t total, int parts, int part);
// Same, over [range.begin, range.end).
Range SplitEvenly(Range range, int parts, int part);

// Collective: every rank passes its own outcome (nullptr = success). If any rank failed, every rank
// throws AgreedError carrying the lowest failing rank's message and exit code; otherwise returns.
// Use it after validation and before the first real collective, so no rank is left waiting.
void AgreeOnError(const Communicator& comm, std::exception_ptr local_error);

// Runs `body` and agrees on its outcome: AgreeOnError(comm, <exception of body or nullptr>).
template <typename Fn>
void RunAgreed(const Communicator& comm, Fn&& body) {
  std::exception_ptr error;
  try {
    body();
  } catch (...) {
    error = std::current_exception();
  }
  AgreeOnError(comm, error);
}

// The standard main() of every tool: creates the MPI context, runs `body`, and makes failures end
// the job. An exception escaping `body` on any rank is logged as "rank N: <message>"; an
// AgreedError ends all ranks cleanly with its exit code, anything else aborts the whole job (so
// ranks blocked in collectives do not hang) with the error's exit code (1 by default).
int RunMain(int argc, char** argv, const std::function<int(Context&)>& body);

}  // namespace simscale::mpi
