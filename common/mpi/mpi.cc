#include "common/mpi/mpi.h"

#include <algorithm>
#include <climits>
#include <cstdlib>
#include <memory>

#include <fmt/format.h>

#include "common/core/log.h"

namespace simscale::mpi {
namespace {

MPI_Op ToMpi(ReduceOp op) {
  switch (op) {
    case ReduceOp::kSum:
      return MPI_SUM;
    case ReduceOp::kMin:
      return MPI_MIN;
    case ReduceOp::kMax:
      return MPI_MAX;
    case ReduceOp::kLogicalAnd:
      return MPI_LAND;
    case ReduceOp::kLogicalOr:
      return MPI_LOR;
  }
  return MPI_SUM;
}

int CheckedCount(size_t count) {
  SIMSCALE_CHECK(count <= static_cast<size_t>(INT_MAX),
                 "MPI message of {} elements exceeds the int count limit", count);
  return static_cast<int>(count);
}

}  // namespace

void Check(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING] = {};
  int length = 0;
  if (MPI_Error_string(code, text, &length) != MPI_SUCCESS) {
    throw MpiError(fmt::format("{} failed with MPI error code {}", call, code));
  }
  throw MpiError(
      fmt::format("{} failed: {}", call, std::string(text, static_cast<size_t>(length))));
}

template <>
MPI_Datatype DataType<float>() {
  return MPI_FLOAT;
}
template <>
MPI_Datatype DataType<double>() {
  return MPI_DOUBLE;
}
template <>
MPI_Datatype DataType<int>() {
  return MPI_INT;
}
template <>
MPI_Datatype DataType<long>() {
  return MPI_LONG;
}
template <>
MPI_Datatype DataType<long long>() {
  return MPI_LONG_LONG;
}
template <>
MPI_Datatype DataType<unsigned long>() {
  return MPI_UNSIGNED_LONG;
}
template <>
MPI_Datatype DataType<unsigned long long>() {
  return MPI_UNSIGNED_LONG_LONG;
}
template <>
MPI_Datatype DataType<unsigned int>() {
  return MPI_UNSIGNED;
}
template <>
MPI_Datatype DataType<uint8_t>() {
  return MPI_UINT8_T;
}
template <>
MPI_Datatype DataType<char>() {
  return MPI_CHAR;
}

Communicator::Communicator(MPI_Comm comm) : comm_(comm) {
  SIMSCALE_MPI_CALL(MPI_Comm_rank(comm_, &rank_));
  SIMSCALE_MPI_CALL(MPI_Comm_size(comm_, &size_));
}

void Communicator::Barrier() const { SIMSCALE_MPI_CALL(MPI_Barrier(comm_)); }

void Communicator::AllReduceRaw(void* data, size_t count, MPI_Datatype type, ReduceOp op) const {
  SIMSCALE_MPI_CALL(MPI_Allreduce(MPI_IN_PLACE, data, CheckedCount(count), type, ToMpi(op), comm_));
}

void Communicator::BroadcastRaw(void* data, size_t count, MPI_Datatype type, int root) const {
  SIMSCALE_MPI_CALL(MPI_Bcast(data, CheckedCount(count), type, root, comm_));
}

void Communicator::Broadcast(std::string* text, int root) const {
  int64_t length = static_cast<int64_t>(text->size());
  Broadcast(&length, 1, root);
  text->resize(static_cast<size_t>(length));
  if (length > 0) Broadcast(text->data(), static_cast<size_t>(length), root);
}

void Communicator::AllGatherBytes(const void* in, void* out, size_t bytes) const {
  SIMSCALE_MPI_CALL(
      MPI_Allgather(in, CheckedCount(bytes), MPI_BYTE, out, CheckedCount(bytes), MPI_BYTE, comm_));
}

void Communicator::AllGatherVBytes(const void* in, size_t in_bytes,
                                   const std::vector<int64_t>& counts, size_t element_bytes,
                                   void* out) const {
  std::vector<int> byte_counts(counts.size()), displacements(counts.size());
  size_t offset = 0;
  for (size_t r = 0; r < counts.size(); ++r) {
    byte_counts[r] = CheckedCount(static_cast<size_t>(counts[r]) * element_bytes);
    displacements[r] = CheckedCount(offset);
    offset += static_cast<size_t>(byte_counts[r]);
  }
  SIMSCALE_MPI_CALL(MPI_Allgatherv(in, CheckedCount(in_bytes), MPI_BYTE, out, byte_counts.data(),
                                   displacements.data(), MPI_BYTE, comm_));
}

