#include "tests/io/file_dump.h"

#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/hash.h"
#include "common/io/hdf5.h"

namespace simscale::io::testing {
namespace {

std::string AttributeValue(const h5::Object& object, const std::string& name) {
  const h5::Datatype type = object.AttributeType(name);
  if (type.is_string()) return fmt::format("string '{}'", object.ReadStringAttribute(name));
  const auto dtype = type.AsDType();
  if (dtype == DType::kFloat32 || dtype == DType::kFloat64) {
    return fmt::format("{} {:.17g}", type.Describe(), object.ReadDoubleAttribute(name));
  }
  return fmt::format("{} {}", type.Describe(), object.ReadIntAttribute(name));
}

std::string DatasetValue(const h5::Dataset& dataset) {
  const h5::Datatype type = dataset.datatype();
  const std::vector<hsize_t> dims = dataset.dims();
  size_t elements = 1;
  for (const hsize_t d : dims) elements *= d;
  std::vector<uint8_t> bytes(elements * type.size());
  if (!bytes.empty()) dataset.ReadAll(type, bytes.data());
  std::string text = fmt::format("{} ({}) values {:016x}", type.Describe(), fmt::join(dims, ", "),
                                 Fnv1a(bytes.data(), bytes.size()));
  for (const h5::VirtualSource& s : dataset.VirtualSources()) {
    text += fmt::format(" <- {}:{} rows [{}, {})", s.file_name, s.dataset_path, s.first_row,
                        s.first_row + s.num_rows);
  }
  return text;
}

void DumpObject(const h5::Object& object, const std::set<std::string>& excluded,
                std::map<std::string, std::string>* out) {
  for (const std::string& name : object.AttributeNames()) {
    const std::string key = fmt::format("{}@{}", object.path(), name);
    if (excluded.count(key) == 0) (*out)[key] = AttributeValue(object, name);
  }
}

void DumpGroup(const h5::Group& group, const std::set<std::string>& excluded,
               std::map<std::string, std::string>* out) {
  (*out)[group.path()] = "group";
  DumpObject(group, excluded, out);
  for (const std::string& name : group.ChildNames()) {
    if (group.KindOf(name) == h5::ObjectKind::kGroup) {
      DumpGroup(group.OpenGroup(name), excluded, out);
    } else {
      const h5::Dataset dataset = group.OpenDataset(name);
      (*out)[dataset.path()] = DatasetValue(dataset);
      DumpObject(dataset, excluded, out);
    }
  }
}

}  // namespace

std::map<std::string, std::string> DumpFile(const std::filesystem::path& path,
                                            const std::set<std::string>& excluded) {
  std::map<std::string, std::string> dump;
  DumpGroup(h5::File::Open(path.string(), h5::File::Mode::kReadOnly), excluded, &dump);
  return dump;
}

std::string DumpDifferences(const std::map<std::string, std::string>& expected,
                            const std::map<std::string, std::string>& actual) {
  std::string text;
  for (const auto& [key, value] : expected) {
    const auto it = actual.find(key);
    if (it == actual.end()) {
      text += fmt::format("{}: missing (expected {})\n", key, value);
    } else if (it->second != value) {
      text += fmt::format("{}: {} (expected {})\n", key, it->second, value);
    }
  }
  for (const auto& [key, value] : actual) {
    if (expected.count(key) == 0) text += fmt::format("{}: unexpected ({})\n", key, value);
  }
  return text;
}

}  // namespace simscale::io::testing
