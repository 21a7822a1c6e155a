#include "common/io/hdf5.h"

#include <algorithm>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace simscale::io::h5 {
namespace internal {
namespace {

herr_t AppendErrorLine(unsigned depth, const H5E_error2_t* error, void* data) {
  auto* text = static_cast<std::string*>(data);
  char minor[160] = "";
  if (H5Eget_msg(error->min_num, nullptr, minor, sizeof(minor)) < 0) minor[0] = '\0';
  fmt::format_to(std::back_inserter(*text), "\n  [{}] {}(): {}{}{}{}", depth,
                 error->func_name ? error->func_name : "?", error->desc ? error->desc : "",
                 minor[0] != '\0' ? " (" : "", minor, minor[0] != '\0' ? ")" : "");
  return 0;
}

}  // namespace

void ThrowError(std::string_view operation, std::string_view file, std::string_view object) {
  std::string stack;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, AppendErrorLine, &stack);
  H5Eclear2(H5E_DEFAULT);
  if (stack.empty()) stack = " (HDF5 left no message)";
  throw Hdf5Error(
      fmt::format("HDF5 {} failed for '{}' in file '{}':{}", operation, object, file, stack));
}

}  // namespace internal

namespace {

using internal::Check;

// Turns HDF5's automatic error printing off once; failures travel in exceptions instead.
void InitializeLibrary() {
  static const bool initialized = [] {
    H5open();
    H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
    return true;
  }();
  (void)initialized;
}

hid_t PredefinedStored(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return H5T_IEEE_F32LE;
    case DType::kFloat64:
      return H5T_IEEE_F64LE;
    case DType::kUInt8:
      return H5T_STD_U8LE;
    case DType::kInt32:
      return H5T_STD_I32LE;
    case DType::kInt64:
      return H5T_STD_I64LE;
  }
  return H5I_INVALID_HID;
}

hid_t PredefinedNative(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return H5T_NATIVE_FLOAT;
    case DType::kFloat64:
      return H5T_NATIVE_DOUBLE;
    case DType::kUInt8:
      return H5T_NATIVE_UINT8;
    case DType::kInt32:
      return H5T_NATIVE_INT32;
    case DType::kInt64:
      return H5T_NATIVE_INT64;
  }
  return H5I_INVALID_HID;
}

constexpr const char* kNoFile = "(no file)";

Handle MakePropertyList(hid_t cls, std::string_view what) {
  return Handle(Check(H5Pcreate(cls), "H5Pcreate", kNoFile, what), H5Pclose);
}

Handle FileAccessProperties(const std::string& path, MPI_Comm comm) {
  Handle fapl = MakePropertyList(H5P_FILE_ACCESS, path);
  if (comm != MPI_COMM_NULL) {
    Check(H5Pset_fapl_mpio(fapl.get(), comm, MPI_INFO_NULL), "H5Pset_fapl_mpio", path, "/");
    // Collective metadata reads and writes: fewer small I/O calls, and the setting that avoids
    // 1.10.8's metadata-cache failure with many open objects.
    Check(H5Pset_all_coll_metadata_ops(fapl.get(), true), "H5Pset_all_coll_metadata_ops", path,
          "/");
    Check(H5Pset_coll_metadata_write(fapl.get(), true), "H5Pset_coll_metadata_write", path, "/");
  } else {
    Check(H5Pset_fapl_sec2(fapl.get()), "H5Pset_fapl_sec2", path, "/");
  }
  Check(H5Pset_libver_bounds(fapl.get(), H5F_LIBVER_LATEST, H5F_LIBVER_LATEST),
        "H5Pset_libver_bounds", path, "/");
  return fapl;
}

