// Cost of the episode store's write path under mpirun: one AppendRound (extents, one collective
// write per column, index, flush, commit, flush) for low-dimensional episodes and for episodes
// with a 128x128x3 camera, at several episodes per rank and round; and the serial cost of
// building the robomimic views, per episode. An MPI program rather than a Google Benchmark
// binary: every rank must run exactly the same rounds.
//
//   mpirun -n N io_bench [--data lowdim|images] [--episodes-per-rank K] [--length T]
//                        [--rounds R] [--gzip-lowdim L] [--gzip-images L] [--chunk-rows C]
//                        [--dir DIR] [--summary]
//
// Prints one Markdown table row (see benchmarks/run_io_bench.sh for the header), or with
// --summary one IO_BENCH_SUMMARY key=value line (for benchmarks/sweep io).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "common/app/tool.h"
#include "common/core/random.h"
#include "common/io/episode_store.h"
#include "common/mpi/mpi.h"

namespace simscale {
namespace {

namespace fs = std::filesystem;

struct BenchOptions {
  app::RunOptions run;          // only its log options
  std::string data = "lowdim";  // lowdim or images
  int64_t episodes_per_rank = 8;
  int64_t length = 200;
  int64_t rounds = 12;
  int gzip_lowdim = 0;
  int gzip_images = 0;
  int64_t chunk_rows = 0;  // low-dim columns; 0 = the schema's rule
  std::string dir = ".";
  bool summary = false;

