#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/io/dtype.h"
#include "common/io/hdf5.h"

namespace simscale::io {

// Reads any robomimic-layout HDF5 file (data/demo_<i>/{actions, obs/<key>, ...}, mask/<name>),
// whoever wrote it, with the serial driver. Not thread-safe.
class RobomimicReader {
 public:
  explicit RobomimicReader(const std::filesystem::path& path);

  const std::filesystem::path& path() const { return path_; }
  // Demo numbers (demo_<i> -> i), ascending numerically as robomimic sorts them.
  const std::vector<int64_t>& demos() const { return demos_; }
  // env_args' env_name ("" when absent).
  const std::string& env_name() const { return env_name_; }
  // @num_samples of a demo (robomimic's required attribute).
  int64_t NumSamples(int64_t demo) const;
  // Observation keys of the first demo, sorted, with their per-row shapes.
  std::vector<std::pair<std::string, std::vector<uint64_t>>> ObservationKeys() const;
  bool Has(int64_t demo, std::string_view relative_path) const;
  // Rows [first, first + count) of data/demo_<demo>/<relative_path> converted to `dtype`.
  void ReadRows(int64_t demo, std::string_view relative_path, int64_t first, int64_t count,
                DType dtype, void* out) const;
  // All rows, as float32.
  std::vector<float> ReadFloat(int64_t demo, std::string_view relative_path) const;
  // A string attribute of a demo, if present (e.g. "language").
  std::optional<std::string> DemoStringAttribute(int64_t demo, std::string_view name) const;

 private:
  h5::Dataset Open(int64_t demo, std::string_view relative_path) const;

  std::filesystem::path path_;
  h5::File file_;
  std::vector<int64_t> demos_;
  std::string env_name_;
};

// Demo numbers listed in mask/<name> ("demo_7" -> 7), ascending; nullopt when the file has no
// such mask. Works for SimScale stores (whose demo numbers are store rows) and robomimic files.
std::optional<std::vector<int64_t>> ReadMask(const std::filesystem::path& path,
                                             std::string_view name);

}  // namespace simscale::io