std::string JoinPath(const std::string& parent, std::string_view child) {
  if (parent.empty() || parent == "/") return fmt::format("/{}", child);
  return fmt::format("{}/{}", parent, child);
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Handle

Handle::~Handle() {
  if (valid() && close_ != nullptr) close_(id_);
}

Handle::Handle(Handle&& other) noexcept : id_(other.id_), close_(other.close_) {
  other.id_ = H5I_INVALID_HID;
}

Handle& Handle::operator=(Handle&& other) noexcept {
  if (this != &other) {
    if (valid() && close_ != nullptr) close_(id_);
    id_ = other.id_;
    close_ = other.close_;
    other.id_ = H5I_INVALID_HID;
  }
  return *this;
}

void Handle::Close(std::string_view file, std::string_view object) {
  if (!valid()) return;
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  if (close_ != nullptr) Check(close_(id), "close", file, object);
}

hid_t Handle::Release() {
  const hid_t id = id_;
  id_ = H5I_INVALID_HID;
  return id;
}

// ---------------------------------------------------------------------------------------------
// Datatype

Datatype Datatype::Stored(DType dtype) {
  InitializeLibrary();
  return Adopt(Check(H5Tcopy(PredefinedStored(dtype)), "H5Tcopy", kNoFile, DTypeName(dtype)));
}

Datatype Datatype::Native(DType dtype) {
  InitializeLibrary();
  return Adopt(Check(H5Tcopy(PredefinedNative(dtype)), "H5Tcopy", kNoFile, DTypeName(dtype)));
}

Datatype Datatype::FixedString(size_t bytes) {
  InitializeLibrary();
  Datatype type = Adopt(Check(H5Tcopy(H5T_C_S1), "H5Tcopy", kNoFile, "string"));
  Check(H5Tset_size(type.id(), std::max<size_t>(bytes, 1)), "H5Tset_size", kNoFile, "string");
  Check(H5Tset_strpad(type.id(), H5T_STR_NULLPAD), "H5Tset_strpad", kNoFile, "string");
  return type;
}

Datatype Datatype::VariableString() {
  InitializeLibrary();
  Datatype type = Adopt(Check(H5Tcopy(H5T_C_S1), "H5Tcopy", kNoFile, "string"));
  Check(H5Tset_size(type.id(), H5T_VARIABLE), "H5Tset_size", kNoFile, "string");
  Check(H5Tset_cset(type.id(), H5T_CSET_UTF8), "H5Tset_cset", kNoFile, "string");
  return type;
}

size_t Datatype::size() const {
  const size_t size = H5Tget_size(id());
  if (size == 0) internal::ThrowError("H5Tget_size", kNoFile, "datatype");
  return size;
}

bool Datatype::is_string() const {
  return Check(H5Tget_class(id()), "H5Tget_class", kNoFile, "datatype") == H5T_STRING;
}

bool Datatype::is_variable_string() const {
  return is_string() &&
         Check(H5Tis_variable_str(id()), "H5Tis_variable_str", kNoFile, "datatype") > 0;
}

std::optional<DType> Datatype::AsDType() const {
  const H5T_class_t cls = Check(H5Tget_class(id()), "H5Tget_class", kNoFile, "datatype");
  const size_t bytes = size();
  if (cls == H5T_FLOAT) {
    if (bytes == 4) return DType::kFloat32;
    if (bytes == 8) return DType::kFloat64;
    return std::nullopt;
  }
  if (cls == H5T_INTEGER) {
    const H5T_sign_t sign = H5Tget_sign(id());
    if (sign == H5T_SGN_ERROR) internal::ThrowError("H5Tget_sign", kNoFile, "datatype");
    if (sign == H5T_SGN_NONE)
      return bytes == 1 ? std::optional<DType>(DType::kUInt8) : std::nullopt;
    if (bytes == 4) return DType::kInt32;
    if (bytes == 8) return DType::kInt64;
  }
  return std::nullopt;
}

std::string Datatype::Describe() const {
  if (const auto dtype = AsDType()) return std::string(DTypeName(*dtype));
  const H5T_class_t cls = Check(H5Tget_class(id()), "H5Tget_class", kNoFile, "datatype");
  switch (cls) {
    case H5T_STRING:
      return is_variable_string() ? "variable-length string" : fmt::format("string({})", size());
    case H5T_INTEGER:
      return fmt::format("integer({} bytes, {})", size(),
                         H5Tget_sign(id()) == H5T_SGN_NONE ? "unsigned" : "signed");
    case H5T_FLOAT:
      return fmt::format("float({} bytes)", size());
    default:
      return fmt::format("HDF5 type class {} ({} bytes)", static_cast<int>(cls), size());
  }
}

// ---------------------------------------------------------------------------------------------
// Dataspace

Dataspace Dataspace::Scalar() {
  InitializeLibrary();
  return Adopt(Check(H5Screate(H5S_SCALAR), "H5Screate", kNoFile, "scalar dataspace"));
}

Dataspace Dataspace::Simple(const std::vector<hsize_t>& dims,
                            const std::vector<hsize_t>& max_dims) {
  InitializeLibrary();
  SIMSCALE_CHECK(max_dims.empty() || max_dims.size() == dims.size(),
                 "max_dims has {} entries for {} dims", max_dims.size(), dims.size());
  return Adopt(Check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(),
                                      max_dims.empty() ? nullptr : max_dims.data()),
                     "H5Screate_simple", kNoFile, "dataspace"));
}

