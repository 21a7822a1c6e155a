// Reading a store the way train_ddp does (whole columns through EpisodeStoreReader, and the
// whole TrajectoryDataset load), with and without checksum verification, plus the checksum alone
// against byte-wise FNV-1a (benchmarks/RESULTS.md, "Store checksums"). The file is written once,
// then read from the page cache: the fastest reads, so the largest relative cost of verifying.
#include <benchmark/benchmark.h>
#include <mpi.h>

#include <filesystem>
#include <string>
#include <vector>

#include "common/core/hash.h"
#include "common/io/checksum.h"
#include "common/io/episode_store.h"
#include "common/train/dataset.h"

namespace simscale::io {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kEpisodes = 200;
constexpr int64_t kLength = 200;

// robomimic-like low-dim columns (the notes' probe) plus one 64x64 RGB camera.
StoreLayout BenchLayout() {
  StoreLayout layout;
  layout.env_name = "Bench";
  layout.step_columns = {ColumnSpec::LowDim("actions", DType::kFloat32, {4}),
                         ColumnSpec::LowDim("rewards", DType::kFloat32, {}),
                         ColumnSpec::LowDim("dones", DType::kUInt8, {}),
                         ColumnSpec::LowDim("states", DType::kFloat32, {25})};
  for (const auto& [key, width] : std::vector<std::pair<std::string, uint64_t>>{
           {"a", 7}, {"b", 7}, {"c", 3}, {"d", 3}, {"e", 3}, {"f", 1}}) {
    layout.obs_columns.push_back(ColumnSpec::LowDim("obs/" + key, DType::kFloat32, {width}));
  }
  layout.obs_columns.push_back(ColumnSpec::Image("obs/agentview_image", 64, 64, 3));
  return layout;
}

EpisodeRecord BenchEpisode(const StoreLayout& layout, int64_t e) {
  EpisodeRecord r;
  r.episode_index = e;
  r.length = kLength;
  for (const auto* list : {&layout.step_columns, &layout.obs_columns}) {
    const int64_t rows = list == &layout.obs_columns ? kLength + 1 : kLength;
    for (const ColumnSpec& column : *list) {
      std::vector<uint8_t> bytes(static_cast<size_t>(rows) * column.row_bytes());
      for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7 + e);
      if (column.name == "dones") bytes.back() = 1;
      (list == &layout.obs_columns ? r.obs_data : r.step_data).push_back(std::move(bytes));
    }
  }
  return r;
}

const fs::path& BenchFile() {
  static const fs::path path = [] {
    const fs::path p = fs::temp_directory_path() / "simscale_store_read_bench.h5";
    fs::remove(p);
    const StoreLayout layout = BenchLayout();
    StoreWriterOptions options;
    options.build_views = false;
    EpisodeStoreWriter writer =
        EpisodeStoreWriter::Create(p, mpi::Communicator(MPI_COMM_SELF), layout, options);
    for (int64_t first = 0; first < kEpisodes; first += 20) {
      std::vector<EpisodeRecord> round;
      for (int64_t e = first; e < first + 20; ++e) round.push_back(BenchEpisode(layout, e));
      writer.AppendRound(round);
    }
    writer.Finalize();
    return p;
  }();
  return path;
}

// Every low-dim column whole, as TrajectoryDataset::LoadStore reads them.
void BM_ReadLowDimColumns(benchmark::State& state) {
  StoreReaderOptions options;
  options.verify_checksums = state.range(0) != 0;
  const EpisodeStoreReader reader(BenchFile(), options);
  std::vector<uint8_t> buffer;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (const auto* list : {&reader.layout().step_columns, &reader.layout().obs_columns}) {
      for (const ColumnSpec& column : *list) {
        if (column.row_shape.size() > 1) continue;  // the image
        const bool obs = list == &reader.layout().obs_columns;
        const int64_t rows = reader.num_steps() + (obs ? reader.num_episodes() : 0);
        buffer.resize(static_cast<size_t>(rows) * column.row_bytes());
        reader.ReadRows(column.name, 0, rows, buffer.data());
        bytes += static_cast<int64_t>(buffer.size());
      }
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReadLowDimColumns)->ArgName("verify")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// The image column, one whole episode per read (what the image loader verifies on first touch).
void BM_ReadImageEpisodes(benchmark::State& state) {
  StoreReaderOptions options;
  options.verify_checksums = state.range(0) != 0;
  const EpisodeStoreReader reader(BenchFile(), options);
  std::vector<uint8_t> buffer;
  int64_t bytes = 0;
  for (auto _ : state) {
    for (int64_t e = 0; e < reader.num_episodes(); ++e) {
      const auto [first, rows] = reader.EpisodeRows("obs/agentview_image", e);
      buffer.resize(static_cast<size_t>(rows) * 64 * 64 * 3);
      reader.ReadRows("obs/agentview_image", first, rows, buffer.data());
      bytes += static_cast<int64_t>(buffer.size());
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  state.SetBytesProcessed(bytes);
}
BENCHMARK(BM_ReadImageEpisodes)->ArgName("verify")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

// What train_ddp does at start-up: TrajectoryDataset loads every low-dim column and splits it
// into episodes (float conversion included); images stay on disk.
void BM_LoadTrainingDataset(benchmark::State& state) {
  train::DatasetOptions options;
  options.split = "all";
  options.verify_checksums = state.range(0) != 0;
  int64_t samples = 0;
  for (auto _ : state) {
    const train::TrajectoryDataset dataset(BenchFile(), options);
    samples += dataset.num_samples();
  }
  state.SetItemsProcessed(samples);
}
BENCHMARK(BM_LoadTrainingDataset)->ArgName("verify")->Arg(0)->Arg(1)->Unit(benchmark::kMillisecond);

void BM_Checksum(benchmark::State& state) {
  std::vector<uint8_t> bytes(1 << 20);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31);
  for (auto _ : state) {
    benchmark::DoNotOptimize(state.range(0) == 0 ? uint64_t{Crc32c(bytes.data(), bytes.size())}
                                                 : Fnv1a(bytes.data(), bytes.size()));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) *
                          static_cast<int64_t>(bytes.size()));
  state.SetLabel(state.range(0) == 0 ? "CRC-32C (SSE4.2)" : "FNV-1a 64, byte-wise");
}
BENCHMARK(BM_Checksum)->ArgName("fnv")->Arg(0)->Arg(1);

}  // namespace
}  // namespace simscale::io

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  std::filesystem::remove(simscale::io::BenchFile());
  MPI_Finalize();
  return 0;
}
