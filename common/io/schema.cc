#include "common/io/schema.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"

namespace simscale::io {

std::string schema::DemoName(int64_t episode) { return fmt::format("{}{}", kDemoPrefix, episode); }

ColumnSpec ColumnSpec::LowDim(std::string name, DType dtype, std::vector<uint64_t> row_shape) {
  ColumnSpec spec;
  spec.name = std::move(name);
  spec.dtype = dtype;
  spec.row_shape = std::move(row_shape);
  spec.gzip_level = 0;
  spec.shuffle = true;
  return spec;
}

ColumnSpec ColumnSpec::Image(std::string name, uint64_t height, uint64_t width, uint64_t channels,
                             int gzip_level) {
  ColumnSpec spec;
  spec.name = std::move(name);
  spec.dtype = DType::kUInt8;
  spec.row_shape = {height, width, channels};
  spec.gzip_level = gzip_level;
  spec.shuffle = false;  // one-byte elements: shuffling does nothing
  return spec;
}

uint64_t ColumnSpec::row_elements() const {
  uint64_t elements = 1;
  for (uint64_t d : row_shape) elements *= d;
  return elements;
}

uint64_t ColumnSpec::row_bytes() const { return row_elements() * DTypeSize(dtype); }

uint64_t ColumnSpec::effective_chunk_rows() const {
  if (chunk_rows > 0) return chunk_rows;
  const uint64_t bytes = std::max<uint64_t>(row_bytes(), 1);
  return std::clamp<uint64_t>(schema::kTargetChunkBytes / bytes, 1, schema::kMaxChunkRows);
}

bool ColumnSpec::operator==(const ColumnSpec& other) const {
  return name == other.name && dtype == other.dtype && row_shape == other.row_shape &&
         gzip_level == other.gzip_level && (gzip_level == 0 || shuffle == other.shuffle) &&
         effective_chunk_rows() == other.effective_chunk_rows();
}

std::string ColumnSpec::Describe() const {
  std::string text = fmt::format("{} {} ({}{})", name, DTypeName(dtype), fmt::join(row_shape, ", "),
                                 row_shape.size() == 1 ? "," : "");
  if (gzip_level > 0) text += fmt::format(" gzip {}{}", gzip_level, shuffle ? " shuffle" : "");
  return text;
}

const ColumnSpec* StoreLayout::FindColumn(std::string_view name) const {
  for (const auto* list : {&step_columns, &obs_columns}) {
    for (const ColumnSpec& column : *list) {
      if (column.name == name) return &column;
    }
  }
  return nullptr;
}

namespace {

bool IsPlainName(std::string_view name) {
  if (name.empty() || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
  });
}

void CheckColumn(const ColumnSpec& column, std::string_view list,
                 std::vector<std::string>* problems) {
  for (uint64_t d : column.row_shape) {
    if (d == 0) {
      problems->push_back(fmt::format("{} column '{}': row shape ({}) has a zero dimension", list,
                                      column.name, fmt::join(column.row_shape, ", ")));
      break;
    }
  }
  if (column.gzip_level < 0 || column.gzip_level > 9) {
    problems->push_back(fmt::format("{} column '{}': gzip level must be 0..9, got {}", list,
                                    column.name, column.gzip_level));
  }
}

}  // namespace