int Dataspace::rank() const {
  return Check(H5Sget_simple_extent_ndims(id()), "H5Sget_simple_extent_ndims", kNoFile,
               "dataspace");
}

std::vector<hsize_t> Dataspace::dims() const {
  std::vector<hsize_t> dims(static_cast<size_t>(rank()));
  Check(H5Sget_simple_extent_dims(id(), dims.data(), nullptr), "H5Sget_simple_extent_dims", kNoFile,
        "dataspace");
  return dims;
}

std::vector<hsize_t> Dataspace::max_dims() const {
  std::vector<hsize_t> max_dims(static_cast<size_t>(rank()));
  Check(H5Sget_simple_extent_dims(id(), nullptr, max_dims.data()), "H5Sget_simple_extent_dims",
        kNoFile, "dataspace");
  return max_dims;
}

void Dataspace::SelectRows(hsize_t first, hsize_t count) {
  std::vector<hsize_t> start(static_cast<size_t>(rank()), 0);
  std::vector<hsize_t> block = dims();
  SIMSCALE_CHECK(!block.empty(), "cannot select rows of a scalar dataspace");
  if (count == 0) {
    SelectNone();
    return;
  }
  start[0] = first;
  block[0] = count;
  Check(H5Sselect_hyperslab(id(), H5S_SELECT_SET, start.data(), nullptr, block.data(), nullptr),
        "H5Sselect_hyperslab", kNoFile, fmt::format("rows [{}, {})", first, first + count));
}

void Dataspace::SelectNone() {
  Check(H5Sselect_none(id()), "H5Sselect_none", kNoFile, "dataspace");
}

void Dataspace::SelectAll() { Check(H5Sselect_all(id()), "H5Sselect_all", kNoFile, "dataspace"); }

hssize_t Dataspace::selected_points() const {
  return Check(H5Sget_select_npoints(id()), "H5Sget_select_npoints", kNoFile, "dataspace");
}

std::pair<std::vector<hsize_t>, std::vector<hsize_t>> Dataspace::SelectionBounds() const {
  std::vector<hsize_t> start(static_cast<size_t>(rank()));
  std::vector<hsize_t> end(start.size());
  Check(H5Sget_select_bounds(id(), start.data(), end.data()), "H5Sget_select_bounds", kNoFile,
        "dataspace");
  return {start, end};
}

// ---------------------------------------------------------------------------------------------
// Object: attributes

std::string Object::ChildPath(std::string_view name) const { return JoinPath(path_, name); }

bool Object::HasAttribute(std::string_view name) const {
  const std::string key(name);
  return Check(H5Aexists(id(), key.c_str()), "H5Aexists", file_name_,
               fmt::format("{}@{}", path_, name)) > 0;
}

namespace {

herr_t CollectAttributeName(hid_t, const char* name, const H5A_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

herr_t CollectLinkName(hid_t, const char* name, const H5L_info_t*, void* data) {
  static_cast<std::vector<std::string>*>(data)->emplace_back(name);
  return 0;
}

}  // namespace

std::vector<std::string> Object::AttributeNames() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  Check(H5Aiterate2(id(), H5_INDEX_NAME, H5_ITER_INC, &index, CollectAttributeName, &names),
        "H5Aiterate2", file_name_, path_);
  return names;
}

void Object::DeleteAttribute(std::string_view name) const {
  const std::string key(name);
  Check(H5Adelete(id(), key.c_str()), "H5Adelete", file_name_, fmt::format("{}@{}", path_, name));
}

