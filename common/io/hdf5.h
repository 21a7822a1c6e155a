#pragma once

#include <hdf5.h>
#include <mpi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/core/error.h"
#include "common/io/dtype.h"

// The toolkit's only HDF5 wrapper: thin RAII handles over the C API. Every call is checked; a
// failure throws Hdf5Error carrying the operation, the object path and file, and the messages of
// HDF5's own error stack. HDF5's automatic error printing is turned off (the messages travel in
// the exception instead). No other file of the project calls H5* functions.
//
// Parallel files: an object opened from a file created/opened with an MPI communicator is
// "parallel". Every metadata operation on it (create, extend, attribute write, flush, close) is
// collective, so every rank must make the same calls with the same arguments; dataset reads and
// writes use collective transfers (a rank with nothing to write passes zero rows and takes part
// with an empty selection), which is also what filtered (gzip) datasets require.
namespace simscale::io::h5 {

class Hdf5Error : public IoError {
 public:
  using IoError::IoError;
};

inline constexpr hsize_t kUnlimited = H5S_UNLIMITED;
// The default cap of Object::ReadStringAttribute.
inline constexpr size_t kMaxStringAttributeBytes = 16 * 1024 * 1024;

namespace internal {

// Throws Hdf5Error("<operation> failed for '<object>' in '<file>': <HDF5 error stack>").
[[noreturn]] void ThrowError(std::string_view operation, std::string_view file,
                             std::string_view object);

// Returns `result` unless it signals failure (negative), in which case it throws.
template <typename T>
T Check(T result, std::string_view operation, std::string_view file, std::string_view object) {
  if (result < 0) ThrowError(operation, file, object);
  return result;
}

}  // namespace internal

// Owns one HDF5 identifier and closes it on destruction (errors there are ignored: destructors
// do not throw; use Close() where a failure must be seen). Move-only.
class Handle {
 public:
  using CloseFunction = herr_t (*)(hid_t);

  Handle() = default;
  Handle(hid_t id, CloseFunction close) : id_(id), close_(close) {}
  ~Handle();
  Handle(Handle&& other) noexcept;
  Handle& operator=(Handle&& other) noexcept;
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const { return id_; }
  bool valid() const { return id_ >= 0; }
  // Closes now; throws Hdf5Error (with `file`/`object` as context) if HDF5 reports a failure.
  void Close(std::string_view file, std::string_view object);
  // Gives up the identifier without closing it.
  hid_t Release();

 private:
  hid_t id_ = H5I_INVALID_HID;
  CloseFunction close_ = nullptr;
};

// An element type, in a file or in memory.
class Datatype {
 public:
  // The stored (little-endian, standard) type of `dtype`.
  static Datatype Stored(DType dtype);
  // The host's native type of `dtype`, for memory buffers.
  static Datatype Native(DType dtype);
  // A fixed-width byte string of `bytes` bytes, NUL-padded (numpy's "S<bytes>").
  static Datatype FixedString(size_t bytes);
  // A variable-length UTF-8 string (what h5py reads as str).
  static Datatype VariableString();
  // Takes ownership of an identifier returned by HDF5.
  static Datatype Adopt(hid_t id) { return Datatype(Handle(id, H5Tclose)); }

  hid_t id() const { return handle_.get(); }
  size_t size() const;
  bool is_string() const;
  bool is_variable_string() const;
  // The DType with exactly this class, size and signedness, if there is one.
  std::optional<DType> AsDType() const;
  // "float32", "string(256)", "variable-length string", "integer(2 bytes, unsigned)", ...
  std::string Describe() const;

 private:
  explicit Datatype(Handle handle) : handle_(std::move(handle)) {}
  Handle handle_;
};

class Dataspace {
 public:
  static Dataspace Scalar();
  // A simple dataspace; `max_dims` empty means fixed at `dims`; kUnlimited entries may grow.
  static Dataspace Simple(const std::vector<hsize_t>& dims,
                          const std::vector<hsize_t>& max_dims = {});
  static Dataspace Adopt(hid_t id) { return Dataspace(Handle(id, H5Sclose)); }

