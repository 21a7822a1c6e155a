#include "common/io/store_format.h"

#include <cstring>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"
#include "common/io/checksum.h"

namespace simscale::io::internal {

std::vector<IndexColumn> IndexColumns(const StoreLayout& layout) {
  const auto path = [](std::string_view name) {
    return fmt::format("{}/{}", schema::kIndexGroup, name);
  };
  std::vector<IndexColumn> columns = {
      {path(schema::kStartStep), false, DType::kInt64},
      {path(schema::kLength), false, DType::kInt64},
      {path(schema::kStartObs), false, DType::kInt64},
      {path(schema::kSeed), false, DType::kInt64},
      {path(schema::kSuccess), false, DType::kUInt8},
      {path(schema::kDiverged), false, DType::kUInt8},
      {path(schema::kEpisodeIndex), false, DType::kInt64},
      {path(schema::kReturn), false, DType::kFloat64},
      {path(schema::kLanguage), true, DType::kUInt8},
  };
  for (const std::string& name : layout.dr_value_names) {
    columns.push_back({fmt::format("{}/{}/{}", schema::kIndexGroup, schema::kDrGroup, name), false,
                       DType::kFloat64});
  }
  for (const auto* list : {&layout.step_columns, &layout.obs_columns}) {
    for (const ColumnSpec& column : *list) columns.push_back({ChecksumPath(column), false});
  }
  return columns;
}

size_t FirstChecksumColumn(const StoreLayout& layout) { return 9 + layout.dr_value_names.size(); }

std::string ChecksumPath(const ColumnSpec& column) {
  return fmt::format("{}/{}", schema::kChecksumGroup, column.name);
}

int64_t RowsChecksum(const void* bytes, size_t size) {
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
                "checksums are of the stored (little-endian) bytes; a big-endian host would "
                "have to swap first");
  return static_cast<int64_t>(Crc32c(bytes, size));
}

std::vector<hsize_t> Dims(uint64_t rows, const std::vector<uint64_t>& row_shape) {
  std::vector<hsize_t> dims = {rows};
  dims.insert(dims.end(), row_shape.begin(), row_shape.end());
  return dims;
}

std::string StorePath(const ColumnSpec& column) {
  return fmt::format("{}/{}", schema::kStoreGroup, column.name);
}

h5::Datatype IndexStoredType(const IndexColumn& column) {
  return column.is_language ? h5::Datatype::FixedString(schema::kLanguageBytes)
                            : h5::Datatype::Stored(column.dtype);
}

h5::Datatype IndexMemoryType(const IndexColumn& column) {
  return column.is_language ? h5::Datatype::FixedString(schema::kLanguageBytes)
                            : h5::Datatype::Native(column.dtype);
}

void WriteLayoutAttributes(const h5::Group& store, const StoreLayout& layout) {
  store.WriteIntAttribute(schema::kAttrSchemaVersion, schema::kVersion);
  store.WriteStringAttribute(schema::kAttrLayout, LayoutColumnsToJson(layout));
  store.WriteStringAttribute(schema::kAttrEnvName, layout.env_name);
  store.WriteStringAttribute(schema::kAttrEnvKwargs, layout.env_kwargs_json);
  store.WriteStringAttribute(schema::kAttrConfigYaml, layout.resolved_config_yaml);
  store.WriteStringAttribute(schema::kAttrGitSha, layout.git_sha);
}

StoreLayout ReadLayout(const h5::File& file) {
  if (file.KindOf(schema::kStoreGroup) != h5::ObjectKind::kGroup) {
    throw InvalidArgumentError(
        fmt::format("'{}' is not a SimScale episode store: it has no group '/{}'", file.file_name(),
                    schema::kStoreGroup));
  }
  const h5::Group store = file.OpenGroup(schema::kStoreGroup);
  if (!store.HasAttribute(schema::kAttrSchemaVersion)) {
    throw InvalidArgumentError(
        fmt::format("'{}' is not a SimScale episode store: '/{}' has no attribute '{}'",
                    file.file_name(), schema::kStoreGroup, schema::kAttrSchemaVersion));
  }
  const int64_t version = store.ReadIntAttribute(schema::kAttrSchemaVersion);
  if (version != schema::kVersion) {
    throw InvalidArgumentError(fmt::format(
        "'{}' is a SimScale store of schema version {}, but this build reads version {}: "
        "regenerate it with this build's datagen_mpi, or read it with the SimScale version that "
        "wrote it",
        file.file_name(), version, schema::kVersion));
  }
  StoreLayout layout;
  try {
    LayoutColumnsFromJson(store.ReadStringAttribute(schema::kAttrLayout), &layout);
    layout.env_name = store.ReadStringAttribute(schema::kAttrEnvName);
    layout.env_kwargs_json = store.ReadStringAttribute(schema::kAttrEnvKwargs);
    layout.resolved_config_yaml = store.ReadStringAttribute(schema::kAttrConfigYaml);
    layout.git_sha = store.ReadStringAttribute(schema::kAttrGitSha);
  } catch (const InvalidArgumentError& error) {
    throw InvalidArgumentError(fmt::format("'{}': {}", file.file_name(), error.what()));
  }
  return layout;
}

