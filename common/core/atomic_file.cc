#include "common/core/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/core/error.h"

namespace simscale {
namespace fs = std::filesystem;
namespace {

std::string ErrnoText() { return std::strerror(errno); }

// Owns a POSIX file descriptor.
class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }
  int release() {
    const int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

}  // namespace

fs::path TemporarySibling(const fs::path& path) {
  std::array<char, 256> host{};
  if (gethostname(host.data(), host.size() - 1) != 0) std::strcpy(host.data(), "host");
  fs::path tmp = path;
  tmp += fmt::format(".tmp-{}-{}", host.data(), static_cast<long>(getpid()));
  return tmp;
}

void FsyncPath(const fs::path& path) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    throw IoError(fmt::format("cannot open '{}' to fsync it: {}", path.string(), ErrnoText()));
  }
  if (::fsync(fd.get()) != 0) {
    throw IoError(fmt::format("fsync of '{}' failed: {}", path.string(), ErrnoText()));
  }
}

void RenameDurable(const fs::path& from, const fs::path& to) {
  if (::rename(from.c_str(), to.c_str()) != 0) {
    throw IoError(
        fmt::format("cannot rename '{}' to '{}': {}", from.string(), to.string(), ErrnoText()));
  }
  const fs::path parent = to.has_parent_path() ? to.parent_path() : fs::path(".");
  FsyncPath(parent);
}

void CreateDirectories(const fs::path& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec)
    throw IoError(fmt::format("cannot create directory '{}': {}", dir.string(), ec.message()));
}

void WriteFileAtomic(const fs::path& path, std::string_view content) {
  if (path.has_parent_path()) CreateDirectories(path.parent_path());
  const fs::path tmp = TemporarySibling(path);
  {
    FileDescriptor fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
    if (fd.get() < 0) {
      throw IoError(fmt::format("cannot create '{}': {}", tmp.string(), ErrnoText()));
    }
    size_t written = 0;
    while (written < content.size()) {
      const ssize_t n = ::write(fd.get(), content.data() + written, content.size() - written);
      if (n < 0) {
        if (errno == EINTR) continue;
        const std::string reason = ErrnoText();
        ::unlink(tmp.c_str());
        throw IoError(fmt::format("cannot write '{}': {}", tmp.string(), reason));
      }
      written += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0 || ::close(fd.release()) != 0) {
      const std::string reason = ErrnoText();
      ::unlink(tmp.c_str());
      throw IoError(fmt::format("cannot flush '{}': {}", tmp.string(), reason));
    }
  }
  try {
    RenameDurable(tmp, path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
}

std::string ReadFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw IoError(fmt::format("cannot open '{}' for reading: {}", path.string(), ErrnoText()));
  }
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) throw IoError(fmt::format("error while reading '{}'", path.string()));
  return buffer.str();
}

}  // namespace simscale
