#include "common/io/episode_store.h"

#include <algorithm>
#include <exception>
#include <optional>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/core/hash.h"
#include "common/core/log.h"
#include "common/io/open_file.h"
#include "common/io/store_format.h"

namespace simscale::io {
namespace fs = std::filesystem;

fs::path PartialPath(const fs::path& path) {
  fs::path partial = path;
  partial += ".partial";
  return partial;
}

namespace {

using internal::CommittedCounts;
using internal::Dims;
using internal::IndexColumn;

uint64_t LargestChunkBytes(const StoreLayout& layout) {
  uint64_t largest = 0;
  for (const auto* columns : {&layout.step_columns, &layout.obs_columns}) {
    for (const ColumnSpec& column : *columns) {
      largest = std::max<uint64_t>(
          largest, static_cast<uint64_t>(column.effective_chunk_rows()) * column.row_bytes());
    }
  }
  return largest;
}

// HDF5's MPI-IO driver reports a full file system only as "Write failed": when the file's file
// system has less free space than two chunks of the largest column (plus 1 MiB), a failed write
// is reported as what it almost certainly is, with the way out. The HDF5 stack goes to the debug
// log.
void ThrowIfFileSystemFull(const h5::Hdf5Error& error, const fs::path& partial,
                           const StoreLayout& layout, int64_t committed_episodes) {
  const uint64_t largest_chunk = LargestChunkBytes(layout);
  std::error_code ec;
  const fs::path dir = partial.has_parent_path() ? partial.parent_path() : fs::path(".");
  const fs::space_info space = fs::space(dir, ec);
  if (ec || space.available >= 2 * largest_chunk + (uint64_t{1} << 20)) return;
  log::Debug("{}", error.what());
  throw IoError(fmt::format(
      "cannot write '{}': No space left on device ({} bytes free on its file system) after {} "
      "committed episodes: free space, then rerun with --resume",
      partial.string(), space.available, committed_episodes));
}

// Refuses, on every rank and before anything is written, a write that the file system has no room
// for (rank 0 looks; `needed` is an estimate with a margin). A parallel HDF5 flush that runs out
// of space can leave the ranks in different collectives (a hang) or the metadata damaged, so a full
// disk is safe only when it is seen first: then the committed rounds stay as they are.
void CheckRoom(const mpi::Communicator& comm, const fs::path& partial, uint64_t needed,
               int64_t committed_episodes) {
  mpi::RunAgreed(comm, [&] {
    if (!comm.is_root()) return;
    std::error_code ec;
    const fs::path dir = partial.has_parent_path() ? partial.parent_path() : fs::path(".");
    const fs::space_info space = fs::space(dir, ec);
    if (ec || space.available >= needed) return;
    throw IoError(fmt::format(
        "cannot write '{}': No space left on device ({} bytes free on its file system, about {} "
        "needed); the {} committed episodes are intact: free space, then rerun with --resume",
        partial.string(), space.available, needed, committed_episodes));
  });
}

// Bytes a round adds: its rows, a chunk per column for allocation granularity, 1 MiB of metadata.
uint64_t RoundBytes(const StoreLayout& layout, int64_t steps, int64_t episodes) {
  uint64_t bytes = uint64_t{1} << 20;
  for (const auto* columns : {&layout.step_columns, &layout.obs_columns}) {
    const int64_t rows = columns == &layout.obs_columns ? steps + episodes : steps;
    for (const ColumnSpec& column : *columns) {
      bytes +=
          (static_cast<uint64_t>(rows) + static_cast<uint64_t>(column.effective_chunk_rows())) *
          column.row_bytes();
    }
  }
  return bytes;
}

h5::Dataset CreateColumn(const h5::File& file, const ColumnSpec& column) {
  std::vector<hsize_t> max_dims = Dims(0, column.row_shape);
  max_dims[0] = h5::kUnlimited;
  h5::StorageOptions storage;
  storage.chunk = Dims(column.effective_chunk_rows(), column.row_shape);
  storage.gzip_level = column.gzip_level;
  storage.shuffle = column.shuffle;
  return file.CreateDataset(internal::StorePath(column), h5::Datatype::Stored(column.dtype),
                            h5::Dataspace::Simple(Dims(0, column.row_shape), max_dims), storage);
}

h5::Dataset CreateIndexColumn(const h5::File& file, const IndexColumn& column) {
  h5::StorageOptions storage;
  storage.chunk = {schema::kIndexChunkRows};
  return file.CreateDataset(column.path, internal::IndexStoredType(column),
                            h5::Dataspace::Simple({0}, {h5::kUnlimited}), storage);
}

// Every rank must pass the same layout, or the collective creates would hang or diverge.
void CheckSameLayoutOnEveryRank(const mpi::Communicator& comm, const StoreLayout& layout) {
  uint64_t hash = kFnvOffset;
  for (const std::string& part :
       {LayoutColumnsToJson(layout), layout.env_name, layout.env_kwargs_json,
        layout.resolved_config_yaml, layout.git_sha}) {
    hash = Fnv1a(part.data(), part.size(), hash);
    hash = Fnv1a("\0", 1, hash);
  }
  const std::vector<uint64_t> all = comm.AllGather(hash);
  for (size_t r = 1; r < all.size(); ++r) {
    if (all[r] != all[0]) {
      throw InvalidArgumentError(fmt::format(
          "the store layout passed on rank {} differs from rank 0's; every rank must pass the "
          "same layout",
          r));
    }
  }
}

// Checks one rank's records against the layout (no collectives).
void CheckRecords(const StoreLayout& layout, const std::vector<EpisodeRecord>& records) {
  const ColumnSpec* dones = layout.FindColumn(schema::kDones);
  size_t dones_position = 0;
  for (size_t c = 0; c < layout.step_columns.size(); ++c) {
    if (&layout.step_columns[c] == dones) dones_position = c;
  }
  for (size_t k = 0; k < records.size(); ++k) {
    const EpisodeRecord& r = records[k];
    const std::string what = fmt::format("episode {}", r.episode_index);
    if (k > 0 && r.episode_index <= records[k - 1].episode_index) {
      throw InvalidArgumentError(
          fmt::format("{}: a rank's episodes must have increasing indices; the one before it is {}",
                      what, records[k - 1].episode_index));
    }
    CheckArgument(r.length >= 1, what + " length", r.length, "at least 1 step");
    CheckArgument(r.language.size() <= schema::kLanguageBytes, what + " language", r.language,
                  fmt::format("at most {} bytes", schema::kLanguageBytes));
    CheckArgument(r.dr_values.size() == layout.dr_value_names.size(), what + " number of DR values",
                  r.dr_values.size(),
                  fmt::format("{} ({})", layout.dr_value_names.size(),
                              fmt::join(layout.dr_value_names, ", ")));
    CheckArgument(r.step_data.size() == layout.step_columns.size(),
                  what + " number of step columns", r.step_data.size(),
                  fmt::format("{}", layout.step_columns.size()));
    CheckArgument(r.obs_data.size() == layout.obs_columns.size(),
                  what + " number of observation columns", r.obs_data.size(),
                  fmt::format("{}", layout.obs_columns.size()));
    for (size_t c = 0; c < layout.step_columns.size(); ++c) {
      const ColumnSpec& column = layout.step_columns[c];
      const uint64_t expected = static_cast<uint64_t>(r.length) * column.row_bytes();
      CheckArgument(
          r.step_data[c].size() == expected,
          fmt::format("{} column '{}' size in bytes", what, column.name), r.step_data[c].size(),
          fmt::format("{} ({} steps x {} bytes)", expected, r.length, column.row_bytes()));
    }
    for (size_t c = 0; c < layout.obs_columns.size(); ++c) {
      const ColumnSpec& column = layout.obs_columns[c];
      const uint64_t expected = static_cast<uint64_t>(r.length + 1) * column.row_bytes();
      CheckArgument(r.obs_data[c].size() == expected,
                    fmt::format("{} column '{}' size in bytes", what, column.name),
                    r.obs_data[c].size(),
                    fmt::format("{} ({} observations x {} bytes)", expected, r.length + 1,
                                column.row_bytes()));
    }
    if (dones != nullptr) {
      const double last = ElementAsDouble(dones->dtype, r.step_data[dones_position].data(),
                                          static_cast<size_t>(r.length - 1));
      CheckArgument(last == 1.0, what + " dones[T-1]", last, "1 (the last step ends the episode)");
    }
  }
}

// What each rank appends in a round (gathered, so every rank places every rank's rows).
struct RankCounts {
  int64_t episodes;
  int64_t steps;
  int64_t first_index;
  int64_t last_index;
};

// Where this rank's rows of a round go, and the counts once the round is committed.
struct RoundPlacement {
  int64_t first_episode = 0;  // this rank's first store row of the index
  int64_t first_step = 0;     // ... and of the step columns
  int64_t next_index = 0;     // the next generation index after the round's episodes
  int64_t episodes = 0, steps = 0;
};

// This rank's rows go after every committed row and every row of lower ranks. Episode indices
// (generation order) increase in rank order and continue after the committed ones; without
// filtering they are exactly the store rows. Every rank sees the same gathered counts, so every
// rank throws the same error.
RoundPlacement PlaceRound(const std::vector<RankCounts>& all, int rank,
                          const CommittedCounts& committed, int64_t round,
                          const fs::path& partial) {
  RoundPlacement p;
  p.episodes = committed.episodes;
  p.steps = committed.steps;
  p.next_index = committed.generated;
  for (size_t r = 0; r < all.size(); ++r) {
    const RankCounts& c = all[r];
    if (c.episodes > 0 && c.first_index < p.next_index) {
      throw InvalidArgumentError(fmt::format(
          "round {} of '{}': rank {}'s first episode has index {}, expected at least {}: ranks "
          "hold blocks of increasing episode indices in rank order, continuing after the {} "
          "generated so far",
          round, partial.string(), r, c.first_index, p.next_index, committed.generated));
    }
    if (static_cast<int>(r) == rank) {
      p.first_episode = p.episodes;
      p.first_step = p.steps;
    }
    if (c.episodes > 0) p.next_index = c.last_index + 1;
    p.episodes += c.episodes;
    p.steps += c.steps;
  }
  return p;
}

// The index rows of a rank's episodes, column by column in the layout's index order.
struct IndexRows {
  std::vector<int64_t> start_step, length, start_obs, seed, episode_index;
  std::vector<uint8_t> success, diverged;
  std::vector<double> episode_return;
  std::vector<char> language;
  std::vector<std::vector<double>> dr;
  std::vector<std::vector<int64_t>> checksums;  // [step columns, then obs columns][episode]