  hid_t id() const { return handle_.get(); }
  int rank() const;
  std::vector<hsize_t> dims() const;
  std::vector<hsize_t> max_dims() const;
  // Selects rows [first, first + count) of dimension 0 and everything in the other dimensions.
  void SelectRows(hsize_t first, hsize_t count);
  void SelectNone();
  void SelectAll();
  hssize_t selected_points() const;
  // First and last (inclusive) index of the selection in each dimension.
  std::pair<std::vector<hsize_t>, std::vector<hsize_t>> SelectionBounds() const;

 private:
  explicit Dataspace(Handle handle) : handle_(std::move(handle)) {}
  Handle handle_;
};

// How a dataset is stored. Chunk dimensions larger than a fixed (not kUnlimited) maximum are
// clamped to it, so small fixed-size datasets need no special case.
struct StorageOptions {
  std::vector<hsize_t> chunk;  // empty: contiguous storage
  int gzip_level = 0;          // 0: no compression; 1..9 deflate (requires chunk)
  bool shuffle = false;        // byte shuffle before deflate (helps floats)
};

// One mapping of a virtual dataset: all of the virtual dataset's rows come, in order, from rows
// [first_row, first_row + num_rows) of `dataset_path` in `file_name` ("." = the same file).
struct VirtualSource {
  std::string file_name;
  std::string dataset_path;
  hsize_t first_row = 0;
  hsize_t num_rows = 0;
};

// What a path names.
enum class ObjectKind { kMissing, kGroup, kDataset, kOther };

class Dataset;
class Group;

// A group, a dataset or a file's root: something with a path and attributes.
class Object {
 public:
  hid_t id() const { return handle_.get(); }
  const std::string& file_name() const { return file_name_; }
  const std::string& path() const { return path_; }
  bool parallel() const { return parallel_; }
  // Gives up the identifier without closing it (left to HDF5's shutdown). For a parallel file
  // on a rank that is unwinding alone, where a collective close would hang.
  void Abandon() { handle_.Release(); }

  bool HasAttribute(std::string_view name) const;
  std::vector<std::string> AttributeNames() const;
  // Scalar attributes, created or replaced. int64 and float64 are stored as such; strings are
  // variable-length UTF-8.
  void WriteIntAttribute(std::string_view name, int64_t value) const;
  void WriteDoubleAttribute(std::string_view name, double value) const;
  void WriteStringAttribute(std::string_view name, std::string_view value) const;
  // Reads with conversion (any integer or float type for numbers; fixed or variable strings).
  int64_t ReadIntAttribute(std::string_view name) const;
  double ReadDoubleAttribute(std::string_view name) const;
  // Strings longer than `max_bytes` are refused (Hdf5Error naming the attribute and the cap):
  // a damaged file must not make the reader allocate without bound.
  std::string ReadStringAttribute(std::string_view name,
                                  size_t max_bytes = kMaxStringAttributeBytes) const;
  Datatype AttributeType(std::string_view name) const;
  void DeleteAttribute(std::string_view name) const;

 protected:
  Object(Handle handle, std::string file_name, std::string path, bool parallel)
      : handle_(std::move(handle)),
        file_name_(std::move(file_name)),
        path_(std::move(path)),
        parallel_(parallel) {}
  std::string ChildPath(std::string_view name) const;

  Handle handle_;
  std::string file_name_;
  std::string path_;
  bool parallel_ = false;
};

class Group : public Object {
 public:
  // What `relative_path` ("a/b/c") names, without failing when a component is missing.
  ObjectKind KindOf(std::string_view relative_path) const;
  bool Exists(std::string_view relative_path) const {
    return KindOf(relative_path) != ObjectKind::kMissing;
  }
  // Creates a group (and missing intermediate groups).
  Group CreateGroup(std::string_view relative_path) const;
  Group OpenGroup(std::string_view relative_path) const;
  Dataset OpenDataset(std::string_view relative_path) const;
  Dataset CreateDataset(std::string_view relative_path, const Datatype& type,
                        const Dataspace& space, const StorageOptions& storage = {}) const;
  // A virtual dataset of `type` and `space` whose content is the concatenation, along dimension
  // 0, of `sources` (each source's row shape must match the space's).
  Dataset CreateVirtualDataset(std::string_view relative_path, const Datatype& type,
                               const Dataspace& space,
                               const std::vector<VirtualSource>& sources) const;
  // Names of the direct children, in byte order.
  std::vector<std::string> ChildNames() const;
  // Removes the link (the space is not reclaimed: HDF5 does not shrink files).
  void Unlink(std::string_view relative_path) const;