namespace {

// Creates (replacing any existing) a scalar attribute and writes `data` of `memory_type`.
void WriteScalarAttribute(const Object& object, std::string_view name, const Datatype& stored,
                          const Datatype& memory_type, const void* data) {
  const std::string key(name);
  const std::string where = fmt::format("{}@{}", object.path(), name);
  if (object.HasAttribute(name)) object.DeleteAttribute(name);
  const Dataspace space = Dataspace::Scalar();
  Handle attribute(
      Check(H5Acreate2(object.id(), key.c_str(), stored.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
            "H5Acreate2", object.file_name(), where),
      H5Aclose);
  Check(H5Awrite(attribute.get(), memory_type.id(), data), "H5Awrite", object.file_name(), where);
  attribute.Close(object.file_name(), where);
}

Handle OpenAttribute(const Object& object, std::string_view name) {
  const std::string key(name);
  return Handle(Check(H5Aopen(object.id(), key.c_str(), H5P_DEFAULT), "H5Aopen", object.file_name(),
                      fmt::format("{}@{}", object.path(), name)),
                H5Aclose);
}

}  // namespace

void Object::WriteIntAttribute(std::string_view name, int64_t value) const {
  WriteScalarAttribute(*this, name, Datatype::Stored(DType::kInt64),
                       Datatype::Native(DType::kInt64), &value);
}

void Object::WriteDoubleAttribute(std::string_view name, double value) const {
  WriteScalarAttribute(*this, name, Datatype::Stored(DType::kFloat64),
                       Datatype::Native(DType::kFloat64), &value);
}

void Object::WriteStringAttribute(std::string_view name, std::string_view value) const {
  const std::string text(value);
  const char* pointer = text.c_str();
  const Datatype type = Datatype::VariableString();
  WriteScalarAttribute(*this, name, type, type, &pointer);
}

int64_t Object::ReadIntAttribute(std::string_view name) const {
  const Handle attribute = OpenAttribute(*this, name);
  int64_t value = 0;
  Check(H5Aread(attribute.get(), H5T_NATIVE_INT64, &value), "H5Aread (as int64)", file_name_,
        fmt::format("{}@{}", path_, name));
  return value;
}

double Object::ReadDoubleAttribute(std::string_view name) const {
  const Handle attribute = OpenAttribute(*this, name);
  double value = 0;
  Check(H5Aread(attribute.get(), H5T_NATIVE_DOUBLE, &value), "H5Aread (as float64)", file_name_,
        fmt::format("{}@{}", path_, name));
  return value;
}

Datatype Object::AttributeType(std::string_view name) const {
  const Handle attribute = OpenAttribute(*this, name);
  return Datatype::Adopt(Check(H5Aget_type(attribute.get()), "H5Aget_type", file_name_,
                               fmt::format("{}@{}", path_, name)));
}

std::string Object::ReadStringAttribute(std::string_view name, size_t max_bytes) const {
  const std::string where = fmt::format("{}@{}", path_, name);
  const Handle attribute = OpenAttribute(*this, name);
  const Datatype type =
      Datatype::Adopt(Check(H5Aget_type(attribute.get()), "H5Aget_type", file_name_, where));
  if (!type.is_string()) {
    throw Hdf5Error(fmt::format("attribute '{}' in file '{}': expected a string, found {}", where,
                                file_name_, type.Describe()));
  }
  const Dataspace space =
      Dataspace::Adopt(Check(H5Aget_space(attribute.get()), "H5Aget_space", file_name_, where));
  if (space.selected_points() != 1) {
    throw Hdf5Error(fmt::format("attribute '{}' in file '{}': expected one string, found {}", where,
                                file_name_, space.selected_points()));
  }
  const auto too_long = [&](size_t bytes, bool at_least) {
    return Hdf5Error(fmt::format(
        "attribute '{}' in file '{}' is a string of {}{} bytes, more than the {} allowed: the "
        "file is damaged or was not written by SimScale",
        where, file_name_, at_least ? "at least " : "", bytes, max_bytes));
  };
  if (type.is_variable_string()) {
    // HDF5 allocates the string itself; its length is known only after the read.
    char* pointer = nullptr;
    Check(H5Aread(attribute.get(), type.id(), &pointer), "H5Aread", file_name_, where);
    const size_t length = pointer != nullptr ? strnlen(pointer, max_bytes + 1) : 0;
    std::string value = length <= max_bytes ? std::string(pointer, length) : std::string();
    if (pointer != nullptr) H5free_memory(pointer);
    if (length > max_bytes) throw too_long(length, /*at_least=*/true);  // read no further
    return value;
  }
  if (type.size() > max_bytes) throw too_long(type.size(), /*at_least=*/false);
  std::string value(type.size(), '\0');
  Check(H5Aread(attribute.get(), type.id(), value.data()), "H5Aread", file_name_, where);
  value.resize(std::strlen(value.c_str()));
  return value;
}

// ---------------------------------------------------------------------------------------------
// Group

ObjectKind Group::KindOf(std::string_view relative_path) const {
  // H5Lexists fails (rather than returning false) when an intermediate group is missing, so test
  // one component at a time.
  size_t end = 0;
  while (end != std::string_view::npos) {
    end = relative_path.find('/', end + 1);
    const std::string prefix(relative_path.substr(0, end));
    if (prefix.empty()) continue;
    const htri_t exists = H5Lexists(id(), prefix.c_str(), H5P_DEFAULT);
    if (exists < 0) {
      H5Eclear2(H5E_DEFAULT);
      return ObjectKind::kMissing;
    }
    if (exists == 0) return ObjectKind::kMissing;
  }
  const std::string full(relative_path);
  const hid_t object = H5Oopen(id(), full.c_str(), H5P_DEFAULT);
  if (object < 0) {
    H5Eclear2(H5E_DEFAULT);  // a dangling soft link, for example
    return ObjectKind::kMissing;
  }
  const H5I_type_t type = H5Iget_type(object);
  H5Oclose(object);
  if (type == H5I_GROUP) return ObjectKind::kGroup;
  if (type == H5I_DATASET) return ObjectKind::kDataset;
  return ObjectKind::kOther;
}

Group Group::CreateGroup(std::string_view relative_path) const {
  const std::string name(relative_path);
  const std::string path = ChildPath(relative_path);
  Handle lcpl = MakePropertyList(H5P_LINK_CREATE, path);
  Check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group",
        file_name_, path);
  Handle group(Check(H5Gcreate2(id(), name.c_str(), lcpl.get(), H5P_DEFAULT, H5P_DEFAULT),
                     "H5Gcreate2", file_name_, path),
               H5Gclose);
  return Group(std::move(group), file_name_, path, parallel_);
}

