#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/io/episode_store.h"
#include "common/io/hdf5.h"
#include "common/io/schema.h"

// Pieces of the store format shared by the writer, the reader, the views and the validator.
// Internal to common/io.
namespace simscale::io::internal {

// One column of episodes/index/.
struct IndexColumn {
  std::string path;  // from the file root, e.g. "episodes/index/start_step"
  bool is_language = false;
  DType dtype = DType::kInt64;  // unless is_language
};

// In a fixed order: start_step, length, start_obs, seed, success, diverged, episode_index,
// return, language, dr/<name>..., then checksum/<column> for every step column and every
// observation column, in the layout's order.
std::vector<IndexColumn> IndexColumns(const StoreLayout& layout);
// Position of the first checksum column in IndexColumns(layout).
size_t FirstChecksumColumn(const StoreLayout& layout);
// "episodes/checksum/<column name>".
std::string ChecksumPath(const ColumnSpec& column);
// The checksum of one episode's rows of a column (`bytes` as stored: little-endian rows).
int64_t RowsChecksum(const void* bytes, size_t size);

// {rows, row_shape...}.
std::vector<hsize_t> Dims(uint64_t rows, const std::vector<uint64_t>& row_shape);

// "episodes/<column name>".
std::string StorePath(const ColumnSpec& column);

// The stored type of an index column.
h5::Datatype IndexStoredType(const IndexColumn& column);
h5::Datatype IndexMemoryType(const IndexColumn& column);

// Writes every layout attribute of episodes/ (schema version, layout JSON, env, config, git sha).
void WriteLayoutAttributes(const h5::Group& store, const StoreLayout& layout);

// Reads the layout from episodes/ attributes. Throws InvalidArgumentError with one sentence
// naming the file when it is not a store, or one of another schema version.
StoreLayout ReadLayout(const h5::File& file);

struct CommittedCounts {
  int64_t episodes = 0;
  int64_t steps = 0;
  int64_t obs_rows = 0;
  int64_t generated = 0;  // >= episodes; the next generation index
};
// Throws InvalidArgumentError when the counts are inconsistent, beyond the caps of schema.h, or
// larger than the index datasets.
CommittedCounts ReadCommitted(const h5::File& file);
void WriteCommitted(const h5::Group& index_group, const CommittedCounts& counts);

// Creates (replacing any) the robomimic views and masks in a serially opened store file, then
// sets episodes@views_built.
void BuildViews(const h5::File& file, const ViewOptions& options);

// Opens a dataset the layout requires; a missing one is an InvalidArgumentError naming the file
// and the dataset.
h5::Dataset OpenStoreDataset(const h5::File& file, const std::string& path);

// Reads the first `episodes` rows of every index column (and the checksums).
StoreIndex ReadIndex(const h5::File& file, const StoreLayout& layout, int64_t episodes);

}  // namespace simscale::io::internal