void CheckLayout(const StoreLayout& layout) {
  std::vector<std::string> problems;
  std::set<std::string> names;
  for (const ColumnSpec& column : layout.step_columns) {
    if (!IsPlainName(column.name) || column.name == "index" || column.name == "obs") {
      problems.push_back(fmt::format(
          "step column name '{}': expected letters, digits, '_', '-' or '.', and not 'index' or "
          "'obs'",
          column.name));
    }
    if (!names.insert(column.name).second) {
      problems.push_back(fmt::format("step column '{}' appears twice", column.name));
    }
    CheckColumn(column, "step", &problems);
  }
  for (const ColumnSpec& column : layout.obs_columns) {
    const std::string_view name = column.name;
    if (name.substr(0, schema::kObsPrefix.size()) != schema::kObsPrefix ||
        !IsPlainName(name.substr(schema::kObsPrefix.size()))) {
      problems.push_back(
          fmt::format("observation column name '{}': expected 'obs/<key>' with a key of letters, "
                      "digits, '_', '-' or '.'",
                      column.name));
    }
    if (!names.insert(column.name).second) {
      problems.push_back(fmt::format("observation column '{}' appears twice", column.name));
    }
    CheckColumn(column, "observation", &problems);
  }
  const auto require = [&](std::string_view name, size_t rank) {
    const ColumnSpec* column = nullptr;
    for (const ColumnSpec& c : layout.step_columns) {
      if (c.name == name) column = &c;
    }
    if (column == nullptr) {
      problems.push_back(fmt::format("step column '{}' is required (robomimic reads it)", name));
    } else if (column->row_shape.size() != rank) {
      problems.push_back(fmt::format(
          "step column '{}': expected rows of rank {} ({} dataset), "
          "got row shape ({})",
          name, rank, rank == 0 ? "a 1-D" : "a 2-D", fmt::join(column->row_shape, ", ")));
    }
  };
  require(schema::kActions, 1);
  require(schema::kRewards, 0);
  require(schema::kDones, 0);
  std::set<std::string> dr_names;
  for (const std::string& name : layout.dr_value_names) {
    if (!IsPlainName(name)) {
      problems.push_back(
          fmt::format("DR value name '{}': expected letters, digits, '_', '-' or '.'", name));
    }
    if (!dr_names.insert(name).second) {
      problems.push_back(fmt::format("DR value name '{}' appears twice", name));
    }
  }
  if (layout.env_name.empty()) problems.push_back("env_name: expected a non-empty name");
  try {
    if (!nlohmann::json::parse(layout.env_kwargs_json).is_object()) {
      problems.push_back(
          fmt::format("env_kwargs: expected a JSON object, got '{}'", layout.env_kwargs_json));
    }
  } catch (const nlohmann::json::exception& error) {
    problems.push_back(fmt::format("env_kwargs '{}': expected a JSON object, got invalid JSON: {}",
                                   layout.env_kwargs_json, error.what()));
  }
  if (!problems.empty()) {
    throw InvalidArgumentError(
        fmt::format("invalid store layout:\n  {}", fmt::join(problems, "\n  ")));
  }
}

namespace {

void CompareColumnLists(std::string_view list, const std::vector<ColumnSpec>& stored,
                        const std::vector<ColumnSpec>& requested, bool notes_only,
                        std::vector<std::string>* out) {
  for (const ColumnSpec& want : requested) {
    const auto it = std::find_if(stored.begin(), stored.end(),
                                 [&](const ColumnSpec& c) { return c.name == want.name; });
    if (it == stored.end()) {
      if (!notes_only) {
        out->push_back(
            fmt::format("{} column '{}' is requested but the file has none", list, want.name));
      }
      continue;
    }
    if (!notes_only) {
      if (it->dtype != want.dtype || it->row_shape != want.row_shape) {
        out->push_back(fmt::format("{} column '{}': the file has {} ({}), requested {} ({})", list,
                                   want.name, DTypeName(it->dtype), fmt::join(it->row_shape, ", "),
                                   DTypeName(want.dtype), fmt::join(want.row_shape, ", ")));
      }
    } else if (it->gzip_level != want.gzip_level ||
               it->effective_chunk_rows() != want.effective_chunk_rows()) {
      out->push_back(fmt::format(
          "{} column '{}': keeping the file's storage (gzip {}, {} rows per chunk); requested "
          "gzip {}, {} rows per chunk",
          list, want.name, it->gzip_level, it->effective_chunk_rows(), want.gzip_level,
          want.effective_chunk_rows()));
    }
  }
  if (notes_only) return;
  std::vector<std::string> stored_names;
  std::vector<std::string> requested_names;
  for (const ColumnSpec& c : stored) stored_names.push_back(c.name);
  for (const ColumnSpec& c : requested) requested_names.push_back(c.name);
  std::vector<std::string> sorted_stored = stored_names;
  std::vector<std::string> sorted_requested = requested_names;
  std::sort(sorted_stored.begin(), sorted_stored.end());
  std::sort(sorted_requested.begin(), sorted_requested.end());
  if (sorted_stored == sorted_requested && stored_names != requested_names) {
    out->push_back(fmt::format("{} columns are in another order: the file has [{}], requested [{}]",
                               list, fmt::join(stored_names, ", "),
                               fmt::join(requested_names, ", ")));
  }
  for (const ColumnSpec& have : stored) {
    const bool requested_too =
        std::any_of(requested.begin(), requested.end(),
                    [&](const ColumnSpec& c) { return c.name == have.name; });
    if (!requested_too) {
      out->push_back(
          fmt::format("{} column '{}' is in the file but not requested", list, have.name));
    }
  }
}

// Equal as JSON values (member order and spacing aside), so a file written by an earlier version
// with other spacing still resumes; texts that are not JSON compare as text.
bool SameJson(const std::string& a, const std::string& b) {
  if (a == b) return true;
  const nlohmann::json parsed_a = nlohmann::json::parse(a, nullptr, /*allow_exceptions=*/false);
  const nlohmann::json parsed_b = nlohmann::json::parse(b, nullptr, /*allow_exceptions=*/false);
  return !parsed_a.is_discarded() && !parsed_b.is_discarded() && parsed_a == parsed_b;
}

}  // namespace