 protected:
  Group(Handle handle, std::string file_name, std::string path, bool parallel)
      : Object(std::move(handle), std::move(file_name), std::move(path), parallel) {}
};

class Dataset : public Object {
 public:
  Datatype datatype() const;
  Dataspace space() const;
  std::vector<hsize_t> dims() const;
  void SetExtent(const std::vector<hsize_t>& dims) const;

  // Writes rows [first, first + count) from a row-major buffer of `memory_type`. Collective in a
  // parallel file: every rank calls it, ranks with nothing pass count = 0 (data may be null).
  void WriteRows(const Datatype& memory_type, hsize_t first, hsize_t count, const void* data) const;
  // Reads rows [first, first + count) into a row-major buffer of `memory_type`.
  void ReadRows(const Datatype& memory_type, hsize_t first, hsize_t count, void* out) const;
  void WriteAll(const Datatype& memory_type, const void* data) const;
  void ReadAll(const Datatype& memory_type, void* out) const;

  bool is_virtual() const;
  // The mappings of a virtual dataset, as created by Group::CreateVirtualDataset (a source
  // selection that is not a block of whole rows is reported with its bounding rows).
  std::vector<VirtualSource> VirtualSources() const;
  // Chunk dimensions; empty if the dataset is not chunked.
  std::vector<hsize_t> chunk_dims() const;
  // Where each allocated chunk lies in the file (for tools and tests that inspect raw bytes).
  struct ChunkLocation {
    std::vector<hsize_t> offset;  // the chunk's first element, per dimension
    haddr_t file_address = 0;     // byte offset in the file
    hsize_t bytes = 0;            // stored size (after filters)
  };
  std::vector<ChunkLocation> ChunkLocations() const;
  // Deflate level (0 if none) and whether the shuffle filter is on.
  int gzip_level() const;
  bool shuffled() const;

 private:
  friend class Group;
  Dataset(Handle handle, std::string file_name, std::string path, bool parallel)
      : Object(std::move(handle), std::move(file_name), std::move(path), parallel) {}
  Handle CreationProperties() const;
  void Transfer(bool write, const Datatype& memory_type, std::optional<hsize_t> first,
                hsize_t count, void* buffer) const;
};

class File : public Group {
 public:
  enum class Mode { kReadOnly, kReadWrite };

  // Creates `path`, failing if it exists. With a communicator other than MPI_COMM_NULL the file is
  // parallel (MPI-IO driver, collective metadata reads and writes; collective over `comm`);
  // otherwise serial (sec2 driver). Both use the latest file format (about half the size for
  // chunked data).
  //
  // With `append_only`, file space is only ever taken from the end of the file: space HDF5 frees
  // (a compressed chunk rewritten at another size, a truncated dataset) is never reused. The file
  // grows a little, but bytes that the last flushed metadata points to are never overwritten
  // with other content, so a crash before the next flush cannot corrupt what was flushed.
  static File Create(const std::string& path, MPI_Comm comm = MPI_COMM_NULL,
                     bool append_only = false);
  static File Open(const std::string& path, Mode mode, MPI_Comm comm = MPI_COMM_NULL);

  // Writes every cached change to disk (collective when parallel).
  void Flush() const;
  // Closes the file, reporting failure (e.g. objects still open). Collective when parallel.
  void Close();

 private:
  File(Handle handle, std::string file_name, bool parallel)
      : Group(std::move(handle), std::move(file_name), "/", parallel) {}
};

}  // namespace simscale::io::h5