Group Group::OpenGroup(std::string_view relative_path) const {
  const std::string name(relative_path);
  const std::string path = ChildPath(relative_path);
  Handle group(Check(H5Gopen2(id(), name.c_str(), H5P_DEFAULT), "H5Gopen2", file_name_, path),
               H5Gclose);
  return Group(std::move(group), file_name_, path, parallel_);
}

Dataset Group::OpenDataset(std::string_view relative_path) const {
  const std::string name(relative_path);
  const std::string path = ChildPath(relative_path);
  Handle dataset(Check(H5Dopen2(id(), name.c_str(), H5P_DEFAULT), "H5Dopen2", file_name_, path),
                 H5Dclose);
  return Dataset(std::move(dataset), file_name_, path, parallel_);
}

Dataset Group::CreateDataset(std::string_view relative_path, const Datatype& type,
                             const Dataspace& space, const StorageOptions& storage) const {
  const std::string name(relative_path);
  const std::string path = ChildPath(relative_path);
  Handle lcpl = MakePropertyList(H5P_LINK_CREATE, path);
  Check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group",
        file_name_, path);
  Handle dcpl = MakePropertyList(H5P_DATASET_CREATE, path);
  if (!storage.chunk.empty()) {
    const std::vector<hsize_t> max_dims = space.max_dims();
    if (storage.chunk.size() != max_dims.size()) {
      throw Hdf5Error(
          fmt::format("dataset '{}' in file '{}': chunk has {} dimensions, the "
                      "dataspace {}",
                      path, file_name_, storage.chunk.size(), max_dims.size()));
    }
    std::vector<hsize_t> chunk = storage.chunk;
    for (size_t d = 0; d < chunk.size(); ++d) {
      // A chunk dimension may not exceed a fixed maximum dimension (nor be 0).
      if (max_dims[d] != kUnlimited) chunk[d] = std::min(chunk[d], max_dims[d]);
      chunk[d] = std::max<hsize_t>(chunk[d], 1);
    }
    Check(H5Pset_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pset_chunk",
          file_name_, path);
    if (storage.gzip_level > 0) {
      if (storage.shuffle) Check(H5Pset_shuffle(dcpl.get()), "H5Pset_shuffle", file_name_, path);
      Check(H5Pset_deflate(dcpl.get(), static_cast<unsigned>(storage.gzip_level)), "H5Pset_deflate",
            file_name_, path);
    }
  } else if (storage.gzip_level > 0) {
    throw Hdf5Error(
        fmt::format("dataset '{}' in file '{}': gzip needs chunked storage", path, file_name_));
  }
  Handle dataset(Check(H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.get(), dcpl.get(),
                                  H5P_DEFAULT),
                       "H5Dcreate2", file_name_, path),
                 H5Dclose);
  return Dataset(std::move(dataset), file_name_, path, parallel_);
}

