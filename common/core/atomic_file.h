#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace simscale {

// Writes `content` to `path` so that readers see either the old file or the complete new one,
// never a partial write, even if the process dies: write a temporary file in the same directory,
// fsync it, rename it over `path`, fsync the directory. Creates missing parent directories.
void WriteFileAtomic(const std::filesystem::path& path, std::string_view content);

// Creates `dir` and its missing parents; throws IoError naming the directory and the reason (a
// regular file in the way, no permission) if it cannot.
void CreateDirectories(const std::filesystem::path& dir);

// Renames `from` to `to` (same file system) and fsyncs the destination directory so the rename
// survives a crash. Works for files and directories; `to` must not be a non-empty directory.
void RenameDurable(const std::filesystem::path& from, const std::filesystem::path& to);

// fsyncs a file or directory.
void FsyncPath(const std::filesystem::path& path);

// A temporary sibling name for `path`, unique per host and process ("<name>.tmp-<host>-<pid>"),
// so ranks on different nodes sharing a file system never collide.
std::filesystem::path TemporarySibling(const std::filesystem::path& path);

// Reads a whole file; throws IoError naming the path if it cannot.
std::string ReadFile(const std::filesystem::path& path);

}  // namespace simscale
