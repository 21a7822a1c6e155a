#include "common/io/open_file.h"

#include <array>
#include <cstring>
#include <fstream>
#include <optional>

#include <fmt/format.h>

#include "common/core/error.h"
#include "common/core/log.h"
#include "common/io/episode_store.h"
#include "common/io/schema.h"

namespace simscale::io {
namespace fs = std::filesystem;

namespace {

constexpr std::array<char, 8> kSignature = {'\x89', 'H', 'D', 'F', '\r', '\n', '\x1a', '\n'};

// The HDF5 superblock of a file: where it starts and, for the format SimScale writes (superblock
// version 2 or 3), the end-of-file address it records.
struct Superblock {
  uint64_t base = 0;
  std::optional<uint64_t> end_of_file;
};

// HDF5 looks for its signature at 0, 512, 1024, 2048, ... (a user block may precede it).
std::optional<Superblock> FindSuperblock(const fs::path& path, uint64_t size) {
  std::ifstream in(path, std::ios::binary);
  for (uint64_t base = 0; base + kSignature.size() <= size; base = base == 0 ? 512 : base * 2) {
    std::array<unsigned char, 48> bytes{};
    in.clear();
    in.seekg(static_cast<std::streamoff>(base));
    in.read(reinterpret_cast<char*>(bytes.data()), bytes.size());
    const auto got = static_cast<size_t>(in.gcount());
    if (got < kSignature.size() || std::memcmp(bytes.data(), kSignature.data(), 8) != 0) continue;
    Superblock superblock{base, std::nullopt};
    const unsigned version = got > 8 ? bytes[8] : 0;
    const unsigned offset_size = got > 9 ? bytes[9] : 0;
    // v2/v3: signature, version, offset size, length size, flags, then base address, extension
    // address and end-of-file address (offset_size bytes each, little-endian).
    const size_t eof_at = 12 + 2 * static_cast<size_t>(offset_size);
    if ((version == 2 || version == 3) && offset_size >= 1 && offset_size <= 8 &&
        eof_at + offset_size <= got) {
      uint64_t eof = 0;
      for (size_t i = 0; i < offset_size; ++i) eof |= uint64_t{bytes[eof_at + i]} << (8 * i);
      superblock.end_of_file = eof;
    }
    return superblock;
  }
  return std::nullopt;
}

// Why `path` cannot be opened, as one sentence; `hdf5_error` is what HDF5 said.
std::string DiagnoseOpenFailure(const fs::path& path, const std::string& hdf5_error) {
  std::error_code ec;
  const std::string name = path.string();
  if (!fs::exists(path, ec)) {
    if (fs::exists(PartialPath(path), ec)) {
      return fmt::format(
          "'{}' does not exist, but '{}' does: the datagen run writing it did not finish; rerun "
          "datagen with --resume (same --output) to complete it",
          name, PartialPath(path).string());
    }
    return fmt::format("'{}' does not exist; check the path", name);
  }
  if (!fs::is_regular_file(path, ec)) {
    return fmt::format("'{}' is not a regular file; pass the .h5 file datagen_mpi wrote", name);
  }
  const uint64_t size = fs::file_size(path, ec);
  if (size == 0) {
    return fmt::format(
        "'{}' is empty (0 bytes): a copy or a datagen run was cut short; copy it "
        "again or rerun datagen",
        name);
  }
  const std::optional<Superblock> superblock = FindSuperblock(path, size);
  if (!superblock) {
    return fmt::format(
        "'{}' is not an HDF5 file (no HDF5 signature in its {} bytes); pass the .h5 file "
        "datagen_mpi wrote",
        name, size);
  }
  if (superblock->end_of_file && size < superblock->base + *superblock->end_of_file) {
    return fmt::format(
        "'{}' is truncated: it has {} bytes, but its HDF5 superblock says {}; the copy is "
        "incomplete or the disk filled up: copy it again, or regenerate it with datagen_mpi",
        name, size, superblock->base + *superblock->end_of_file);
  }
  log::Debug("opening '{}' failed: {}", name, hdf5_error);
  return fmt::format(
      "'{}' is an HDF5 file that HDF5 cannot open (damaged metadata); restore it from a copy or "
      "regenerate it with datagen_mpi (HDF5's messages are in the log at --log.level debug)",
      name);
}

}  // namespace

h5::File OpenDatasetFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) throw InvalidArgumentError(DiagnoseOpenFailure(path, ""));
  try {
    return h5::File::Open(path.string(), h5::File::Mode::kReadOnly);
  } catch (const h5::Hdf5Error& error) {
    log::Debug("{}", error.what());
    throw InvalidArgumentError(DiagnoseOpenFailure(path, error.what()));
  }
}

bool IsEpisodeStore(const fs::path& path) {
  return OpenDatasetFile(path).KindOf(schema::kStoreGroup) == h5::ObjectKind::kGroup;
}

fs::path ResolveInside(const fs::path& root, std::string_view reference, std::string_view what) {
  const fs::path relative(reference);
  const auto refuse = [&](std::string_view why) {
    return InvalidArgumentError(fmt::format("{} '{}' {}; it must name a file inside '{}'", what,
                                            reference, why, root.string()));
  };
  if (reference.empty()) throw refuse("is empty");
  if (relative.is_absolute() || relative.has_root_name() || relative.has_root_directory()) {
    throw refuse("is an absolute path");
  }
  for (const fs::path& part : relative) {
    if (part == "..") throw refuse("contains '..'");
  }
  std::error_code ec;
  const fs::path real_root = fs::weakly_canonical(root, ec);
  if (ec) throw refuse(fmt::format("cannot be checked ({})", ec.message()));
  // weakly_canonical resolves the symbolic links of the part that exists.
  const fs::path resolved = fs::weakly_canonical(real_root / relative, ec);
  if (ec) throw refuse(fmt::format("cannot be checked ({})", ec.message()));
  const auto [root_end, unused] =
      std::mismatch(real_root.begin(), real_root.end(), resolved.begin(), resolved.end());
  (void)unused;
  if (root_end != real_root.end()) {
    throw refuse(fmt::format("leads outside through a symbolic link (to '{}')", resolved.string()));
  }
  return resolved;
}

}  // namespace simscale::io