Dataset Group::CreateVirtualDataset(std::string_view relative_path, const Datatype& type,
                                    const Dataspace& space,
                                    const std::vector<VirtualSource>& sources) const {
  const std::string name(relative_path);
  const std::string path = ChildPath(relative_path);
  Handle lcpl = MakePropertyList(H5P_LINK_CREATE, path);
  Check(H5Pset_create_intermediate_group(lcpl.get(), 1), "H5Pset_create_intermediate_group",
        file_name_, path);
  Handle dcpl = MakePropertyList(H5P_DATASET_CREATE, path);
  const std::vector<hsize_t> dims = space.dims();
  SIMSCALE_CHECK(!dims.empty(), "virtual dataset {} must have at least one dimension", path);
  hsize_t row = 0;
  for (const VirtualSource& source : sources) {
    if (source.num_rows == 0) continue;
    Dataspace virtual_space = Dataspace::Simple(dims, space.max_dims());
    virtual_space.SelectRows(row, source.num_rows);
    // The source dataspace only needs the source's row shape and enough rows for the selection.
    std::vector<hsize_t> source_dims = dims;
    source_dims[0] = source.first_row + source.num_rows;
    Dataspace source_space = Dataspace::Simple(source_dims);
    source_space.SelectRows(source.first_row, source.num_rows);
    Check(H5Pset_virtual(dcpl.get(), virtual_space.id(), source.file_name.c_str(),
                         source.dataset_path.c_str(), source_space.id()),
          "H5Pset_virtual", file_name_,
          fmt::format("{} -> {}:{} rows [{}, {})", path, source.file_name, source.dataset_path,
                      source.first_row, source.first_row + source.num_rows));
    row += source.num_rows;
  }
  Handle dataset(Check(H5Dcreate2(id(), name.c_str(), type.id(), space.id(), lcpl.get(), dcpl.get(),
                                  H5P_DEFAULT),
                       "H5Dcreate2 (virtual)", file_name_, path),
                 H5Dclose);
  return Dataset(std::move(dataset), file_name_, path, parallel_);
}

std::vector<std::string> Group::ChildNames() const {
  std::vector<std::string> names;
  hsize_t index = 0;
  Check(H5Literate(id(), H5_INDEX_NAME, H5_ITER_INC, &index, CollectLinkName, &names), "H5Literate",
        file_name_, path_);
  return names;
}

void Group::Unlink(std::string_view relative_path) const {
  const std::string name(relative_path);
  Check(H5Ldelete(id(), name.c_str(), H5P_DEFAULT), "H5Ldelete", file_name_,
        ChildPath(relative_path));
}

// ---------------------------------------------------------------------------------------------
// Dataset

Datatype Dataset::datatype() const {
  return Datatype::Adopt(Check(H5Dget_type(id()), "H5Dget_type", file_name_, path_));
}

Dataspace Dataset::space() const {
  return Dataspace::Adopt(Check(H5Dget_space(id()), "H5Dget_space", file_name_, path_));
}

std::vector<hsize_t> Dataset::dims() const { return space().dims(); }

void Dataset::SetExtent(const std::vector<hsize_t>& dims) const {
  Check(H5Dset_extent(id(), dims.data()), "H5Dset_extent", file_name_, path_);
}