std::vector<std::string> LayoutDifferences(const StoreLayout& stored,
                                           const StoreLayout& requested) {
  std::vector<std::string> out;
  CompareColumnLists("step", stored.step_columns, requested.step_columns, false, &out);
  CompareColumnLists("observation", stored.obs_columns, requested.obs_columns, false, &out);
  if (stored.dr_value_names != requested.dr_value_names) {
    out.push_back(fmt::format("DR value names: the file has [{}], requested [{}]",
                              fmt::join(stored.dr_value_names, ", "),
                              fmt::join(requested.dr_value_names, ", ")));
  }
  if (stored.env_name != requested.env_name) {
    out.push_back(fmt::format("env_name: the file has '{}', requested '{}'", stored.env_name,
                              requested.env_name));
  }
  if (!SameJson(stored.env_kwargs_json, requested.env_kwargs_json)) {
    out.push_back(fmt::format("env_kwargs: the file has '{}', requested '{}'",
                              stored.env_kwargs_json, requested.env_kwargs_json));
  }
  return out;
}

std::vector<std::string> LayoutNotes(const StoreLayout& stored, const StoreLayout& requested) {
  std::vector<std::string> out;
  CompareColumnLists("step", stored.step_columns, requested.step_columns, true, &out);
  CompareColumnLists("observation", stored.obs_columns, requested.obs_columns, true, &out);
  if (stored.resolved_config_yaml != requested.resolved_config_yaml) {
    out.push_back("the resolved configuration differs from the one stored; keeping the stored one");
  }
  if (stored.git_sha != requested.git_sha) {
    out.push_back(fmt::format("git sha: the file was started by '{}', this is '{}'", stored.git_sha,
                              requested.git_sha));
  }
  return out;
}

