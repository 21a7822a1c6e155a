#include "common/sim/spaces.h"

#include <fmt/format.h>

namespace simscale::sim {

const char* DTypeName(DType dtype) {
  switch (dtype) {
    case DType::kFloat64:
      return "float64";
    case DType::kFloat32:
      return "float32";
    case DType::kUInt8:
      return "uint8";
    case DType::kInt32:
      return "int32";
  }
  return "?";
}

int64_t Space::size() const {
  int64_t n = 1;
  for (int64_t d : shape) n *= d;
  return n;
}

int VectorSpec::Add(const std::string& name, int size, double low, double high) {
  SIMSCALE_CHECK(!Has(name), "slice '{}' declared twice", name);
  SIMSCALE_CHECK(size > 0, "slice '{}' has size {}", name, size);
  fields_.push_back(Space{name, {size}, DType::kFloat64, low, high});
  offsets_.push_back(size_);
  size_ += size;
  return offsets_.back();
}

int VectorSpec::Index(const std::string& name) const {
  for (size_t i = 0; i < fields_.size(); ++i) {
    if (fields_[i].name == name) return static_cast<int>(i);
  }
  throw InvalidArgumentError(
      fmt::format("no slice named '{}'; the slices are: {}", name, Describe()));
}

int VectorSpec::Offset(const std::string& name) const {
  return offsets_[static_cast<size_t>(Index(name))];
}
int VectorSpec::SizeOf(const std::string& name) const {
  return static_cast<int>(fields_[static_cast<size_t>(Index(name))].shape[0]);
}
bool VectorSpec::Has(const std::string& name) const {
  for (const auto& f : fields_) {
    if (f.name == name) return true;
  }
  return false;
}

std::string VectorSpec::Describe() const {
  std::string out;
  for (const auto& f : fields_) {
    if (!out.empty()) out += ' ';
    out += fmt::format("{}[{}]", f.name, f.shape[0]);
  }
  return out;
}

}  // namespace simscale::sim
