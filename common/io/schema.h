#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/io/dtype.h"

// The dataset file format, in one place: names, attributes, chunking rules and the layout of the
// columns a run stores. The file holds two things:
//
//   episodes/                 the store, written in parallel; what training reads
//     @schema_version @layout (JSON) @env_name @env_kwargs (JSON) @config_yaml @git_sha
//     @complete (0/1) @views_built (0/1)
//     index/                  one row per episode, appended every round
//       @committed_episodes @committed_steps @committed_obs_rows @committed_generated
//                             (the crash-safe prefix)
//       start_step length start_obs seed episode_index (int64) success diverged (uint8)
//       return (float64) language (fixed-width bytes) dr/<name> (float64)
//     checksum/<column>       (E,) int64: CRC-32C of each episode's rows of <column>
//     <step column>           (ΣT, ...) e.g. actions, rewards, dones, states
//     obs/<key>               (ΣT + E, ...): each episode's T observations and its final one
//   data/                     robomimic views (virtual datasets onto the store), built at the end
//     @env_args @total @simscale_schema_version @simscale_config_yaml @simscale_git_sha
//     demo_<i>/ @num_samples @seed @success @diverged @language @episode_index @dr_<name>
//       <step column>, obs/<key> (rows [s, s+T) of the episode's obs block), next_obs/<key>
//       (rows [s+1, s+T+1))
//   mask/train, mask/valid    byte strings of demo names
namespace simscale::io {

namespace schema {

// Bump when a reader of the previous version could misread a file of the new one.
// 2: per-episode, per-column checksums (episodes/checksum/<column>).
inline constexpr int64_t kVersion = 2;

inline constexpr std::string_view kStoreGroup = "episodes";
inline constexpr std::string_view kIndexGroup = "episodes/index";
inline constexpr std::string_view kViewsGroup = "data";
inline constexpr std::string_view kMaskGroup = "mask";

// Index columns under episodes/index/, one row per episode.
inline constexpr std::string_view kStartStep = "start_step";
inline constexpr std::string_view kLength = "length";
inline constexpr std::string_view kStartObs = "start_obs";
inline constexpr std::string_view kSeed = "seed";
inline constexpr std::string_view kSuccess = "success";
inline constexpr std::string_view kDiverged = "diverged";
inline constexpr std::string_view kEpisodeIndex = "episode_index";
inline constexpr std::string_view kReturn = "return";
inline constexpr std::string_view kLanguage = "language";
inline constexpr std::string_view kDrGroup = "dr";
// Per-column checksums, one row per episode: episodes/checksum/<column name>, int64 holding the
// CRC-32C (checksum.h) of the episode's rows of that column as stored (little-endian bytes).
inline constexpr std::string_view kChecksumGroup = "episodes/checksum";
// Parallel HDF5 cannot write variable-length data collectively: instructions are fixed-width.
inline constexpr size_t kLanguageBytes = 256;

// Step columns every store has (robomimic's loader needs them; actions must be 2-D).
inline constexpr std::string_view kActions = "actions";
inline constexpr std::string_view kRewards = "rewards";
inline constexpr std::string_view kDones = "dones";
inline constexpr std::string_view kStates = "states";
inline constexpr std::string_view kObsPrefix = "obs/";
inline constexpr std::string_view kNextObsPrefix = "next_obs/";

// Attributes of episodes/.
inline constexpr std::string_view kAttrSchemaVersion = "schema_version";
inline constexpr std::string_view kAttrLayout = "layout";
inline constexpr std::string_view kAttrEnvName = "env_name";
inline constexpr std::string_view kAttrEnvKwargs = "env_kwargs";
inline constexpr std::string_view kAttrConfigYaml = "config_yaml";
inline constexpr std::string_view kAttrGitSha = "git_sha";
inline constexpr std::string_view kAttrComplete = "complete";
inline constexpr std::string_view kAttrViewsBuilt = "views_built";
// Attributes of episodes/index/: what a reader may trust after a crash.
inline constexpr std::string_view kAttrCommittedEpisodes = "committed_episodes";
inline constexpr std::string_view kAttrCommittedSteps = "committed_steps";
inline constexpr std::string_view kAttrCommittedObsRows = "committed_obs_rows";
// Episodes generated so far (stored or not): where a resumed run continues generating. Equals
// committed_episodes unless the writer was told that some generated episodes were not stored.
inline constexpr std::string_view kAttrCommittedGenerated = "committed_generated";

// Attributes of data/ (robomimic's, then ours).
inline constexpr std::string_view kAttrEnvArgs = "env_args";
inline constexpr std::string_view kAttrTotal = "total";
inline constexpr std::string_view kAttrViewSchemaVersion = "simscale_schema_version";
inline constexpr std::string_view kAttrViewConfigYaml = "simscale_config_yaml";
inline constexpr std::string_view kAttrViewGitSha = "simscale_git_sha";
// robomimic's EnvType.GYM_TYPE: a plain gym-style env (1 would be robosuite).
inline constexpr int64_t kEnvTypeGym = 2;

// Attributes of data/demo_<i>/.
inline constexpr std::string_view kDemoPrefix = "demo_";
inline constexpr std::string_view kAttrNumSamples = "num_samples";
inline constexpr std::string_view kAttrDrPrefix = "dr_";

inline constexpr std::string_view kMaskTrain = "train";
inline constexpr std::string_view kMaskValid = "valid";
inline constexpr std::string_view kAttrValidFraction = "valid_fraction";
inline constexpr std::string_view kAttrSplitSeed = "split_seed";

// Chunking: about this many bytes per chunk, at most kMaxChunkRows rows (so a low-dim column gets
// 256..1024 rows; a 128x128x3 image 16 rows, 0.75 MiB).
inline constexpr uint64_t kTargetChunkBytes = 768 * 1024;
inline constexpr uint64_t kMaxChunkRows = 1024;
inline constexpr uint64_t kIndexChunkRows = 256;

// Caps on what is read from a file before it is trusted: a damaged or hostile file must give a
// clear error, not a huge allocation.
inline constexpr size_t kMaxStringAttributeBytes = 16 * 1024 * 1024;  // config text, JSON
inline constexpr size_t kMaxColumns = 1024;                           // per list in @layout
inline constexpr size_t kMaxDrValues = 1024;
inline constexpr size_t kMaxRowDims = 8;
inline constexpr uint64_t kMaxRowBytes = 256ULL * 1024 * 1024;  // one row of one column
inline constexpr int64_t kMaxEpisodes = int64_t{1} << 40;
inline constexpr int64_t kMaxSteps = int64_t{1} << 48;

// "demo_<i>".
std::string DemoName(int64_t episode);

}  // namespace schema

// One stored column: a name ("actions", "obs/ee_pos", "obs/agentview_image"), its element type
// and the shape of one row (empty for a scalar per row).
struct ColumnSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<uint64_t> row_shape;
  int gzip_level = 0;       // 0 = unfiltered, 1..9 deflate
  bool shuffle = true;      // byte shuffle before deflate (ignored without gzip)
  uint64_t chunk_rows = 0;  // 0 = schema::ChunkRows of the row size