namespace {

using Json = nlohmann::json;
// Written with members in declaration order, so the attribute reads like the struct.
using OrderedJson = nlohmann::ordered_json;

OrderedJson ColumnsToJson(const std::vector<ColumnSpec>& columns) {
  OrderedJson list = OrderedJson::array();
  for (const ColumnSpec& c : columns) {
    list.push_back({{"name", c.name},
                    {"dtype", DTypeName(c.dtype)},
                    {"row_shape", c.row_shape},
                    {"gzip", c.gzip_level},
                    {"shuffle", c.shuffle},
                    {"chunk_rows", c.effective_chunk_rows()}});
  }
  return list;
}

[[noreturn]] void BadLayout(std::string_view what) {
  throw InvalidArgumentError(fmt::format("stored layout (episodes@layout): {}", what));
}

// The member `key` of `object`, or nullptr (also when `object` is not an object).
const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// Integral floats (3.0) are accepted too, as by any JSON reader that keeps one number type.
uint64_t NonNegativeInteger(const Json& value, std::string_view what) {
  if (value.is_number_unsigned()) return value.get<uint64_t>();
  if (value.is_number_float()) {
    const double number = value.get<double>();
    if (number >= 0 && number == std::floor(number) && number <= 9.0e15) {
      return static_cast<uint64_t>(number);
    }
  }
  BadLayout(fmt::format("{}: expected a non-negative integer", what));
}

std::vector<ColumnSpec> ColumnsFromJson(const Json* list, std::string_view key) {
  if (list == nullptr || !list->is_array()) {
    BadLayout(fmt::format("'{}' must be an array", key));
  }
  if (list->size() > schema::kMaxColumns) {
    BadLayout(fmt::format("'{}' lists {} columns, more than the {} allowed", key, list->size(),
                          schema::kMaxColumns));
  }
  std::vector<ColumnSpec> columns;
  for (const Json& item : *list) {
    const Json* name = Member(item, "name");
    const Json* dtype = Member(item, "dtype");
    const Json* shape = Member(item, "row_shape");
    const Json* gzip = Member(item, "gzip");
    const Json* shuffle = Member(item, "shuffle");
    const Json* chunk = Member(item, "chunk_rows");
    if (name == nullptr || !name->is_string() || dtype == nullptr || !dtype->is_string() ||
        shape == nullptr || !shape->is_array() || gzip == nullptr || shuffle == nullptr ||
        !shuffle->is_boolean() || chunk == nullptr) {
      BadLayout(
          fmt::format("an entry of '{}' lacks name, dtype, row_shape, gzip, shuffle or "
                      "chunk_rows",
                      key));
    }
    ColumnSpec column;
    column.name = name->get<std::string>();
    column.dtype = ParseDType(dtype->get<std::string>());
    if (shape->size() > schema::kMaxRowDims) {
      BadLayout(fmt::format("{} row_shape has {} dimensions, more than the {} allowed", column.name,
                            shape->size(), schema::kMaxRowDims));
    }
    uint64_t row_bytes = DTypeSize(column.dtype);
    for (const Json& d : *shape) {
      column.row_shape.push_back(NonNegativeInteger(d, column.name + " row_shape"));
      // Checked per factor, so the product cannot overflow.
      if (column.row_shape.back() > schema::kMaxRowBytes ||
          (row_bytes *= std::max<uint64_t>(column.row_shape.back(), 1)) > schema::kMaxRowBytes) {
        BadLayout(fmt::format("{} rows are larger than the {} bytes allowed", column.name,
                              schema::kMaxRowBytes));
      }
    }
    column.gzip_level = static_cast<int>(NonNegativeInteger(*gzip, column.name + " gzip"));
    column.shuffle = shuffle->get<bool>();
    column.chunk_rows = NonNegativeInteger(*chunk, column.name + " chunk_rows");
    columns.push_back(std::move(column));
  }
  return columns;
}

}  // namespace

std::string LayoutColumnsToJson(const StoreLayout& layout) {
  const OrderedJson root = {{"step_columns", ColumnsToJson(layout.step_columns)},
                            {"obs_columns", ColumnsToJson(layout.obs_columns)},
                            {"dr_value_names", layout.dr_value_names}};
  return root.dump();
}

void LayoutColumnsFromJson(std::string_view json_text, StoreLayout* layout) {
  Json root;
  try {
    root = Json::parse(json_text);
  } catch (const Json::exception& error) {
    BadLayout(fmt::format("expected a JSON object, got invalid JSON: {}", error.what()));
  }
  layout->step_columns = ColumnsFromJson(Member(root, "step_columns"), "step_columns");
  layout->obs_columns = ColumnsFromJson(Member(root, "obs_columns"), "obs_columns");
  const Json* dr = Member(root, "dr_value_names");
  if (dr == nullptr || !dr->is_array()) {
    BadLayout("'dr_value_names' must be an array of strings");
  }
  if (dr->size() > schema::kMaxDrValues) {
    BadLayout(fmt::format("'dr_value_names' lists {} names, more than the {} allowed", dr->size(),
                          schema::kMaxDrValues));
  }
  layout->dr_value_names.clear();
  for (const Json& name : *dr) {
    if (!name.is_string()) BadLayout("'dr_value_names' must be an array of strings");
    layout->dr_value_names.push_back(name.get<std::string>());
  }
}

}  // namespace simscale::io
