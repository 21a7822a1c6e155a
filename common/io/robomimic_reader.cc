#include "common/io/robomimic_reader.h"

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"
#include "common/io/open_file.h"
#include "common/io/schema.h"

namespace simscale::io {
namespace {

// "demo_12" -> 12; nullopt for anything else.
std::optional<int64_t> DemoNumber(std::string_view name) {
  if (name.substr(0, schema::kDemoPrefix.size()) != schema::kDemoPrefix) return std::nullopt;
  const std::string digits(name.substr(schema::kDemoPrefix.size()));
  if (digits.empty() || digits.size() > 18 ||
      digits.find_first_not_of("0123456789") != std::string::npos) {
    return std::nullopt;
  }
  return std::stoll(digits);
}

std::vector<std::string> ReadFixedStrings(const h5::Dataset& dataset) {
  const h5::Datatype type = dataset.datatype();
  const size_t width = type.size();
  const auto dims = dataset.dims();
  const size_t count = dims.empty() ? 0 : dims[0];
  constexpr size_t kMaxNameBytes = 4096;
  if (!type.is_string() || type.is_variable_string() || dims.size() != 1 || width > kMaxNameBytes ||
      count > static_cast<size_t>(schema::kMaxEpisodes)) {
    throw InvalidArgumentError(fmt::format(
        "'{}': {} is {} of {} entries, expected a list of demo names (fixed-width strings of at "
        "most {} bytes): the file is damaged or not a robomimic dataset",
        dataset.file_name(), dataset.path(), type.Describe(), count, kMaxNameBytes));
  }
  std::vector<char> packed(count * width);
  if (count > 0) dataset.ReadAll(h5::Datatype::FixedString(width), packed.data());
  std::vector<std::string> out;
  for (size_t i = 0; i < count; ++i) {
    std::string s(packed.data() + i * width, width);
    s.erase(std::find(s.begin(), s.end(), '\0'), s.end());
    out.push_back(s);
  }
  return out;
}

}  // namespace

RobomimicReader::RobomimicReader(const std::filesystem::path& path)
    : path_(path), file_(OpenDatasetFile(path)) {
  if (!file_.Exists(schema::kViewsGroup)) {
    throw InvalidArgumentError(
        fmt::format("'{}' is not a robomimic-layout file: it has no /{} group", path.string(),
                    schema::kViewsGroup));
  }
  const h5::Group data = file_.OpenGroup(schema::kViewsGroup);
  for (const std::string& name : data.ChildNames()) {
    if (const auto number = DemoNumber(name)) demos_.push_back(*number);
  }
  std::sort(demos_.begin(), demos_.end());
  if (demos_.empty()) {
    throw InvalidArgumentError(
        fmt::format("'{}': /{} holds no demo_<i> groups", path.string(), schema::kViewsGroup));
  }
  if (data.HasAttribute(schema::kAttrEnvArgs)) {
    nlohmann::json env_args;
    try {
      env_args = nlohmann::json::parse(data.ReadStringAttribute(schema::kAttrEnvArgs));
    } catch (const nlohmann::json::exception& error) {
      throw InvalidArgumentError(fmt::format("'{}': /{}@{}: expected JSON, got invalid text: {}",
                                             path.string(), schema::kViewsGroup,
                                             schema::kAttrEnvArgs, error.what()));
    }
    const auto name = env_args.is_object() ? env_args.find("env_name") : env_args.end();
    if (name != env_args.end() && name->is_string()) env_name_ = name->get<std::string>();
  }
}

h5::Dataset RobomimicReader::Open(int64_t demo, std::string_view relative_path) const {
  h5::Dataset dataset = file_.OpenDataset(
      fmt::format("{}/{}{}/{}", schema::kViewsGroup, schema::kDemoPrefix, demo, relative_path));
  // A virtual dataset reads whatever file its sources name: only this file ("."), or files
  // beside it, are followed.
  for (const h5::VirtualSource& source : dataset.VirtualSources()) {
    if (source.file_name == ".") continue;
    ResolveInside(
        path_.parent_path().empty() ? std::filesystem::path(".") : path_.parent_path(),
        source.file_name,
        fmt::format("'{}': the source file of virtual dataset {}", path_.string(), dataset.path()));
  }
  return dataset;
}

int64_t RobomimicReader::NumSamples(int64_t demo) const {
  return file_.OpenGroup(fmt::format("{}/{}{}", schema::kViewsGroup, schema::kDemoPrefix, demo))
      .ReadIntAttribute(schema::kAttrNumSamples);
}

std::vector<std::pair<std::string, std::vector<uint64_t>>> RobomimicReader::ObservationKeys()
    const {
  const h5::Group obs = file_.OpenGroup(
      fmt::format("{}/{}{}/obs", schema::kViewsGroup, schema::kDemoPrefix, demos_.front()));
  std::vector<std::pair<std::string, std::vector<uint64_t>>> keys;
  for (const std::string& name : obs.ChildNames()) {
    const auto dims = obs.OpenDataset(name).dims();
    keys.emplace_back(name,
                      std::vector<uint64_t>(dims.begin() + (dims.empty() ? 0 : 1), dims.end()));
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

bool RobomimicReader::Has(int64_t demo, std::string_view relative_path) const {
  return file_.Exists(
      fmt::format("{}/{}{}/{}", schema::kViewsGroup, schema::kDemoPrefix, demo, relative_path));
}

void RobomimicReader::ReadRows(int64_t demo, std::string_view relative_path, int64_t first,
                               int64_t count, DType dtype, void* out) const {
  Open(demo, relative_path)
      .ReadRows(h5::Datatype::Native(dtype), static_cast<hsize_t>(first),
                static_cast<hsize_t>(count), out);
}

std::vector<float> RobomimicReader::ReadFloat(int64_t demo, std::string_view relative_path) const {
  const h5::Dataset dataset = Open(demo, relative_path);
  size_t elements = 1;
  for (hsize_t d : dataset.dims()) elements *= d;
  std::vector<float> out(elements);
  if (elements > 0) dataset.ReadAll(h5::Datatype::Native(DType::kFloat32), out.data());
  return out;
}

std::optional<std::string> RobomimicReader::DemoStringAttribute(int64_t demo,
                                                                std::string_view name) const {
  const h5::Group group =
      file_.OpenGroup(fmt::format("{}/{}{}", schema::kViewsGroup, schema::kDemoPrefix, demo));
  if (!group.HasAttribute(name)) return std::nullopt;
  return group.ReadStringAttribute(name);
}

std::optional<std::vector<int64_t>> ReadMask(const std::filesystem::path& path,
                                             std::string_view name) {
  const h5::File file = OpenDatasetFile(path);
  const std::string mask_path = fmt::format("{}/{}", schema::kMaskGroup, name);
  if (!file.Exists(schema::kMaskGroup) || !file.Exists(mask_path)) return std::nullopt;
  std::vector<int64_t> demos;
  for (const std::string& demo : ReadFixedStrings(file.OpenDataset(mask_path))) {
    const auto number = DemoNumber(demo);
    if (!number) {
      throw InvalidArgumentError(fmt::format("'{}': /{} lists '{}', expected demo_<i> names",
                                             path.string(), mask_path, demo));
    }
    demos.push_back(*number);
  }
  std::sort(demos.begin(), demos.end());
  return demos;
}

}  // namespace simscale::io
