// robomimic's view of a store: data/demo_<i> groups whose datasets are virtual slices of the
// store's columns, and the train/valid masks. Built serially (rank 0) once the store is closed.
#include <algorithm>
#include <cmath>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/core/error.h"
#include "common/core/random.h"
#include "common/io/episode_store.h"
#include "common/io/store_format.h"

namespace simscale::io {

std::vector<int64_t> ValidEpisodes(int64_t num_episodes, const ViewOptions& options) {
  CheckArgument(options.valid_fraction >= 0.0 && options.valid_fraction < 1.0, "valid_fraction",
                options.valid_fraction, "a number in [0, 1)");
  CheckArgument(num_episodes >= 0, "number of episodes", num_episodes, "a count >= 0");
  int64_t count =
      static_cast<int64_t>(std::floor(options.valid_fraction * static_cast<double>(num_episodes)));
  if (options.valid_fraction > 0.0 && num_episodes >= 2) count = std::max<int64_t>(count, 1);
  count = std::min(count, std::max<int64_t>(num_episodes - 1, 0));
  // The first `count` entries of a seeded Fisher-Yates shuffle.
  std::vector<int64_t> order(static_cast<size_t>(num_episodes));
  for (int64_t i = 0; i < num_episodes; ++i) order[static_cast<size_t>(i)] = i;
  RandomStream stream(options.split_seed, 0, StreamPurpose::kDataShuffle);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t j = stream.UniformInt(i, num_episodes - 1);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(j)]);
  }
  order.resize(static_cast<size_t>(count));
  std::sort(order.begin(), order.end());
  return order;
}