int64_t Communicator::ExclusivePrefixSum(int64_t value) const {
  int64_t result = 0;
  SIMSCALE_MPI_CALL(MPI_Exscan(&value, &result, 1, MPI_INT64_T, MPI_SUM, comm_));
  return rank_ == 0 ? 0 : result;  // MPI leaves rank 0's result undefined
}

namespace {
MPI_Comm InitAndGetWorld(int* argc, char*** argv, int* provided, bool* owns) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  if (!initialized) {
    Check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, provided), "MPI_Init_thread");
    *owns = true;
  } else {
    MPI_Query_thread(provided);
  }
  Check(MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN), "MPI_Comm_set_errhandler");
  return MPI_COMM_WORLD;
}
}  // namespace

Context::Context(int* argc, char*** argv)
    : world_(InitAndGetWorld(argc, argv, &thread_level_, &owns_init_)) {
  log::SetRank(world_.rank(), world_.size());
}

Context::~Context() {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (owns_init_ && !finalized) MPI_Finalize();
}

void Context::Abort(int exit_code) {
  MPI_Abort(MPI_COMM_WORLD, exit_code == 0 ? 1 : exit_code);
  std::_Exit(exit_code == 0 ? 1 : exit_code);  // MPI_Abort should not return
}

int LocalRank(const Communicator& comm) {
  MPI_Comm node = MPI_COMM_NULL;
  SIMSCALE_MPI_CALL(
      MPI_Comm_split_type(comm.handle(), MPI_COMM_TYPE_SHARED, comm.rank(), MPI_INFO_NULL, &node));
  int rank = 0;
  const int code = MPI_Comm_rank(node, &rank);
  MPI_Comm_free(&node);
  Check(code, "MPI_Comm_rank");
  return rank;
}

Range SplitEvenly(int64_t total, int parts, int part) {
  return SplitEvenly(Range{0, total}, parts, part);
}

Range SplitEvenly(Range range, int parts, int part) {
  CheckArgument(parts > 0, "SplitEvenly parts", parts, "a positive number of parts");
  CheckArgument(part >= 0 && part < parts, "SplitEvenly part", part,
                fmt::format("an index in [0, {})", parts));
  const int64_t total = std::max<int64_t>(range.size(), 0);
  const int64_t base = total / parts;
  const int64_t extra = total % parts;
  const int64_t begin = range.begin + part * base + std::min<int64_t>(part, extra);
  const int64_t size = base + (part < extra ? 1 : 0);
  return Range{begin, begin + size};
}

void AgreeOnError(const Communicator& comm, std::exception_ptr local_error) {
  const int failing = comm.AllReduce<int>(local_error ? comm.rank() : comm.size(), ReduceOp::kMin);
  if (failing == comm.size()) return;
  std::string message;
  int exit_code = 1;
  if (comm.rank() == failing) {
    try {
      std::rethrow_exception(local_error);
    } catch (const Error& e) {
      message = e.what();
      exit_code = e.exit_code();
    } catch (const std::exception& e) {
      message = e.what();
    } catch (...) {
      message = "unknown exception";
    }
  }
  comm.Broadcast(&message, failing);
  comm.Broadcast(&exit_code, 1, failing);
  throw AgreedError(message, exit_code, failing);
}

int RunMain(int argc, char** argv, const std::function<int(Context&)>& body) {
  std::unique_ptr<Context> context;
  try {
    context = std::make_unique<Context>(&argc, &argv);
  } catch (const std::exception& e) {
    log::Error("MPI initialisation failed: {}", e.what());
    return 1;
  }
  const int rank = context->world().rank();
  const int size = context->world().size();
  try {
    return body(*context);
  } catch (const AgreedError& e) {
    if (rank == e.origin_rank()) log::Error("{}", e.what());
    return e.exit_code();
  } catch (const Error& e) {
    log::Error("rank {}: {}", rank, e.what());
    if (size > 1) Context::Abort(e.exit_code());
    return e.exit_code();
  } catch (const std::exception& e) {
    log::Error("rank {}: {}", rank, e.what());
    if (size > 1) Context::Abort(1);
    return 1;
  } catch (...) {
    log::Error("rank {}: unknown exception", rank);
    if (size > 1) Context::Abort(1);
    return 1;
  }
}

}  // namespace simscale::mpi
