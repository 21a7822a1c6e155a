#pragma once

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/io/hdf5.h"
#include "common/io/schema.h"
#include "common/mpi/mpi.h"

// The episode store: one HDF5 file that many MPI ranks fill together, round by round, and that a
// single process reads back. The layout is in schema.h; crash and resume semantics in README.md.
namespace simscale::io {

// One finished episode, independent of any simulator: raw row-major bytes per column, in the
// order of the layout's columns, in the host's native byte order.
struct EpisodeRecord {
  int64_t episode_index = 0;  // global index: row of the episode in the store
  int64_t seed = 0;
  int64_t length = 0;  // T >= 1 steps
  bool success = false;
  bool diverged = false;
  double episode_return = 0.0;
  std::string language;                         // at most schema::kLanguageBytes bytes
  std::vector<double> dr_values;                // one per layout.dr_value_names
  std::vector<std::vector<uint8_t>> step_data;  // per step column: T rows
  std::vector<std::vector<uint8_t>> obs_data;   // per obs column: T + 1 rows
};

// Raw bytes of `count` values, for EpisodeRecord's columns.
template <typename T>
std::vector<uint8_t> ToBytes(const T* values, size_t count) {
  std::vector<uint8_t> bytes(count * sizeof(T));
  if (count > 0) std::memcpy(bytes.data(), values, bytes.size());
  return bytes;
}
template <typename T>
std::vector<uint8_t> ToBytes(const std::vector<T>& values) {
  return ToBytes(values.data(), values.size());
}

// The per-episode index of a store (its committed prefix).
struct StoreIndex {
  std::vector<int64_t> start_step;
  std::vector<int64_t> length;
  std::vector<int64_t> start_obs;
  std::vector<int64_t> seed;
  std::vector<int64_t> episode_index;
  std::vector<uint8_t> success;
  std::vector<uint8_t> diverged;
  std::vector<double> episode_return;
  std::vector<std::string> language;
  std::vector<std::vector<double>> dr_values;  // [DR name][episode]
  // [column: step columns, then observation columns][episode]: CRC-32C of the episode's rows.
  std::vector<std::vector<int64_t>> checksums;

  int64_t size() const { return static_cast<int64_t>(length.size()); }
};

// How robomimic's demo views and train/valid masks are made.
struct ViewOptions {
  double valid_fraction = 0.1;  // share of demos in mask/valid (at least one when > 0 and E >= 2)
  uint64_t split_seed = 0;      // the choice of valid demos is a pure function of this and E
};

struct StoreWriterOptions {
  // Replace an existing file at `path` (only when the new one is complete) and discard a stale
  // `<path>.partial`. Without it, Create refuses both.
  bool overwrite = false;
  // Build the robomimic views in Finalize. Skipping them saves ~1–2 ms per episode on rank 0 for
  // very large runs; BuildRobomimicViews adds them later.
  bool build_views = true;
  ViewOptions views;
  // Test hook, called on every rank at fixed points of AppendRound with the stage name
  // ("after_extend", "after_data_write", "after_data_flush", "after_commit") and the round
  // number (0-based, counting rounds of this writer object). Used to simulate crashes.
  std::function<void(std::string_view stage, int64_t round)> fault_hook;
};

// `<path>.partial`: the name a store has until Finalize.
std::filesystem::path PartialPath(const std::filesystem::path& path);

// Writes a store collectively over `comm`. Every method is collective: every rank calls it, in
// the same order. Not thread-safe.
class EpisodeStoreWriter {
 public:
  // Creates `<path>.partial` with every dataset of `layout` (empty). Refuses an existing `path`
  // or `<path>.partial` unless options.overwrite.
  static EpisodeStoreWriter Create(const std::filesystem::path& path, const mpi::Communicator& comm,
                                   const StoreLayout& layout,
                                   const StoreWriterOptions& options = {});
  // Reopens the `<path>.partial` an interrupted run left, after checking that `layout` matches
  // the stored one (an error lists every difference), and drops rows past the last committed
  // round. committed_episodes() says where the caller continues.
  static EpisodeStoreWriter OpenForResume(const std::filesystem::path& path,
                                          const mpi::Communicator& comm, const StoreLayout& layout,
                                          const StoreWriterOptions& options = {});

  EpisodeStoreWriter(EpisodeStoreWriter&&) noexcept;
  EpisodeStoreWriter& operator=(EpisodeStoreWriter&&) noexcept;
  // Closes the file if Finalize was not called, except while an exception is propagating (then
  // the handle is left to HDF5's shutdown at MPI_Finalize, or to MPI_Abort: a collective close
  // on one unwinding rank would hang). The file keeps its committed rounds either way.
  ~EpisodeStoreWriter();

  // Appends one round: `mine` holds this rank's episodes, with increasing global (generation)
  // indices that follow those of the rank before (rank 0's continue from
  // committed_generation()); any rank may pass none. Without filtering the indices are
  // consecutive and equal the store rows. `generated_through` (the same on every rank) is the
  // generation index after this round, counting episodes the caller chose not to store; -1 means
  // one past the last stored index. One extent change and one collective write per dataset, then
  // a flush, the committed counts, and another flush: after a crash every earlier round is
  // intact. Bad records (sizes, lengths, indices) are reported on every rank before anything is
  // written, and the writer stays usable. Any other failure (HDF5, disk full) leaves the
  // committed rounds intact; abandon the writer then, and resume.
  void AppendRound(const std::vector<EpisodeRecord>& mine, int64_t generated_through = -1);