namespace internal {
namespace {

void WriteNames(const h5::Group& group, std::string_view name,
                const std::vector<std::string>& names) {
  size_t width = 1;
  for (const std::string& n : names) width = std::max(width, n.size());
  std::vector<char> packed(names.size() * width, '\0');
  for (size_t i = 0; i < names.size(); ++i) {
    std::copy(names[i].begin(), names[i].end(), packed.begin() + static_cast<ptrdiff_t>(i * width));
  }
  const h5::Datatype type = h5::Datatype::FixedString(width);
  const h5::Dataset dataset =
      group.CreateDataset(name, type, h5::Dataspace::Simple({names.size()}));
  if (!names.empty()) dataset.WriteAll(type, packed.data());
}

// robomimic's env_args: {"env_name", "type", "env_kwargs"}, members in robomimic's order.
std::string EnvArgsJson(const StoreLayout& layout) {
  nlohmann::ordered_json env_kwargs;
  try {
    env_kwargs = nlohmann::ordered_json::parse(layout.env_kwargs_json);
  } catch (const nlohmann::json::exception& error) {
    throw InvalidArgumentError(fmt::format("/{}@{}: expected a JSON object, got '{}': {}",
                                           schema::kStoreGroup, schema::kAttrEnvKwargs,
                                           layout.env_kwargs_json, error.what()));
  }
  const nlohmann::ordered_json env_args = {{"env_name", layout.env_name},
                                           {"type", schema::kEnvTypeGym},
                                           {"env_kwargs", std::move(env_kwargs)}};
  return env_args.dump();
}

}  // namespace

void BuildViews(const h5::File& file, const ViewOptions& options) {
  const StoreLayout layout = ReadLayout(file);
  const CommittedCounts counts = ReadCommitted(file);
  const StoreIndex index = ReadIndex(file, layout, counts.episodes);
  for (const std::string_view group : {schema::kViewsGroup, schema::kMaskGroup}) {
    if (file.Exists(group)) file.Unlink(group);
  }

  const h5::Group data = file.CreateGroup(schema::kViewsGroup);
  data.WriteStringAttribute(schema::kAttrEnvArgs, EnvArgsJson(layout));
  data.WriteIntAttribute(schema::kAttrTotal, counts.steps);
  data.WriteIntAttribute(schema::kAttrViewSchemaVersion, schema::kVersion);
  data.WriteStringAttribute(schema::kAttrViewConfigYaml, layout.resolved_config_yaml);
  data.WriteStringAttribute(schema::kAttrViewGitSha, layout.git_sha);

  std::vector<h5::Datatype> step_types;
  std::vector<h5::Datatype> obs_types;
  for (const ColumnSpec& column : layout.step_columns) {
    step_types.push_back(h5::Datatype::Stored(column.dtype));
  }
  for (const ColumnSpec& column : layout.obs_columns) {
    obs_types.push_back(h5::Datatype::Stored(column.dtype));
  }
  std::vector<std::string> demo_names;
  for (int64_t e = 0; e < counts.episodes; ++e) {
    const size_t i = static_cast<size_t>(e);
    const uint64_t length = static_cast<uint64_t>(index.length[i]);
    const hsize_t start_step = static_cast<hsize_t>(index.start_step[i]);
    const hsize_t start_obs = static_cast<hsize_t>(index.start_obs[i]);
    demo_names.push_back(schema::DemoName(e));
    // Objects are closed as soon as they are made: 1.10 misbehaves with many open objects.
    const h5::Group demo = data.CreateGroup(demo_names.back());
    demo.WriteIntAttribute(schema::kAttrNumSamples, index.length[i]);
    demo.WriteIntAttribute(schema::kSeed, index.seed[i]);
    demo.WriteIntAttribute(schema::kSuccess, index.success[i]);
    demo.WriteIntAttribute(schema::kDiverged, index.diverged[i]);
    demo.WriteIntAttribute(schema::kEpisodeIndex, index.episode_index[i]);
    demo.WriteStringAttribute(schema::kLanguage, index.language[i]);
    for (size_t d = 0; d < layout.dr_value_names.size(); ++d) {
      demo.WriteDoubleAttribute(
          fmt::format("{}{}", schema::kAttrDrPrefix, layout.dr_value_names[d]),
          index.dr_values[d][i]);
    }
    for (size_t c = 0; c < layout.step_columns.size(); ++c) {
      const ColumnSpec& column = layout.step_columns[c];
      demo.CreateVirtualDataset(column.name, step_types[c],
                                h5::Dataspace::Simple(Dims(length, column.row_shape)),
                                {{".", "/" + StorePath(column), start_step, length}});
    }
    for (size_t c = 0; c < layout.obs_columns.size(); ++c) {
      const ColumnSpec& column = layout.obs_columns[c];
      const std::string key = column.name.substr(schema::kObsPrefix.size());
      const h5::Dataspace space = h5::Dataspace::Simple(Dims(length, column.row_shape));
      const std::string source = "/" + StorePath(column);
      demo.CreateVirtualDataset(column.name, obs_types[c], space,
                                {{".", source, start_obs, length}});
      demo.CreateVirtualDataset(fmt::format("{}{}", schema::kNextObsPrefix, key), obs_types[c],
                                space, {{".", source, start_obs + 1, length}});
    }
  }

  const std::vector<int64_t> valid = ValidEpisodes(counts.episodes, options);
  std::vector<std::string> train_names;
  std::vector<std::string> valid_names;
  size_t next_valid = 0;
  for (int64_t e = 0; e < counts.episodes; ++e) {
    if (next_valid < valid.size() && valid[next_valid] == e) {
      valid_names.push_back(demo_names[static_cast<size_t>(e)]);
      ++next_valid;
    } else {
      train_names.push_back(demo_names[static_cast<size_t>(e)]);
    }
  }
  const h5::Group mask = file.CreateGroup(schema::kMaskGroup);
  mask.WriteDoubleAttribute(schema::kAttrValidFraction, options.valid_fraction);
  mask.WriteIntAttribute(schema::kAttrSplitSeed, static_cast<int64_t>(options.split_seed));
  WriteNames(mask, schema::kMaskTrain, train_names);
  WriteNames(mask, schema::kMaskValid, valid_names);
  file.OpenGroup(schema::kStoreGroup).WriteIntAttribute(schema::kAttrViewsBuilt, 1);
}

}  // namespace internal

void BuildRobomimicViews(const std::filesystem::path& path, const ViewOptions& options) {
  h5::File file = h5::File::Open(path.string(), h5::File::Mode::kReadWrite);
  internal::BuildViews(file, options);
  file.Close();
}

}  // namespace simscale::io