  IndexRows(const std::vector<EpisodeRecord>& mine, const RoundPlacement& placement,
            const StoreLayout& layout) {
    const size_t dr_values = layout.dr_value_names.size();
    const size_t n = mine.size();
    start_step.resize(n), length.resize(n), start_obs.resize(n), seed.resize(n);
    episode_index.resize(n), success.resize(n), diverged.resize(n), episode_return.resize(n);
    language.assign(n * schema::kLanguageBytes, '\0');
    dr.assign(dr_values, std::vector<double>(n));
    int64_t step = placement.first_step;
    for (size_t k = 0; k < n; ++k) {
      const EpisodeRecord& r = mine[k];
      start_step[k] = step;
      length[k] = r.length;
      start_obs[k] = step + placement.first_episode + static_cast<int64_t>(k);
      seed[k] = r.seed;
      episode_index[k] = r.episode_index;
      success[k] = r.success ? 1 : 0;
      diverged[k] = r.diverged ? 1 : 0;
      episode_return[k] = r.episode_return;
      std::copy(r.language.begin(), r.language.end(),
                language.begin() + static_cast<std::ptrdiff_t>(k * schema::kLanguageBytes));
      for (size_t d = 0; d < dr.size(); ++d) dr[d][k] = r.dr_values[d];
      step += r.length;
    }
    // Computed by the rank that produced the episode, from the bytes it writes.
    for (const bool observation : {false, true}) {
      const size_t columns = (observation ? layout.obs_columns : layout.step_columns).size();
      for (size_t c = 0; c < columns; ++c) {
        std::vector<int64_t>& sums = checksums.emplace_back(n);
        for (size_t k = 0; k < n; ++k) {
          const std::vector<uint8_t>& bytes =
              observation ? mine[k].obs_data[c] : mine[k].step_data[c];
          sums[k] = internal::RowsChecksum(bytes.data(), bytes.size());
        }
      }
    }
  }

