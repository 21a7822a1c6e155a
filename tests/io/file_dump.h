#pragma once

#include <filesystem>
#include <map>
#include <set>
#include <string>

// Everything an HDF5 file holds, as text, for whole-file comparisons in tests.
namespace simscale::io::testing {

// One entry per group ("/data/demo_0"), dataset ("/episodes/actions") and attribute
// ("/data@total"): the element type, the shape, and an FNV-1a digest of the values read back
// (for virtual datasets, also their source mappings); attributes with their value. Attributes
// named in `excluded` ("/episodes@config_yaml") are left out: run-specific ones.
std::map<std::string, std::string> DumpFile(const std::filesystem::path& path,
                                            const std::set<std::string>& excluded = {});

// The entries that differ between two dumps, one line each ("" when they are equal).
std::string DumpDifferences(const std::map<std::string, std::string>& expected,
                            const std::map<std::string, std::string>& actual);

}  // namespace simscale::io::testing