  // Marks the store complete, closes it, builds the views on rank 0 (unless skipped), and renames
  // `<path>.partial` to `path` durably. The writer is unusable afterwards.
  void Finalize();

  int64_t committed_episodes() const;
  int64_t committed_steps() const;
  // Where generation continues: committed_episodes() plus the episodes generated but not stored.
  int64_t committed_generation() const;
  const StoreLayout& layout() const;
  const std::filesystem::path& path() const;

 private:
  struct State;
  explicit EpisodeStoreWriter(std::unique_ptr<State> state);
  // The stages of AppendRound: every dataset grown to the round's end (collective), then this
  // rank's rows written from store row first_step / first_episode on.
  void ExtendColumns(int64_t steps, int64_t obs_rows, int64_t episodes);
  void WriteRows(const std::vector<EpisodeRecord>& mine, int64_t first_step, int64_t first_episode,
                 int64_t steps);
  std::unique_ptr<State> state_;
};

struct StoreReaderOptions {
  // Open a store that was not finalized (a `.partial` after a crash): only its committed rounds
  // are visible.
  bool allow_incomplete = false;
  // Check every episode a read covers entirely against its stored checksum (CRC-32C of its rows
  // of that column); a mismatch throws DataIntegrityError. Costs 8-14 % of train_ddp's
  // dataset load, 30-50 % of a bare page-cache read (benchmarks/RESULTS.md, "Store checksums").
  bool verify_checksums = true;
};

// Stored data that does not match its checksum: the file was damaged after it was written.
class DataIntegrityError : public IoError {
 public:
  using IoError::IoError;
};

// Reads a store with the serial (sec2) driver: for training, tools and tests. Keeps one open
// dataset per column. A file that is missing, truncated, not HDF5, left by an interrupted run,
// of another schema version or missing a dataset is refused with one sentence naming the file,
// the problem and what to do (InvalidArgumentError).
class EpisodeStoreReader {
 public:
  explicit EpisodeStoreReader(const std::filesystem::path& path,
                              const StoreReaderOptions& options = {});

  const std::filesystem::path& path() const { return path_; }
  const StoreLayout& layout() const { return layout_; }
  bool complete() const { return complete_; }
  bool views_built() const { return views_built_; }
  int64_t num_episodes() const { return index_.size(); }
  int64_t num_steps() const { return num_steps_; }
  const StoreIndex& index() const { return index_; }

  // The spec of a column ("actions", "obs/ee_pos"); throws InvalidArgumentError listing the
  // columns when there is no such column.
  const ColumnSpec& column(std::string_view name) const;
  // Rows [first_row, first_row + num_rows) of a column, in native byte order, into `out`, which
  // must hold num_rows * column(name).row_bytes() bytes. Step columns have num_steps() rows,
  // observation columns num_steps() + num_episodes(). With verify_checksums, every episode
  // whose rows of the column lie entirely inside the range is verified (DataIntegrityError
  // naming the file, column and episode); episodes cut by the range are not.
  void ReadRows(std::string_view name, int64_t first_row, int64_t num_rows, void* out) const;
  std::vector<uint8_t> ReadRows(std::string_view name, int64_t first_row, int64_t num_rows) const;
  // Episode `episode` (0-based store row) with all its columns.
  EpisodeRecord ReadEpisode(int64_t episode) const;
  // The rows [first, first + count) of episode `episode` in column `name`.
  std::pair<int64_t, int64_t> EpisodeRows(std::string_view name, int64_t episode) const;

 private:
  struct OpenColumn {
    h5::Dataset dataset;
    size_t checksum_column = 0;  // into index_.checksums
    bool observation = false;
  };
  [[noreturn]] void ThrowUnreadable(const ColumnSpec& spec, const OpenColumn& column,
                                    int64_t first_row, int64_t num_rows) const;
  void VerifyRows(const ColumnSpec& spec, const OpenColumn& column, int64_t first_row,
                  int64_t num_rows, const void* bytes) const;

  std::filesystem::path path_;
  h5::File file_;
  StoreLayout layout_;
  StoreIndex index_;
  int64_t num_steps_ = 0;
  bool complete_ = false;
  bool views_built_ = false;
  bool verify_ = true;
  std::map<std::string, OpenColumn, std::less<>> datasets_;
};

// The store rows (= demo numbers) that go to mask/valid, ascending: floor(valid_fraction * E), at
// least one when valid_fraction > 0 and E >= 2, never all; a pure function of (E, split_seed).
std::vector<int64_t> ValidEpisodes(int64_t num_episodes, const ViewOptions& options);

// Builds (or rebuilds) the robomimic views and masks of a store, serially. Used by Finalize on
// rank 0; callable on a store finalized without views.
void BuildRobomimicViews(const std::filesystem::path& path, const ViewOptions& options = {});

}  // namespace simscale::io