  // Column i's data (the fixed columns, then one per DR value).
  const void* Column(size_t i) const {
    const std::vector<const void*> fixed = {
        start_step.data(),    length.data(),         start_obs.data(),
        seed.data(),          success.data(),        diverged.data(),
        episode_index.data(), episode_return.data(), language.data()};
    if (i < fixed.size()) return fixed[i];
    i -= fixed.size();
    if (i < dr.size()) return dr[i].data();
    return checksums[i - dr.size()].data();
  }
};

}  // namespace

struct EpisodeStoreWriter::State {
  fs::path path;
  fs::path partial;
  mpi::Communicator comm;
  StoreLayout layout;
  StoreWriterOptions options;
  std::optional<h5::File> file;
  std::optional<h5::Group> index_group;
  std::vector<h5::Dataset> step_datasets;
  std::vector<h5::Dataset> obs_datasets;
  std::vector<IndexColumn> index_columns;
  std::vector<h5::Dataset> index_datasets;
  CommittedCounts committed;
  int64_t rounds = 0;
  bool finalized = false;
  std::vector<uint8_t> scratch;

  State(fs::path path_in, const mpi::Communicator& comm_in, StoreLayout layout_in,
        StoreWriterOptions options_in)
      : path(std::move(path_in)),
        partial(PartialPath(path)),
        comm(comm_in),
        layout(std::move(layout_in)),
        options(std::move(options_in)),
        index_columns(internal::IndexColumns(layout)) {}

  void Hook(std::string_view stage) const {
    if (options.fault_hook) options.fault_hook(stage, rounds);
  }

