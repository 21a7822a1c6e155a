#include "tests/golden/golden.h"

#include <fmt/format.h>
#include <mujoco/mujoco.h>
#include <torch/version.h>

#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "common/core/atomic_file.h"
#include "common/core/error.h"
#include "common/io/checksum.h"
#include "common/io/episode_store.h"
#include "tests/support/process.h"

namespace simscale::golden {
namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using testing_support::MpiRun;
using testing_support::RunProcess;
using testing_support::ToolPath;

// Doubles as exact decimal text: %.17g reads back to the same bits.
std::string Exact(double value) { return fmt::format("{:.17g}", value); }

std::string SourcePath(const std::string& relative) {
  return (fs::path(SIMSCALE_SOURCE_DIR) / relative).string();
}

testing_support::ProcessResult RunOrThrow(const std::string& command) {
  auto result = RunProcess(command, 240);
  if (result.exit_code != 0) {
    throw Error(fmt::format("'{}' exited with {}:\n{}", command, result.exit_code, result.output));
  }
  return result;
}

// "egl_device (llvmpipe (LLVM 15.0.6, 256 bits))" from datagen's first info line.
std::string Renderer(const std::string& output) {
  static const std::regex kVia(R"(cameras \[[^\]]*\] via (.*) -> )");
  std::smatch match;
  return std::regex_search(output, match, kVia) ? match[1].str() : "unknown";
}

json EpisodeDigest(const io::EpisodeStoreReader& reader, size_t e) {
  const io::StoreIndex& index = reader.index();
  const io::StoreLayout& layout = reader.layout();
  json episode = {{"episode", index.episode_index[e]},
                  {"length", index.length[e]},
                  {"seed", index.seed[e]},
                  {"success", index.success[e]},
                  {"return", Exact(index.episode_return[e])}};
  json dr = json::object();
  for (size_t d = 0; d < layout.dr_value_names.size(); ++d) {
    dr[layout.dr_value_names[d]] = Exact(index.dr_values[d][e]);
  }
  episode["dr"] = dr;
  json checksums = json::object();
  size_t c = 0;
  for (const auto* columns : {&layout.step_columns, &layout.obs_columns}) {
    for (const io::ColumnSpec& column : *columns) {
      checksums[column.name] = index.checksums[c++][e];
    }
  }
  episode["checksums"] = checksums;
  return episode;
}

}  // namespace

json Versions() { return {{"mujoco", mj_versionString()}, {"libtorch", TORCH_VERSION}}; }

json RunDatagen(int ranks, const fs::path& output) {
  const std::string command =
      (ranks > 1 ? MpiRun(ranks) : std::string()) + ToolPath("datagen_mpi") + " --config " +
      SourcePath("configs/datagen_pick_place_debug.yaml") +
      " --episodes 4 --seed 11 --dr default --cameras agentview --set datagen.image_size=16"
      " --plots false --overwrite --log.level info --output " +
      output.string();
  const auto result = RunOrThrow(command);
  // Reading every row of every column verifies the stored checksums against the data.
  const io::EpisodeStoreReader reader(output);
  for (const auto* columns : {&reader.layout().step_columns, &reader.layout().obs_columns}) {
    for (const io::ColumnSpec& column : *columns) {
      const bool observation = column.name.rfind("obs/", 0) == 0;
      static_cast<void>(reader.ReadRows(
          column.name, 0, reader.num_steps() + (observation ? reader.num_episodes() : 0)));
    }
  }
  json episodes = json::array();
  for (int64_t e = 0; e < reader.num_episodes(); ++e) {
    episodes.push_back(EpisodeDigest(reader, static_cast<size_t>(e)));
  }
  return {{"versions", Versions()}, {"renderer", Renderer(result.output)}, {"episodes", episodes}};
}

json RunTrain(const fs::path& dataset, const fs::path& run) {
  const std::string command =
      ToolPath("train_ddp") + " --config " + SourcePath("configs/bc_pick_place_debug.yaml") +
      " --dataset " + dataset.string() + " --output " + run.string() +
      " --steps 20 --seed 3 --set train.log_every=1 --set train.threads=1 --set train.device=cpu"
      " --plots false --overwrite --log.level warn";
  RunOrThrow(command);
  json steps = json::array();
  std::ifstream metrics(run / "metrics.jsonl");
  for (std::string line; std::getline(metrics, line);) {
    const json m = json::parse(line);
    // As train_ddp writes them (6 significant digits): the text, not a re-rounded double.
    steps.push_back({{"step", m.at("step")},
                     {"loss", m.at("loss").dump()},
                     {"lr", m.at("lr").dump()},
                     {"grad_norm", m.at("grad_norm").dump()}});
  }
  const json summary = json::parse(ReadFile(run / "summary.json"));
  const std::string model = ReadFile(run / "checkpoints/step_000000020/model.pt");
  return {{"versions", Versions()},
          {"steps", steps},
          {"summary_final_loss", Exact(summary.at("final_loss").get<double>())},
          {"weights_crc32c", io::Crc32c(model.data(), model.size())}};
}

namespace {

// The name of element i of an array: "episode 2" or "step 5" when it carries one.
std::string ElementName(const json& element, size_t i) {
  for (const char* key : {"episode", "step"}) {
    if (element.is_object() && element.contains(key)) {
      return fmt::format("{} {}", key, element.at(key).dump());
    }
  }
  return fmt::format("[{}]", i);
}

std::string Difference(const json& expected, const json& actual, const std::string& where) {
  // Numbers as their text: a parsed checksum is unsigned, a computed one signed.
  if (expected.is_number() && actual.is_number()) {
    return expected.dump() == actual.dump()
               ? ""
               : fmt::format("{}: expected {}, got {}", where, expected.dump(), actual.dump());
  }
  if (expected.type() != actual.type()) {
    return fmt::format("{}: expected {}, got {}", where, expected.dump(), actual.dump());
  }
  if (expected.is_object()) {
    for (const auto& [key, value] : expected.items()) {
      if (!actual.contains(key)) return fmt::format("{}: {} is missing", where, key);
      const std::string found = Difference(value, actual.at(key), where + " / " + key);
      if (!found.empty()) return found;
    }
    for (const auto& [key, value] : actual.items()) {
      if (!expected.contains(key)) return fmt::format("{}: unexpected {}", where, key);
    }
    return "";
  }
  if (expected.is_array()) {
    for (size_t i = 0; i < std::min(expected.size(), actual.size()); ++i) {
      const std::string found =
          Difference(expected[i], actual[i], where + " / " + ElementName(expected[i], i));
      if (!found.empty()) return found;
    }
    if (expected.size() != actual.size()) {
      return fmt::format("{}: expected {} entries, got {}", where, expected.size(), actual.size());
    }
    return "";
  }
  return expected == actual
             ? ""
             : fmt::format("{}: expected {}, got {}", where, expected.dump(), actual.dump());
}

}  // namespace

std::string FirstDifference(const json& expected, const json& actual) {
  return Difference(expected, actual, "");
}

json WithoutImages(json digest) {
  for (json& episode : digest.at("episodes")) {
    json kept = json::object();
    for (const auto& [name, value] : episode.at("checksums").items()) {
      if (name.find("image") == std::string::npos && name.find("depth") == std::string::npos) {
        kept[name] = value;
      }
    }
    episode["checksums"] = kept;
  }
  digest.erase("renderer");
  return digest;
}

}  // namespace simscale::golden