  // Low-dimensional data (joint positions, actions...): unfiltered by default. gzip 4 + shuffle
  // made each round 5-30x slower for a file about 1.5x smaller, and HDF5 1.10's filtered
  // collective path is the less proven one at scale (benchmarks/RESULTS.md, "HDF5 store"); set
  // gzip_level (and chunk_rows = 256) per column to trade time for space.
  static ColumnSpec LowDim(std::string name, DType dtype, std::vector<uint64_t> row_shape);
  // uint8 images (H, W, C): unfiltered by default (gzip costs as much as the rendering).
  static ColumnSpec Image(std::string name, uint64_t height, uint64_t width, uint64_t channels,
                          int gzip_level = 0);

  uint64_t row_elements() const;
  uint64_t row_bytes() const;
  // The chunk length in rows: chunk_rows if set, else about kTargetChunkBytes of rows, clamped to
  // [1, kMaxChunkRows].
  uint64_t effective_chunk_rows() const;
  bool operator==(const ColumnSpec& other) const;
  bool operator!=(const ColumnSpec& other) const { return !(*this == other); }
  // "actions float32 (4,) gzip 4 shuffle".
  std::string Describe() const;
};

// Everything that fixes the shape of a store; identical on every rank of a writer.
struct StoreLayout {
  std::vector<ColumnSpec> step_columns;  // T rows per episode; names without '/'
  std::vector<ColumnSpec> obs_columns;   // T + 1 rows per episode; names "obs/<key>"
  std::vector<std::string> dr_value_names;
  std::string env_name;
  std::string env_kwargs_json = "{}";  // a JSON object, robomimic's env_kwargs
  std::string resolved_config_yaml;
  std::string git_sha;

  // The column called `name` among both lists, or nullptr.
  const ColumnSpec* FindColumn(std::string_view name) const;
};

// Throws InvalidArgumentError listing every problem of `layout` (names, shapes, required columns,
// gzip levels, env_kwargs JSON), each with the offending value and what was expected.
void CheckLayout(const StoreLayout& layout);

// The differences that make `requested` unable to continue a store written with `stored`
// (columns, element types, row shapes, DR names, env name and kwargs), one line each. Chunking,
// compression, config text and git sha are not compared (see LayoutNotes).
std::vector<std::string> LayoutDifferences(const StoreLayout& stored, const StoreLayout& requested);
// Differences that do not prevent resuming (compression, chunking, config text, git sha).
std::vector<std::string> LayoutNotes(const StoreLayout& stored, const StoreLayout& requested);

// The column part of a layout as JSON (stored in episodes@layout) and back.
std::string LayoutColumnsToJson(const StoreLayout& layout);
// Fills the columns and DR names of `layout` from JSON; throws InvalidArgumentError.
void LayoutColumnsFromJson(std::string_view json_text, StoreLayout* layout);

}  // namespace simscale::io