  void CloseDatasets() {
    step_datasets.clear();
    obs_datasets.clear();
    index_datasets.clear();
    index_group.reset();
  }
};

EpisodeStoreWriter::EpisodeStoreWriter(std::unique_ptr<State> state) : state_(std::move(state)) {}
EpisodeStoreWriter::EpisodeStoreWriter(EpisodeStoreWriter&&) noexcept = default;
EpisodeStoreWriter& EpisodeStoreWriter::operator=(EpisodeStoreWriter&&) noexcept = default;

EpisodeStoreWriter::~EpisodeStoreWriter() {
  if (!state_ || state_->finalized || !state_->file) return;
  if (std::uncaught_exceptions() > 0) {
    for (auto* list : {&state_->step_datasets, &state_->obs_datasets, &state_->index_datasets}) {
      for (h5::Dataset& dataset : *list) dataset.Abandon();
    }
    if (state_->index_group) state_->index_group->Abandon();
    state_->file->Abandon();
    return;
  }
  try {
    state_->CloseDatasets();
    state_->file->Close();
  } catch (const std::exception& error) {
    log::Error("closing '{}' failed: {}", state_->partial.string(), error.what());
  }
}

int64_t EpisodeStoreWriter::committed_episodes() const { return state_->committed.episodes; }
int64_t EpisodeStoreWriter::committed_steps() const { return state_->committed.steps; }
int64_t EpisodeStoreWriter::committed_generation() const { return state_->committed.generated; }
const StoreLayout& EpisodeStoreWriter::layout() const { return state_->layout; }
const fs::path& EpisodeStoreWriter::path() const { return state_->path; }

EpisodeStoreWriter EpisodeStoreWriter::Create(const fs::path& path, const mpi::Communicator& comm,
                                              const StoreLayout& layout,
                                              const StoreWriterOptions& options) {
  mpi::RunAgreed(comm, [&] {
    CheckLayout(layout);
    ValidEpisodes(0, options.views);  // checks the options now rather than at the end
  });
  CheckSameLayoutOnEveryRank(comm, layout);
  auto state = std::make_unique<State>(path, comm, layout, options);
  mpi::RunAgreed(comm, [&] {
    if (!comm.is_root()) return;
    if (fs::exists(path) && !options.overwrite) {
      throw InvalidArgumentError(fmt::format(
          "'{}' exists; refusing to replace it (ask to overwrite it, or choose another output)",
          path.string()));
    }
    if (fs::exists(state->partial)) {
      if (!options.overwrite) {
        throw InvalidArgumentError(fmt::format(
            "'{}' exists: an interrupted run left it; resume that run, or ask to overwrite to "
            "start again",
            state->partial.string()));
      }
      fs::remove(state->partial);
    }
  });
  State& s = *state;
  // Append-only space: a crash between a round's data writes and its flush must not damage
  // the rounds already committed (see h5::File::Create).
  s.file.emplace(h5::File::Create(s.partial.string(), comm.handle(), /*append_only=*/true));
  const h5::Group store = s.file->CreateGroup(schema::kStoreGroup);
  s.index_group.emplace(s.file->CreateGroup(schema::kIndexGroup));
  for (const ColumnSpec& column : layout.step_columns) {
    s.step_datasets.push_back(CreateColumn(*s.file, column));
  }
  for (const ColumnSpec& column : layout.obs_columns) {
    s.obs_datasets.push_back(CreateColumn(*s.file, column));
  }
  for (const IndexColumn& column : s.index_columns) {
    s.index_datasets.push_back(CreateIndexColumn(*s.file, column));
  }
  internal::WriteLayoutAttributes(store, layout);
  store.WriteIntAttribute(schema::kAttrComplete, 0);
  store.WriteIntAttribute(schema::kAttrViewsBuilt, 0);
  internal::WriteCommitted(*s.index_group, s.committed);
  s.file->Flush();
  return EpisodeStoreWriter(std::move(state));
}

// long function: the resume sequence (open, compare the layout, truncate to the committed
// counts, reopen every dataset) is collective and order-dependent; it reads best in one piece.
EpisodeStoreWriter EpisodeStoreWriter::OpenForResume(const fs::path& path,
                                                     const mpi::Communicator& comm,
                                                     const StoreLayout& layout,
                                                     const StoreWriterOptions& options) {
  mpi::RunAgreed(comm, [&] { CheckLayout(layout); });
  CheckSameLayoutOnEveryRank(comm, layout);
  auto state = std::make_unique<State>(path, comm, layout, options);
  State& s = *state;
  mpi::RunAgreed(comm, [&] {
    if (!comm.is_root() || fs::exists(s.partial)) return;
    if (fs::exists(path)) {
      throw InvalidArgumentError(
          fmt::format("nothing to resume: '{}' is already complete (there is no '{}')",
                      path.string(), s.partial.string()));
    }
    throw InvalidArgumentError(
        fmt::format("nothing to resume: there is no '{}'", s.partial.string()));
  });
  // Rank 0 checks and repairs the file serially: truncating datasets frees file space, and
  // HDF5 1.10.8's parallel free-space code then fails ("can't insert duplicate key") or crashes
  // on the next allocation. Serially it works, and the space map is not kept across opens.
  mpi::RunAgreed(comm, [&] {
    if (!comm.is_root()) return;
    OpenDatasetFile(s.partial).Close();  // an empty, truncated or foreign file: one sentence
    h5::File file = h5::File::Open(s.partial.string(), h5::File::Mode::kReadWrite);
    const StoreLayout stored = internal::ReadLayout(file);
    const std::vector<std::string> differences = LayoutDifferences(stored, layout);
    if (!differences.empty()) {
      throw InvalidArgumentError(fmt::format(
          "cannot resume '{}': the requested layout differs from the stored one:\n  - {}",
          s.partial.string(), fmt::join(differences, "\n  - ")));
    }
    for (const std::string& note : LayoutNotes(stored, layout)) {
      log::Warn("resuming '{}': {}", s.partial.string(), note);
    }
    const CommittedCounts committed = internal::ReadCommitted(file);
    std::vector<std::string> damage;
    const auto truncate = [&](const std::string& dataset_path, int64_t committed_rows) {
      const h5::Dataset dataset = file.OpenDataset(dataset_path);
      std::vector<hsize_t> dims = dataset.dims();
      if (dims.empty() || dims[0] < static_cast<hsize_t>(committed_rows)) {
        damage.push_back(fmt::format("/{} has {} rows, fewer than the {} committed", dataset_path,
                                     dims.empty() ? 0 : dims[0], committed_rows));
      } else if (dims[0] > static_cast<hsize_t>(committed_rows)) {
        dims[0] = static_cast<hsize_t>(committed_rows);
        dataset.SetExtent(dims);  // drops the rows of the round that was in flight
      }
    };
    for (const ColumnSpec& column : stored.step_columns) {
      truncate(internal::StorePath(column), committed.steps);
    }
    for (const ColumnSpec& column : stored.obs_columns) {
      truncate(internal::StorePath(column), committed.obs_rows);
    }
    for (const IndexColumn& column : internal::IndexColumns(stored)) {
      truncate(column.path, committed.episodes);
    }
    if (!damage.empty()) {
      throw InvalidArgumentError(fmt::format("cannot resume '{}': it is damaged:\n  - {}",
                                             s.partial.string(), fmt::join(damage, "\n  - ")));
    }
    // Views from an interrupted Finalize describe fewer episodes than there will be.
    for (const std::string_view group : {schema::kViewsGroup, schema::kMaskGroup}) {
      if (file.Exists(group)) file.Unlink(group);
    }
    const h5::Group store = file.OpenGroup(schema::kStoreGroup);
    store.WriteIntAttribute(schema::kAttrComplete, 0);
    store.WriteIntAttribute(schema::kAttrViewsBuilt, 0);
    file.Close();
  });

  // Every rank opens the repaired file and reads the same state, so every rank makes the same
  // calls from here on.
  s.file.emplace(h5::File::Open(s.partial.string(), h5::File::Mode::kReadWrite, comm.handle()));
  s.layout = internal::ReadLayout(*s.file);  // the stored storage settings, config and sha stay
  s.committed = internal::ReadCommitted(*s.file);
  s.index_group.emplace(s.file->OpenGroup(schema::kIndexGroup));
  for (const ColumnSpec& column : s.layout.step_columns) {
    s.step_datasets.push_back(s.file->OpenDataset(internal::StorePath(column)));
  }
  for (const ColumnSpec& column : s.layout.obs_columns) {
    s.obs_datasets.push_back(s.file->OpenDataset(internal::StorePath(column)));
  }
  for (const IndexColumn& column : s.index_columns) {
    s.index_datasets.push_back(s.file->OpenDataset(column.path));
  }
  log::Info("resuming '{}' after {} committed episodes ({} steps)", s.partial.string(),
            s.committed.episodes, s.committed.steps);
  return EpisodeStoreWriter(std::move(state));
}

void EpisodeStoreWriter::AppendRound(const std::vector<EpisodeRecord>& mine,
                                     int64_t generated_through) {
  State& s = *state_;
  SIMSCALE_CHECK(!s.finalized, "AppendRound after Finalize on '{}'", s.path.string());
  mpi::RunAgreed(s.comm, [&] { CheckRecords(s.layout, mine); });

  RankCounts local{static_cast<int64_t>(mine.size()), 0,
                   mine.empty() ? -1 : mine.front().episode_index,
                   mine.empty() ? -1 : mine.back().episode_index};
  for (const EpisodeRecord& r : mine) local.steps += r.length;
  const RoundPlacement placement =
      PlaceRound(s.comm.AllGather(local), s.comm.rank(), s.committed, s.rounds, s.partial);
  if (generated_through < 0) generated_through = placement.next_index;
  if (generated_through < placement.next_index) {
    throw InvalidArgumentError(
        fmt::format("round {} of '{}': generated_through {} is below the next episode index {}",
                    s.rounds, s.partial.string(), generated_through, placement.next_index));
  }
  const CommittedCounts next{placement.episodes, placement.steps,
                             placement.episodes + placement.steps, generated_through};
  if (next.episodes == s.committed.episodes) {
    if (next.generated != s.committed.generated) {
      // Nothing stored (every episode of the round filtered out), but the generation advanced.
      internal::WriteCommitted(*s.index_group, next);
      s.file->Flush();
      s.committed = next;
    }
    ++s.rounds;
    return;
  }
  CheckRoom(
      s.comm, s.partial,
      RoundBytes(s.layout, next.steps - s.committed.steps, next.episodes - s.committed.episodes),
      s.committed.episodes);
  try {
    ExtendColumns(next.steps, next.obs_rows, next.episodes);
    s.Hook("after_extend");
    WriteRows(mine, placement.first_step, placement.first_episode, local.steps);
    s.Hook("after_data_write");
    s.file->Flush();
    s.Hook("after_data_flush");
    // Only now do readers (and a resume) see the round.
    internal::WriteCommitted(*s.index_group, next);
    s.file->Flush();
  } catch (const h5::Hdf5Error& error) {
    ThrowIfFileSystemFull(error, s.partial, s.layout, s.committed.episodes);
    throw;
  }
  s.committed = next;
  s.Hook("after_commit");
  ++s.rounds;
}

// One extent change per dataset, identical on every rank.
void EpisodeStoreWriter::ExtendColumns(int64_t steps, int64_t obs_rows, int64_t episodes) {
  State& s = *state_;
  for (size_t c = 0; c < s.layout.step_columns.size(); ++c) {
    s.step_datasets[c].SetExtent(
        Dims(static_cast<uint64_t>(steps), s.layout.step_columns[c].row_shape));
  }
  for (size_t c = 0; c < s.layout.obs_columns.size(); ++c) {
    s.obs_datasets[c].SetExtent(
        Dims(static_cast<uint64_t>(obs_rows), s.layout.obs_columns[c].row_shape));
  }
  for (h5::Dataset& dataset : s.index_datasets) {
    dataset.SetExtent({static_cast<hsize_t>(episodes)});
  }
}

// One collective write per column (this rank's episodes are contiguous in the store), then the
// index rows.
void EpisodeStoreWriter::WriteRows(const std::vector<EpisodeRecord>& mine, int64_t first_step,
                                   int64_t first_episode, int64_t steps) {
  State& s = *state_;
  const int64_t first_obs = first_step + first_episode;
  const auto write_column = [&](bool observation, size_t c, int64_t first_row, int64_t rows) {
    const ColumnSpec& column = observation ? s.layout.obs_columns[c] : s.layout.step_columns[c];
    s.scratch.resize(static_cast<size_t>(rows) * column.row_bytes());
    auto out = s.scratch.begin();
    for (const EpisodeRecord& r : mine) {
      const std::vector<uint8_t>& bytes = observation ? r.obs_data[c] : r.step_data[c];
      out = std::copy(bytes.begin(), bytes.end(), out);
    }
    const h5::Dataset& dataset = observation ? s.obs_datasets[c] : s.step_datasets[c];
    dataset.WriteRows(h5::Datatype::Native(column.dtype), static_cast<hsize_t>(first_row),
                      static_cast<hsize_t>(rows), s.scratch.data());
  };
  for (size_t c = 0; c < s.layout.step_columns.size(); ++c) {
    write_column(false, c, first_step, steps);
  }
  const auto episodes = static_cast<int64_t>(mine.size());
  for (size_t c = 0; c < s.layout.obs_columns.size(); ++c) {
    write_column(true, c, first_obs, steps + episodes);
  }
  RoundPlacement placement;
  placement.first_step = first_step;
  placement.first_episode = first_episode;
  const IndexRows rows(mine, placement, s.layout);
  for (size_t i = 0; i < s.index_columns.size(); ++i) {
    s.index_datasets[i].WriteRows(internal::IndexMemoryType(s.index_columns[i]),
                                  static_cast<hsize_t>(first_episode), mine.size(), rows.Column(i));
  }
}

void EpisodeStoreWriter::Finalize() {
  State& s = *state_;
  SIMSCALE_CHECK(!s.finalized, "Finalize called twice on '{}'", s.path.string());
  s.finalized = true;
  // The views: a group and a virtual dataset per column for each episode.
  const uint64_t columns = s.layout.step_columns.size() + 2 * s.layout.obs_columns.size() + 8;
  CheckRoom(s.comm, s.partial,
            (uint64_t{1} << 20) + static_cast<uint64_t>(s.committed.episodes) * columns * 2048,
            s.committed.episodes);
  try {
    s.CloseDatasets();
    s.file->Close();
  } catch (const h5::Hdf5Error& error) {
    ThrowIfFileSystemFull(error, s.partial, s.layout, s.committed.episodes);
    throw;
  }
  s.file.reset();
  mpi::RunAgreed(s.comm, [&] {
    if (!s.comm.is_root()) return;
    try {
      h5::File file = h5::File::Open(s.partial.string(), h5::File::Mode::kReadWrite);
      if (s.options.build_views) internal::BuildViews(file, s.options.views);
      file.OpenGroup(schema::kStoreGroup).WriteIntAttribute(schema::kAttrComplete, 1);
      file.Close();
    } catch (const h5::Hdf5Error& error) {
      ThrowIfFileSystemFull(error, s.partial, s.layout, s.committed.episodes);
      throw;
    }
    FsyncPath(s.partial);
    if (fs::exists(s.path) && !s.options.overwrite) {
      throw InvalidArgumentError(fmt::format(
          "'{}' appeared while the store was written; refusing to replace it. The complete store "
          "is in '{}'",
          s.path.string(), s.partial.string()));
    }
    RenameDurable(s.partial, s.path);
  });
  log::Info("wrote '{}': {} episodes, {} steps", s.path.string(), s.committed.episodes,
            s.committed.steps);
}

// ---------------------------------------------------------------------------------------------
// Reader

namespace {

// The index a writer leaves: episode e's steps start where episode e - 1's end, its observation
// rows one row later per earlier episode, every length >= 1, the lengths summing to the committed
// steps. Anything else is damage, refused before a read trusts a start or a length.
void CheckIndexIsContiguous(const StoreIndex& index, const CommittedCounts& counts,
                            const fs::path& path) {
  int64_t step = 0;
  for (int64_t e = 0; e < index.size(); ++e) {
    const auto k = static_cast<size_t>(e);
    const int64_t length = index.length[k];
    if (length < 1 || length > counts.steps - step || index.start_step[k] != step ||
        index.start_obs[k] != step + e) {
      throw InvalidArgumentError(fmt::format(
          "'{}': the episode index is damaged at episode {} (start_step {}, start_obs {}, length "
          "{}; expected start_step {}, start_obs {} and a length of 1 to {}); run datagen_mpi "
          "--validate for details and regenerate the file",
          path.string(), e, index.start_step[k], index.start_obs[k], length, step, step + e,
          counts.steps - step));
    }
    step += length;
  }
  if (step != counts.steps) {
    throw InvalidArgumentError(fmt::format(
        "'{}': the episode lengths sum to {} but {} steps are committed: the index is damaged; run "
        "datagen_mpi --validate for details and regenerate the file",
        path.string(), step, counts.steps));
  }
}

}  // namespace

EpisodeStoreReader::EpisodeStoreReader(const fs::path& path, const StoreReaderOptions& options)
    : path_(path), file_(OpenDatasetFile(path)), verify_(options.verify_checksums) {
  layout_ = internal::ReadLayout(file_);
  const h5::Group store = file_.OpenGroup(schema::kStoreGroup);
  complete_ = store.ReadIntAttribute(schema::kAttrComplete) == 1;
  views_built_ = store.ReadIntAttribute(schema::kAttrViewsBuilt) == 1;
  const CommittedCounts counts = internal::ReadCommitted(file_);
  if (!complete_ && !options.allow_incomplete) {
    throw InvalidArgumentError(
        fmt::format("'{}' was left by a datagen run that did not finish ({} episodes committed, "
                    "episodes@complete = 0): rerun datagen with --resume to complete it",
                    path.string(), counts.episodes));
  }
  num_steps_ = counts.steps;
  index_ = internal::ReadIndex(file_, layout_, counts.episodes);
  CheckIndexIsContiguous(index_, counts, path);
  size_t checksum_column = 0;
  for (const auto* list : {&layout_.step_columns, &layout_.obs_columns}) {
    const bool observation = list == &layout_.obs_columns;
    for (const ColumnSpec& column : *list) {
      h5::Dataset dataset = internal::OpenStoreDataset(file_, internal::StorePath(column));
      const std::vector<hsize_t> dims = dataset.dims();
      const auto dtype = dataset.datatype().AsDType();
      const int64_t rows = observation ? counts.obs_rows : counts.steps;
      const bool shape_ok =
          !dims.empty() && std::vector<uint64_t>(dims.begin() + 1, dims.end()) == column.row_shape;
      if (!shape_ok || dims[0] < static_cast<hsize_t>(rows) || dtype != column.dtype) {
        throw InvalidArgumentError(fmt::format(
            "'{}': dataset /{} is ({}) {}, expected at least {} rows of ({}) {}: the file is "
            "damaged; regenerate it with datagen_mpi",
            path.string(), internal::StorePath(column), fmt::join(dims, ", "),
            dataset.datatype().Describe(), rows, fmt::join(column.row_shape, ", "),
            DTypeName(column.dtype)));
      }
      datasets_.emplace(column.name,
                        OpenColumn{std::move(dataset), checksum_column++, observation});
    }
  }
}

const ColumnSpec& EpisodeStoreReader::column(std::string_view name) const {
  if (const ColumnSpec* column = layout_.FindColumn(name)) return *column;
  std::vector<std::string> names;
  for (const auto* list : {&layout_.step_columns, &layout_.obs_columns}) {
    for (const ColumnSpec& c : *list) names.push_back(c.name);
  }
  throw InvalidArgumentError(fmt::format("'{}' has no column '{}'; its columns are: {}",
                                         path_.string(), name, fmt::join(names, ", ")));
}

void EpisodeStoreReader::ReadRows(std::string_view name, int64_t first_row, int64_t num_rows,
                                  void* out) const {
  const ColumnSpec& spec = column(name);
  const OpenColumn& open = datasets_.find(name)->second;
  const int64_t rows = open.observation ? num_steps_ + num_episodes() : num_steps_;
  if (first_row < 0 || num_rows < 0 || first_row + num_rows > rows) {
    throw InvalidArgumentError(
        fmt::format("'{}' column '{}': rows [{}, {}) are outside its {} rows", path_.string(), name,
                    first_row, first_row + num_rows, rows));
  }
  try {
    open.dataset.ReadRows(h5::Datatype::Native(spec.dtype), static_cast<hsize_t>(first_row),
                          static_cast<hsize_t>(num_rows), out);
  } catch (const h5::Hdf5Error& error) {
    log::Debug("{}", error.what());
    ThrowUnreadable(spec, open, first_row, num_rows);
  }
  if (verify_) VerifyRows(spec, open, first_row, num_rows, out);
}

void EpisodeStoreReader::ThrowUnreadable(const ColumnSpec& spec, const OpenColumn& column,
                                         int64_t first_row, int64_t num_rows) const {
  // Find the first episode whose rows cannot be read (a damaged compressed chunk, usually).
  const std::vector<int64_t>& starts = column.observation ? index_.start_obs : index_.start_step;
  auto it = std::upper_bound(starts.begin(), starts.end(), first_row);
  if (it != starts.begin()) --it;
  std::vector<uint8_t> scratch;
  for (; it != starts.end() && *it < first_row + num_rows; ++it) {
    const auto e = static_cast<size_t>(it - starts.begin());
    const int64_t rows = index_.length[e] + (column.observation ? 1 : 0);
    scratch.resize(static_cast<size_t>(static_cast<uint64_t>(rows) * spec.row_bytes()));
    try {
      column.dataset.ReadRows(h5::Datatype::Native(spec.dtype), static_cast<hsize_t>(*it),
                              static_cast<hsize_t>(rows), scratch.data());
    } catch (const h5::Hdf5Error& error) {
      log::Debug("{}", error.what());
      throw DataIntegrityError(fmt::format(
          "'{}': column '{}' of episode {} (rows [{}, {})) cannot be read: HDF5 could not decode "
          "its stored data, which was damaged after it was written; restore the file from a copy "
          "or regenerate it with datagen_mpi",
          path_.string(), spec.name, e, *it, *it + rows));
    }
  }
  throw DataIntegrityError(fmt::format(
      "'{}': column '{}' rows [{}, {}) cannot be read (HDF5's messages are in the log at "
      "--log.level debug); restore the file from a copy or regenerate it with datagen_mpi",
      path_.string(), spec.name, first_row, first_row + num_rows));
}

void EpisodeStoreReader::VerifyRows(const ColumnSpec& spec, const OpenColumn& column,
                                    int64_t first_row, int64_t num_rows, const void* bytes) const {
  const std::vector<int64_t>& starts = column.observation ? index_.start_obs : index_.start_step;
  const auto* data = static_cast<const uint8_t*>(bytes);
  const uint64_t row_bytes = spec.row_bytes();
  for (auto it = std::lower_bound(starts.begin(), starts.end(), first_row); it != starts.end();
       ++it) {
    const auto e = static_cast<size_t>(it - starts.begin());
    const int64_t rows = index_.length[e] + (column.observation ? 1 : 0);
    if (*it + rows > first_row + num_rows) break;
    const int64_t stored = index_.checksums[column.checksum_column][e];
    const int64_t read =
        internal::RowsChecksum(data + static_cast<uint64_t>(*it - first_row) * row_bytes,
                               static_cast<size_t>(static_cast<uint64_t>(rows) * row_bytes));
    if (read != stored) {
      throw DataIntegrityError(fmt::format(
          "'{}': column '{}' of episode {} (rows [{}, {})) does not match its checksum (stored "
          "{:08x}, read {:08x}): the file was damaged after it was written; restore it from a "
          "copy or regenerate it with datagen_mpi",
          path_.string(), spec.name, e, *it, *it + rows, stored, read));
    }
  }
}

std::pair<int64_t, int64_t> EpisodeStoreReader::EpisodeRows(std::string_view name,
                                                            int64_t episode) const {
  CheckArgument(episode >= 0 && episode < num_episodes(),
                fmt::format("'{}' episode", path_.string()), episode,
                fmt::format("an index in [0, {})", num_episodes()));
  column(name);  // throws for an unknown column
  const auto e = static_cast<size_t>(episode);
  if (datasets_.find(name)->second.observation) {
    return {index_.start_obs[e], index_.length[e] + 1};
  }
  return {index_.start_step[e], index_.length[e]};
}

std::vector<uint8_t> EpisodeStoreReader::ReadRows(std::string_view name, int64_t first_row,
                                                  int64_t num_rows) const {
  std::vector<uint8_t> bytes(static_cast<size_t>(std::max<int64_t>(num_rows, 0)) *
                             column(name).row_bytes());
  ReadRows(name, first_row, num_rows, bytes.data());
  return bytes;
}

EpisodeRecord EpisodeStoreReader::ReadEpisode(int64_t episode) const {
  CheckArgument(episode >= 0 && episode < num_episodes(),
                fmt::format("'{}' episode", path_.string()), episode,
                fmt::format("an index in [0, {})", num_episodes()));
  const size_t e = static_cast<size_t>(episode);
  EpisodeRecord record;
  record.episode_index = index_.episode_index[e];
  record.seed = index_.seed[e];
  record.length = index_.length[e];
  record.success = index_.success[e] != 0;
  record.diverged = index_.diverged[e] != 0;
  record.episode_return = index_.episode_return[e];
  record.language = index_.language[e];
  for (const std::vector<double>& values : index_.dr_values) record.dr_values.push_back(values[e]);
  for (const ColumnSpec& column : layout_.step_columns) {
    record.step_data.push_back(ReadRows(column.name, index_.start_step[e], record.length));
  }
  for (const ColumnSpec& column : layout_.obs_columns) {
    record.obs_data.push_back(ReadRows(column.name, index_.start_obs[e], record.length + 1));
  }
  return record;
}

}  // namespace simscale::io