CommittedCounts ReadCommitted(const h5::File& file) {
  const h5::Group index = file.OpenGroup(schema::kIndexGroup);
  CommittedCounts counts;
  counts.episodes = index.ReadIntAttribute(schema::kAttrCommittedEpisodes);
  counts.steps = index.ReadIntAttribute(schema::kAttrCommittedSteps);
  counts.obs_rows = index.ReadIntAttribute(schema::kAttrCommittedObsRows);
  counts.generated = index.HasAttribute(schema::kAttrCommittedGenerated)
                         ? index.ReadIntAttribute(schema::kAttrCommittedGenerated)
                         : counts.episodes;
  if (counts.episodes < 0 || counts.steps < 0 ||
      counts.obs_rows != counts.steps + counts.episodes || counts.generated < counts.episodes) {
    throw InvalidArgumentError(fmt::format(
        "'{}': inconsistent committed counts in /{}: {} episodes, {} steps, {} observation rows "
        "(expected steps + episodes), {} generated (expected at least the episodes)",
        file.file_name(), schema::kIndexGroup, counts.episodes, counts.steps, counts.obs_rows,
        counts.generated));
  }
  if (counts.episodes > schema::kMaxEpisodes || counts.steps > schema::kMaxSteps) {
    throw InvalidArgumentError(fmt::format(
        "'{}': /{} claims {} episodes and {} steps, beyond the {} and {} a store may hold: the "
        "file is damaged",
        file.file_name(), schema::kIndexGroup, counts.episodes, counts.steps, schema::kMaxEpisodes,
        schema::kMaxSteps));
  }
  return counts;
}

void WriteCommitted(const h5::Group& index_group, const CommittedCounts& counts) {
  index_group.WriteIntAttribute(schema::kAttrCommittedEpisodes, counts.episodes);
  index_group.WriteIntAttribute(schema::kAttrCommittedSteps, counts.steps);
  index_group.WriteIntAttribute(schema::kAttrCommittedObsRows, counts.obs_rows);
  index_group.WriteIntAttribute(schema::kAttrCommittedGenerated, counts.generated);
}

namespace {

template <typename T>
std::vector<T> ReadColumn(const h5::File& file, const IndexColumn& column, int64_t rows) {
  const h5::Dataset dataset = OpenStoreDataset(file, column.path);
  const std::vector<hsize_t> dims = dataset.dims();
  if (dims.size() != 1 || dims[0] < static_cast<hsize_t>(rows)) {
    throw InvalidArgumentError(fmt::format(
        "'{}': /{} has shape ({}), not the {} rows of the committed episodes: the file is "
        "damaged; regenerate it with datagen_mpi",
        file.file_name(), column.path, fmt::join(dims, ", "), rows));
  }
  std::vector<T> values(static_cast<size_t>(rows));
  dataset.ReadRows(IndexMemoryType(column), 0, static_cast<hsize_t>(rows), values.data());
  return values;
}

}  // namespace

h5::Dataset OpenStoreDataset(const h5::File& file, const std::string& path) {
  if (file.KindOf(path) != h5::ObjectKind::kDataset) {
    throw InvalidArgumentError(fmt::format(
        "'{}' has no dataset /{}, which a store of its layout must have: the file is damaged or "
        "was edited; regenerate it with datagen_mpi",
        file.file_name(), path));
  }
  return file.OpenDataset(path);
}

StoreIndex ReadIndex(const h5::File& file, const StoreLayout& layout, int64_t episodes) {
  const std::vector<IndexColumn> columns = IndexColumns(layout);
  StoreIndex index;
  index.start_step = ReadColumn<int64_t>(file, columns[0], episodes);
  index.length = ReadColumn<int64_t>(file, columns[1], episodes);
  index.start_obs = ReadColumn<int64_t>(file, columns[2], episodes);
  index.seed = ReadColumn<int64_t>(file, columns[3], episodes);
  index.success = ReadColumn<uint8_t>(file, columns[4], episodes);
  index.diverged = ReadColumn<uint8_t>(file, columns[5], episodes);
  index.episode_index = ReadColumn<int64_t>(file, columns[6], episodes);
  index.episode_return = ReadColumn<double>(file, columns[7], episodes);
  std::vector<char> text(static_cast<size_t>(episodes) * schema::kLanguageBytes);
  OpenStoreDataset(file, columns[8].path)
      .ReadRows(IndexMemoryType(columns[8]), 0, static_cast<hsize_t>(episodes), text.data());
  index.language.reserve(static_cast<size_t>(episodes));
  for (int64_t e = 0; e < episodes; ++e) {
    const char* begin = text.data() + static_cast<size_t>(e) * schema::kLanguageBytes;
    index.language.emplace_back(begin, strnlen(begin, schema::kLanguageBytes));
  }
  for (size_t d = 0; d < layout.dr_value_names.size(); ++d) {
    index.dr_values.push_back(ReadColumn<double>(file, columns[9 + d], episodes));
  }
  for (size_t c = FirstChecksumColumn(layout); c < columns.size(); ++c) {
    index.checksums.push_back(ReadColumn<int64_t>(file, columns[c], episodes));
  }
  return index;
}

}  // namespace simscale::io::internal
