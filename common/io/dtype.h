#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace simscale::io {

// Element type of a stored column. Stored little-endian; in memory, the host's native type.
enum class DType { kFloat32, kFloat64, kUInt8, kInt32, kInt64 };

// "float32", "float64", "uint8", "int32", "int64" (numpy's names).
std::string_view DTypeName(DType dtype);
// Bytes per element.
size_t DTypeSize(DType dtype);
// Inverse of DTypeName; throws InvalidArgumentError listing the valid names.
DType ParseDType(std::string_view name);
// Element `i` of a row-major buffer of `dtype`, as a double (for statistics and checks).
double ElementAsDouble(DType dtype, const void* data, size_t i);

}  // namespace simscale::io
