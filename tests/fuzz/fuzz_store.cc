// libFuzzer target: the dataset store's reader and validator on damaged stores. HDF5 1.10.8 is not
// hardened against hostile bytes (mutating raw file bytes crashes libhdf5 itself within a minute,
// e.g. memcpy-param-overlap in H5HG_read), so, as checkpoints, dataset files are trusted to be
// HDF5; what this target attacks is our code above HDF5: every attribute and dataset value the
// store reads. The input is an edit script applied through the HDF5 API to a copy of a valid store
// (SIMSCALE_FUZZ_STORE names it; scripts/fuzz.sh writes one with io_store_probe): rewrite an
// attribute with fuzzed bytes or text, rewrite elements of a dataset, delete an attribute or a
// link. Contract: the validator reports problems and never throws; the readers either read or throw
// a simscale::Error; nothing crashes, nothing allocates without bound (-rss_limit_mb).
#include <fuzzer/FuzzedDataProvider.h>
#include <hdf5.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/core/error.h"
#include "common/io/episode_store.h"
#include "common/io/robomimic_reader.h"
#include "common/io/validate.h"

namespace {
namespace fs = std::filesystem;

struct Target {
  std::string object;     // path in the file
  std::string attribute;  // empty: the dataset itself
};

fs::path ScratchFile() {
  const char* dir = std::getenv("TMPDIR");
  return fs::path(dir != nullptr ? dir : "/tmp") /
         ("simscale_fuzz_store_" + std::to_string(getpid()) + ".h5");
}

herr_t CollectAttribute(hid_t, const char* name, const H5A_info_t*, void* data) {
  auto* context = static_cast<std::pair<std::string, std::vector<Target>*>*>(data);
  context->second->push_back({context->first, name});
  return 0;
}

herr_t CollectObject(hid_t root, const char* name, const H5O_info_t* info, void* data) {
  auto* targets = static_cast<std::vector<Target>*>(data);
  const std::string path = std::string(name) == "." ? "/" : "/" + std::string(name);
  if (info->type == H5O_TYPE_DATASET) targets->push_back({path, ""});
  std::pair<std::string, std::vector<Target>*> context{path, targets};
  hsize_t index = 0;
  H5Aiterate_by_name(root, name, H5_INDEX_NAME, H5_ITER_INC, &index, CollectAttribute, &context,
                     H5P_DEFAULT);
  return 0;
}

// Every dataset and attribute of the seed store, in a fixed order.
std::vector<Target> Targets(const fs::path& seed) {
  std::vector<Target> targets;
  const hid_t file = H5Fopen(seed.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  if (file < 0) std::abort();
  H5Ovisit(file, H5_INDEX_NAME, H5_ITER_INC, CollectObject, &targets);
  H5Fclose(file);
  return targets;
}

// Writes `bytes` over the attribute with its own type: a new string for a string attribute
// (recreated as a variable-length string), the raw bytes of its elements otherwise.
void EditAttribute(hid_t file, const Target& t, FuzzedDataProvider& in) {
  const hid_t attr =
      H5Aopen_by_name(file, t.object.c_str(), t.attribute.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  if (attr < 0) return;
  const hid_t type = H5Aget_type(attr);
  const hid_t space = H5Aget_space(attr);
  if (H5Tget_class(type) == H5T_STRING) {
    H5Aclose(attr);
    H5Adelete_by_name(file, t.object.c_str(), t.attribute.c_str(), H5P_DEFAULT);
    const std::string text = in.ConsumeRandomLengthString(4096);
    const hid_t str = H5Tcopy(H5T_C_S1);
    H5Tset_size(str, H5T_VARIABLE);
    const hid_t scalar = H5Screate(H5S_SCALAR);
    const hid_t created = H5Acreate_by_name(file, t.object.c_str(), t.attribute.c_str(), str,
                                            scalar, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    const char* value = text.c_str();
    if (created >= 0) H5Awrite(created, str, &value);
    if (created >= 0) H5Aclose(created);
    H5Sclose(scalar);
    H5Tclose(str);
  } else {
    const size_t bytes =
        H5Tget_size(type) * static_cast<size_t>(H5Sget_simple_extent_npoints(space));
    std::vector<uint8_t> value = in.ConsumeBytes<uint8_t>(bytes);
    value.resize(bytes);
    H5Awrite(attr, type, value.data());
    H5Aclose(attr);
  }
  H5Sclose(space);
  H5Tclose(type);
}

// Overwrites a run of elements of a (non-string) dataset with fuzzed bytes.
void EditDataset(hid_t file, const Target& t, FuzzedDataProvider& in) {
  const hid_t set = H5Dopen(file, t.object.c_str(), H5P_DEFAULT);
  if (set < 0) return;
  const hid_t type = H5Dget_type(set);
  const hid_t space = H5Dget_space(set);
  const int rank = H5Sget_simple_extent_ndims(space);
  if (H5Tget_class(type) != H5T_STRING && rank >= 1 && rank <= 4) {
    std::vector<hsize_t> dims(static_cast<size_t>(rank));
    H5Sget_simple_extent_dims(space, dims.data(), nullptr);
    if (dims[0] > 0) {
      std::vector<hsize_t> start(dims.size(), 0), count = dims;
      start[0] = in.ConsumeIntegralInRange<hsize_t>(0, dims[0] - 1);
      count[0] = in.ConsumeIntegralInRange<hsize_t>(1, std::min<hsize_t>(4, dims[0] - start[0]));
      size_t elements = 1;
      for (const hsize_t c : count) elements *= c;
      const size_t bytes = elements * H5Tget_size(type);
      if (bytes <= (size_t{1} << 20)) {
        std::vector<uint8_t> value = in.ConsumeBytes<uint8_t>(bytes);
        value.resize(bytes);
        const hid_t memory = H5Screate_simple(rank, count.data(), nullptr);
        H5Sselect_hyperslab(space, H5S_SELECT_SET, start.data(), nullptr, count.data(), nullptr);
        H5Dwrite(set, type, memory, space, H5P_DEFAULT, value.data());
        H5Sclose(memory);
      }
    }
  }
  H5Sclose(space);
  H5Tclose(type);
  H5Dclose(set);
}

void ApplyEdits(const fs::path& path, const std::vector<Target>& targets, FuzzedDataProvider& in) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  if (file < 0) std::abort();
  const int edits = in.ConsumeIntegralInRange(1, 4);
  for (int e = 0; e < edits && in.remaining_bytes() > 0; ++e) {
    const Target& t = targets[in.ConsumeIntegralInRange<size_t>(0, targets.size() - 1)];
    const bool remove = in.ConsumeIntegralInRange(0, 7) == 0;
    if (remove && t.attribute.empty()) {
      H5Ldelete(file, t.object.c_str(), H5P_DEFAULT);
    } else if (remove) {
      H5Adelete_by_name(file, t.object.c_str(), t.attribute.c_str(), H5P_DEFAULT);
    } else if (t.attribute.empty()) {
      EditDataset(file, t, in);
    } else {
      EditAttribute(file, t, in);
    }
  }
  H5Fclose(file);
}

void ReadEverything(const fs::path& path) {
  simscale::io::StoreReaderOptions options;
  options.allow_incomplete = true;
  const simscale::io::EpisodeStoreReader reader(path, options);
  for (int64_t e = 0; e < reader.num_episodes(); ++e) reader.ReadEpisode(e);
}

void ReadDemos(const fs::path& path) {
  const simscale::io::RobomimicReader reader(path);
  for (const int64_t demo : reader.demos()) {
    reader.NumSamples(demo);
    if (reader.Has(demo, "actions")) reader.ReadFloat(demo, "actions");
    reader.DemoStringAttribute(demo, "language");
  }
}

const char* SeedPath() {
  const char* seed = std::getenv("SIMSCALE_FUZZ_STORE");
  if (seed == nullptr || !fs::exists(seed)) {
    std::fprintf(stderr,
                 "fuzz_store: set SIMSCALE_FUZZ_STORE to a valid store (scripts/fuzz.sh)\n");
    std::exit(2);
  }
  return seed;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // damaged files are expected: no HDF5 stacks
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const fs::path seed = SeedPath();
  static const std::vector<Target> targets = Targets(seed);
  static const fs::path path = ScratchFile();
  fs::copy_file(seed, path, fs::copy_options::overwrite_existing);
  FuzzedDataProvider in(data, size);
  ApplyEdits(path, targets, in);
  simscale::io::FormatProblems(simscale::io::ValidateDataset(path));
  try {
    ReadEverything(path);
  } catch (const simscale::Error&) {
  }
  try {
    ReadDemos(path);
  } catch (const simscale::Error&) {
  }
  return 0;
}
