#include "common/io/dtype.h"

#include <cstring>

#include "common/core/error.h"

namespace simscale::io {
namespace {

template <typename T>
double Load(const void* data, size_t i) {
  T value;
  std::memcpy(&value, static_cast<const unsigned char*>(data) + i * sizeof(T), sizeof(T));
  return static_cast<double>(value);
}

}  // namespace

std::string_view DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
      return "float32";
    case DType::kFloat64:
      return "float64";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt32:
      return "int32";
    case DType::kInt64:
      return "int64";
  }
  return "unknown";
}

size_t DTypeSize(DType dtype) {
  switch (dtype) {
    case DType::kFloat32:
    case DType::kInt32:
      return 4;
    case DType::kFloat64:
    case DType::kInt64:
      return 8;
    case DType::kUInt8:
      return 1;
  }
  return 0;
}

DType ParseDType(std::string_view name) {
  for (DType dtype :
       {DType::kFloat32, DType::kFloat64, DType::kUInt8, DType::kInt32, DType::kInt64}) {
    if (DTypeName(dtype) == name) return dtype;
  }
  CheckArgument(false, "element type", name, "one of float32, float64, uint8, int32, int64");
  return DType::kFloat32;
}

double ElementAsDouble(DType dtype, const void* data, size_t i) {
  switch (dtype) {
    case DType::kFloat32:
      return Load<float>(data, i);
    case DType::kFloat64:
      return Load<double>(data, i);
    case DType::kUInt8:
      return Load<uint8_t>(data, i);
    case DType::kInt32:
      return Load<int32_t>(data, i);
    case DType::kInt64:
      return Load<int64_t>(data, i);
  }
  return 0.0;
}

}  // namespace simscale::io
