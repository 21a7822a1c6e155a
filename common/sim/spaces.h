#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/core/error.h"

namespace simscale::sim {

enum class DType { kFloat64, kFloat32, kUInt8, kInt32 };
const char* DTypeName(DType dtype);

// One named array of an observation or action: shape, element type and bounds.
struct Space {
  std::string name;
  std::vector<int64_t> shape;
  DType dtype = DType::kFloat64;
  double low = -1.0;
  double high = 1.0;
  int64_t size() const;
};

// A flat float64 vector made of named, contiguous slices (the env's state observation, or its
// action). Offsets are resolved once by name; hot paths index by offset.
class VectorSpec {
 public:
  // Appends a slice; returns its offset.
  int Add(const std::string& name, int size, double low, double high);
  int size() const { return size_; }
  const std::vector<Space>& fields() const { return fields_; }
  const std::vector<int>& offsets() const { return offsets_; }
  // Offset of a named slice; throws InvalidArgumentError listing the names if unknown.
  int Offset(const std::string& name) const;
  int SizeOf(const std::string& name) const;
  bool Has(const std::string& name) const;
  // "ee_pos[3] joint_pos[7] ..." for messages and file attributes.
  std::string Describe() const;

 private:
  int Index(const std::string& name) const;
  std::vector<Space> fields_;
  std::vector<int> offsets_;
  int size_ = 0;
};

}  // namespace simscale::sim