  bool images() const { return data == "images"; }
};

void DeclareOptions(config::Schema* schema, BenchOptions* o) {
  app::AddLogOptions(schema, &o->run);
  schema->Add("bench.data", &o->data, "episode content: low-dimensional only, or with a camera")
      .OneOf({"lowdim", "images"})
      .Flag("data");
  schema
      ->Add("bench.episodes_per_rank", &o->episodes_per_rank,
            "episodes each rank appends per round")
      .Min(1)
      .Flag("episodes-per-rank");
  schema->Add("bench.length", &o->length, "steps per episode").Min(1).Flag("length");
  schema->Add("bench.rounds", &o->rounds, "timed rounds (after 2 warm-up rounds)")
      .Min(1)
      .Flag("rounds");
  schema->Add("bench.gzip_lowdim", &o->gzip_lowdim, "deflate level of low-dimensional columns")
      .Min(0)
      .Max(9)
      .Flag("gzip-lowdim");
  schema->Add("bench.gzip_images", &o->gzip_images, "deflate level of the image column")
      .Min(0)
      .Max(9)
      .Flag("gzip-images");
  schema
      ->Add("bench.chunk_rows", &o->chunk_rows,
            "chunk rows of low-dimensional columns (0: the schema's rule)")
      .Min(0)
      .Flag("chunk-rows");
  schema->Add("bench.dir", &o->dir, "directory of the scratch file").NonEmpty().Flag("dir");
  schema
      ->Add("bench.summary", &o->summary,
            "print one machine-readable IO_BENCH_SUMMARY line instead of the Markdown row")
      .Flag("summary");
}

// A Franka-like layout: 7-D actions, 32 state values, six low-dim observation keys (33 floats),
// and optionally one 128x128 RGB camera.
io::StoreLayout BenchLayout(const BenchOptions& options) {
  const auto low = [&](std::string name, io::DType dtype, std::vector<uint64_t> shape) {
    io::ColumnSpec spec = io::ColumnSpec::LowDim(std::move(name), dtype, std::move(shape));
    spec.gzip_level = options.gzip_lowdim;
    spec.chunk_rows = static_cast<uint64_t>(options.chunk_rows);
    return spec;
  };
  io::StoreLayout layout;
  layout.step_columns = {
      low("actions", io::DType::kFloat32, {7}), low("rewards", io::DType::kFloat32, {}),
      low("dones", io::DType::kUInt8, {}), low("states", io::DType::kFloat64, {32})};
  layout.obs_columns = {low("obs/ee_pos", io::DType::kFloat32, {3}),
                        low("obs/ee_quat", io::DType::kFloat32, {4}),
                        low("obs/joint_pos", io::DType::kFloat32, {7}),
                        low("obs/joint_vel", io::DType::kFloat32, {7}),
                        low("obs/gripper", io::DType::kFloat32, {2}),
                        low("obs/object", io::DType::kFloat32, {10})};
  if (options.images()) {
    layout.obs_columns.push_back(
        io::ColumnSpec::Image("obs/agentview_image", 128, 128, 3, options.gzip_images));
  }
  layout.dr_value_names = {"friction", "mass_scale", "light"};
  layout.env_name = "BenchReach";
  return layout;
}

// Smooth trajectories with a little sensor noise (floats compress about as badly as real joint
// data); images are gradients with noise in the low two bits.
io::EpisodeRecord MakeEpisode(const io::StoreLayout& layout, int64_t episode, int64_t length) {
  RandomStream noise(1, static_cast<uint64_t>(episode), StreamPurpose::kTest);
  io::EpisodeRecord record;
  record.episode_index = episode;
  record.seed = episode;
  record.length = length;
  record.success = episode % 2 == 0;
  record.language = fmt::format("pick up the cube and place it at target {}", episode);
  record.dr_values = {0.5, 1.0, 0.8};
  const auto floats = [&](int64_t rows, uint64_t width) {
    std::vector<float> values;
    values.reserve(static_cast<size_t>(rows) * width);
    for (int64_t t = 0; t < rows; ++t) {
      for (uint64_t j = 0; j < width; ++j) {
        values.push_back(
            static_cast<float>(std::sin(0.02 * static_cast<double>(t) * static_cast<double>(j + 1) +
                                        static_cast<double>(episode)) +
                               0.001 * noise.Normal()));
      }
    }
    return values;
  };
  for (const io::ColumnSpec& column : layout.step_columns) {
    if (column.name == "dones") {
      std::vector<uint8_t> dones(static_cast<size_t>(length), 0);
      dones.back() = 1;
      record.step_data.push_back(dones);
    } else if (column.dtype == io::DType::kFloat64) {
      const std::vector<float> f = floats(length, column.row_elements());
      record.step_data.push_back(io::ToBytes(std::vector<double>(f.begin(), f.end())));
    } else {
      record.step_data.push_back(io::ToBytes(floats(length, column.row_elements())));
    }
  }
  for (const io::ColumnSpec& column : layout.obs_columns) {
    if (column.dtype == io::DType::kUInt8) {
      std::vector<uint8_t> pixels(static_cast<size_t>(length + 1) * column.row_elements());
      size_t i = 0;
      for (int64_t t = 0; t <= length; ++t) {
        for (uint64_t y = 0; y < 128; ++y) {
          for (uint64_t x = 0; x < 128 * 3; ++x) {
            const uint64_t base = (x * 2 + y + static_cast<uint64_t>(t + episode * 13)) & 0xFC;
            pixels[i++] = static_cast<uint8_t>(base | (noise.NextU32() & 3));
          }
        }
      }
      record.obs_data.push_back(std::move(pixels));
    } else {
      record.obs_data.push_back(io::ToBytes(floats(length + 1, column.row_elements())));
    }
  }
  return record;
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// One Markdown row, or with --summary one key=value line.
void PrintResult(const BenchOptions& options, int ranks, const std::vector<double>& round_seconds,
                 int64_t per_round, double mb_per_round, double views_ms_per_episode,
                 double file_mb) {
  const double median = Median(round_seconds);
  const double min = *std::min_element(round_seconds.begin(), round_seconds.end());
  const double max = *std::max_element(round_seconds.begin(), round_seconds.end());
  if (options.summary) {
    fmt::print(
        "IO_BENCH_SUMMARY ranks={} episodes_per_round={} mb_per_round={:.4f} median_ms={:.4f} "
        "min_ms={:.4f} max_ms={:.4f} ms_per_episode={:.4f} mb_per_s={:.3f} "
        "views_ms_per_episode={:.4f} file_mb={:.3f}\n",
        ranks, per_round, mb_per_round, 1e3 * median, 1e3 * min, 1e3 * max,
        1e3 * median / static_cast<double>(per_round), mb_per_round / median, views_ms_per_episode,
        file_mb);
    return;
  }
  fmt::print(
      "| {} | {} | {} | {} | {} | {} | {:.1f} | {:.1f} | {:.1f}–{:.1f} | {:.2f} | {:.0f} | "
      "{:.2f} | {:.1f} |\n",
      ranks, options.images() ? "128x128x3 img" : "low-dim",
      options.images() ? fmt::format("{} / img {}", options.gzip_lowdim, options.gzip_images)
      : options.chunk_rows > 0
          ? fmt::format("{}, chunk {}", options.gzip_lowdim, options.chunk_rows)
          : fmt::format("{}", options.gzip_lowdim),
      options.length, options.episodes_per_rank, per_round, mb_per_round, 1e3 * median, 1e3 * min,
      1e3 * max, 1e3 * median / static_cast<double>(per_round), mb_per_round / median,
      views_ms_per_episode, file_mb);
}

int Run(const BenchOptions& options, const mpi::Communicator& comm) {
  const io::StoreLayout layout = BenchLayout(options);
  const fs::path path = fs::path(options.dir) / fmt::format("io_bench_{}_{}ranks_{}.h5",
                                                            options.images() ? "images" : "lowdim",
                                                            comm.size(), options.episodes_per_rank);
  io::StoreWriterOptions writer_options;
  writer_options.overwrite = true;
  writer_options.build_views = false;  // timed separately below

  // The rank's episodes, generated once; only their indices change between rounds.
  std::vector<io::EpisodeRecord> mine;
  for (int64_t k = 0; k < options.episodes_per_rank; ++k) {
    mine.push_back(
        MakeEpisode(layout, comm.rank() * options.episodes_per_rank + k, options.length));
  }
  uint64_t bytes_per_episode = 0;
  for (const auto& column : mine.front().step_data) bytes_per_episode += column.size();
  for (const auto& column : mine.front().obs_data) bytes_per_episode += column.size();

  io::EpisodeStoreWriter writer =
      io::EpisodeStoreWriter::Create(path, comm, layout, writer_options);
  constexpr int kWarmupRounds = 2;
  std::vector<double> round_seconds;
  for (int64_t round = 0; round < options.rounds + kWarmupRounds; ++round) {
    const int64_t first = writer.committed_episodes() + comm.rank() * options.episodes_per_rank;
    for (int64_t k = 0; k < options.episodes_per_rank; ++k) {
      mine[static_cast<size_t>(k)].episode_index = first + k;
    }
    comm.Barrier();
    const auto start = std::chrono::steady_clock::now();
    writer.AppendRound(mine);
    const double seconds = comm.AllReduce(Seconds(start), mpi::ReduceOp::kMax);
    if (round >= kWarmupRounds) round_seconds.push_back(seconds);
  }
  const int64_t episodes = writer.committed_episodes();
  writer.Finalize();

  if (comm.is_root()) {
    const auto start = std::chrono::steady_clock::now();
    io::BuildRobomimicViews(path);
    const double views_ms_per_episode = 1e3 * Seconds(start) / static_cast<double>(episodes);
    const int64_t per_round = options.episodes_per_rank * comm.size();
    const double mb_per_round =
        static_cast<double>(bytes_per_episode * static_cast<uint64_t>(per_round)) / 1e6;
    PrintResult(options, comm.size(), round_seconds, per_round, mb_per_round, views_ms_per_episode,
                static_cast<double>(fs::file_size(path)) / 1e6);
    fs::remove(path);
  }
  return 0;
}

}  // namespace
}  // namespace simscale

int main(int argc, char** argv) {
  return simscale::mpi::RunMain(argc, argv, [&](simscale::mpi::Context& context) {
    simscale::BenchOptions options;
    simscale::config::Schema schema("io_bench",
                                    "cost of the episode store's write path under mpirun");
    simscale::DeclareOptions(&schema, &options);
    if (!simscale::app::ParseConfig(&schema, options.run, context.world(), argc, argv)) return 0;
    return simscale::Run(options, context.world());
  });
}