void Dataset::Transfer(bool write, const Datatype& memory_type, std::optional<hsize_t> first,
                       hsize_t count, void* buffer) const {
  Dataspace file_space = space();
  std::vector<hsize_t> memory_dims = file_space.dims();
  if (first.has_value()) {
    SIMSCALE_CHECK(!memory_dims.empty(), "row access to scalar dataset {}", path_);
    if (*first + count > memory_dims[0]) {
      throw Hdf5Error(
          fmt::format("dataset '{}' in file '{}': rows [{}, {}) are outside its {} rows", path_,
                      file_name_, *first, *first + count, memory_dims[0]));
    }
    file_space.SelectRows(*first, count);
    memory_dims[0] = std::max<hsize_t>(count, 1);
  }
  Dataspace memory_space = Dataspace::Simple(memory_dims);
  if (first.has_value() && count == 0) memory_space.SelectNone();
  Handle dxpl = MakePropertyList(H5P_DATASET_XFER, path_);
  if (parallel_) {
    Check(H5Pset_dxpl_mpio(dxpl.get(), H5FD_MPIO_COLLECTIVE), "H5Pset_dxpl_mpio", file_name_,
          path_);
  }
  const std::string operation =
      first.has_value()
          ? fmt::format("{} rows [{}, {})", write ? "H5Dwrite" : "H5Dread", *first, *first + count)
          : std::string(write ? "H5Dwrite" : "H5Dread");
  // HDF5 rejects a null buffer even for an empty selection.
  char dummy = 0;
  void* target = buffer != nullptr ? buffer : &dummy;
  if (write) {
    Check(H5Dwrite(id(), memory_type.id(), memory_space.id(), file_space.id(), dxpl.get(), target),
          operation, file_name_, path_);
  } else {
    Check(H5Dread(id(), memory_type.id(), memory_space.id(), file_space.id(), dxpl.get(), target),
          operation, file_name_, path_);
  }
}

void Dataset::WriteRows(const Datatype& memory_type, hsize_t first, hsize_t count,
                        const void* data) const {
  Transfer(true, memory_type, first, count, const_cast<void*>(data));
}

void Dataset::ReadRows(const Datatype& memory_type, hsize_t first, hsize_t count, void* out) const {
  Transfer(false, memory_type, first, count, out);
}

void Dataset::WriteAll(const Datatype& memory_type, const void* data) const {
  Transfer(true, memory_type, std::nullopt, 0, const_cast<void*>(data));
}

void Dataset::ReadAll(const Datatype& memory_type, void* out) const {
  Transfer(false, memory_type, std::nullopt, 0, out);
}

Handle Dataset::CreationProperties() const {
  return Handle(Check(H5Dget_create_plist(id()), "H5Dget_create_plist", file_name_, path_),
                H5Pclose);
}

bool Dataset::is_virtual() const {
  const Handle dcpl = CreationProperties();
  return Check(H5Pget_layout(dcpl.get()), "H5Pget_layout", file_name_, path_) == H5D_VIRTUAL;
}

std::vector<VirtualSource> Dataset::VirtualSources() const {
  const Handle dcpl = CreationProperties();
  if (Check(H5Pget_layout(dcpl.get()), "H5Pget_layout", file_name_, path_) != H5D_VIRTUAL) {
    return {};
  }
  size_t count = 0;
  Check(H5Pget_virtual_count(dcpl.get(), &count), "H5Pget_virtual_count", file_name_, path_);
  std::vector<VirtualSource> sources;
  for (size_t i = 0; i < count; ++i) {
    VirtualSource source;
    const ssize_t file_length = Check(H5Pget_virtual_filename(dcpl.get(), i, nullptr, 0),
                                      "H5Pget_virtual_filename", file_name_, path_);
    source.file_name.assign(static_cast<size_t>(file_length) + 1, '\0');
    Check(H5Pget_virtual_filename(dcpl.get(), i, source.file_name.data(), source.file_name.size()),
          "H5Pget_virtual_filename", file_name_, path_);
    source.file_name.resize(static_cast<size_t>(file_length));
    const ssize_t name_length = Check(H5Pget_virtual_dsetname(dcpl.get(), i, nullptr, 0),
                                      "H5Pget_virtual_dsetname", file_name_, path_);
    source.dataset_path.assign(static_cast<size_t>(name_length) + 1, '\0');
    Check(H5Pget_virtual_dsetname(dcpl.get(), i, source.dataset_path.data(),
                                  source.dataset_path.size()),
          "H5Pget_virtual_dsetname", file_name_, path_);
    source.dataset_path.resize(static_cast<size_t>(name_length));
    const Dataspace source_space = Dataspace::Adopt(Check(
        H5Pget_virtual_srcspace(dcpl.get(), i), "H5Pget_virtual_srcspace", file_name_, path_));
    if (source_space.selected_points() > 0) {
      const auto [start, end] = source_space.SelectionBounds();
      source.first_row = start.at(0);
      source.num_rows = end.at(0) - start.at(0) + 1;
    }
    sources.push_back(std::move(source));
  }
  return sources;
}

