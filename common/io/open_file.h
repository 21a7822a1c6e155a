#pragma once

#include <filesystem>
#include <string_view>

#include "common/io/hdf5.h"

// Opening a dataset file a user named, and paths read from inside a file. Errors are one
// sentence for the user (the file, what is wrong with it, what to do next); HDF5's own error
// stack goes to the debug log only.
namespace simscale::io {

// Opens `path` read-only with the serial driver. Throws InvalidArgumentError when it does not
// exist (naming a `.partial` an interrupted run left, if there is one), is not a regular file, is
// empty or not HDF5, is truncated (shorter than its superblock says), or cannot be opened for
// another reason (damaged metadata).
h5::File OpenDatasetFile(const std::filesystem::path& path);

// Whether the file at `path` is a SimScale episode store (has episodes/), opened as above.
bool IsEpisodeStore(const std::filesystem::path& path);

// Resolves `reference`, a path read from a file (a virtual dataset's source file, a checkpoint's
// file name), against the directory `root`, and throws InvalidArgumentError unless the result
// stays inside `root`: absolute paths, `..` components and symbolic links that lead outside are
// refused. `what` names the reference in the error ("/data/demo_0/actions source file").
std::filesystem::path ResolveInside(const std::filesystem::path& root, std::string_view reference,
                                    std::string_view what);

}  // namespace simscale::io