std::vector<hsize_t> Dataset::chunk_dims() const {
  const Handle dcpl = CreationProperties();
  if (Check(H5Pget_layout(dcpl.get()), "H5Pget_layout", file_name_, path_) != H5D_CHUNKED) {
    return {};
  }
  std::vector<hsize_t> chunk(static_cast<size_t>(space().rank()));
  Check(H5Pget_chunk(dcpl.get(), static_cast<int>(chunk.size()), chunk.data()), "H5Pget_chunk",
        file_name_, path_);
  return chunk;
}

namespace {

// Returns the cd_values[0] of filter `wanted` (or -1 if the filter is absent).
int FilterParameter(hid_t dcpl, H5Z_filter_t wanted, const std::string& file,
                    const std::string& path) {
  const int count = Check(H5Pget_nfilters(dcpl), "H5Pget_nfilters", file, path);
  for (int i = 0; i < count; ++i) {
    unsigned flags = 0;
    size_t num_values = 4;
    unsigned values[4] = {0, 0, 0, 0};
    char name[64];
    unsigned config = 0;
    const H5Z_filter_t filter = H5Pget_filter2(dcpl, static_cast<unsigned>(i), &flags, &num_values,
                                               values, sizeof(name), name, &config);
    if (filter < 0) internal::ThrowError("H5Pget_filter2", file, path);
    if (filter == wanted) return num_values > 0 ? static_cast<int>(values[0]) : 0;
  }
  return -1;
}

}  // namespace

std::vector<Dataset::ChunkLocation> Dataset::ChunkLocations() const {
  const Dataspace file_space = space();
  hsize_t count = 0;
  Check(H5Dget_num_chunks(id(), file_space.id(), &count), "H5Dget_num_chunks", file_name_, path_);
  std::vector<ChunkLocation> chunks(static_cast<size_t>(count));
  for (hsize_t i = 0; i < count; ++i) {
    ChunkLocation& chunk = chunks[static_cast<size_t>(i)];
    chunk.offset.resize(static_cast<size_t>(file_space.rank()));
    unsigned filter_mask = 0;
    Check(H5Dget_chunk_info(id(), file_space.id(), i, chunk.offset.data(), &filter_mask,
                            &chunk.file_address, &chunk.bytes),
          "H5Dget_chunk_info", file_name_, path_);
  }
  return chunks;
}

int Dataset::gzip_level() const {
  const Handle dcpl = CreationProperties();
  return std::max(0, FilterParameter(dcpl.get(), H5Z_FILTER_DEFLATE, file_name_, path_));
}

bool Dataset::shuffled() const {
  const Handle dcpl = CreationProperties();
  return FilterParameter(dcpl.get(), H5Z_FILTER_SHUFFLE, file_name_, path_) >= 0;
}

// ---------------------------------------------------------------------------------------------
// File

File File::Create(const std::string& path, MPI_Comm comm, bool append_only) {
  InitializeLibrary();
  const Handle fapl = FileAccessProperties(path, comm);
  const Handle fcpl = MakePropertyList(H5P_FILE_CREATE, path);
  if (append_only) {
    Check(H5Pset_file_space_strategy(fcpl.get(), H5F_FSPACE_STRATEGY_NONE, false, 1),
          "H5Pset_file_space_strategy", path, "/");
  }
  Handle file(Check(H5Fcreate(path.c_str(), H5F_ACC_EXCL, fcpl.get(), fapl.get()),
                    "H5Fcreate (exclusive)", path, "/"),
              H5Fclose);
  return File(std::move(file), path, comm != MPI_COMM_NULL);
}

File File::Open(const std::string& path, Mode mode, MPI_Comm comm) {
  InitializeLibrary();
  const Handle fapl = FileAccessProperties(path, comm);
  const unsigned flags = mode == Mode::kReadWrite ? H5F_ACC_RDWR : H5F_ACC_RDONLY;
  Handle file(
      Check(H5Fopen(path.c_str(), flags, fapl.get()),
            mode == Mode::kReadWrite ? "H5Fopen (read-write)" : "H5Fopen (read-only)", path, "/"),
      H5Fclose);
  return File(std::move(file), path, comm != MPI_COMM_NULL);
}

void File::Flush() const { Check(H5Fflush(id(), H5F_SCOPE_GLOBAL), "H5Fflush", file_name_, "/"); }

void File::Close() { handle_.Close(file_name_, "/"); }

}  // namespace simscale::io::h5
