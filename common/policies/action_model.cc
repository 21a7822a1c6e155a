#include "common/policies/action_model.h"

#include <dlfcn.h>
#include <unistd.h>

#include <mutex>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/error.h"

namespace simscale::policies {
namespace fs = std::filesystem;
namespace {

// Beside the executable (<prefix>/bin/tool -> <prefix>/lib), then where this build put it, then
// where it is installed.
std::vector<fs::path> LibraryCandidates() {
  std::vector<fs::path> candidates;
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    candidates.push_back(exe.parent_path().parent_path() / "lib" / kActionModelLibrary);
    candidates.push_back(exe.parent_path().parent_path() / SIMSCALE_INSTALL_LIBDIR /
                         kActionModelLibrary);
  }
  candidates.push_back(fs::path(SIMSCALE_BUILD_LIBDIR) / kActionModelLibrary);
  candidates.push_back(fs::path(SIMSCALE_INSTALL_FULL_LIBDIR) / kActionModelLibrary);
  return candidates;
}

LoadActionModelFunction OpenLibrary() {
  static std::mutex mutex;
  static LoadActionModelFunction function = nullptr;
  std::lock_guard<std::mutex> lock(mutex);
  if (function != nullptr) return function;
  std::vector<std::string> tried;
  for (const fs::path& candidate : LibraryCandidates()) {
    std::error_code ec;
    if (!fs::exists(candidate, ec)) {
      tried.push_back(candidate.string() + " (absent)");
      continue;
    }
    // Kept open until exit: the models it makes live as long as the policies that use them.
    void* handle = dlopen(candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      tried.push_back(fmt::format("{} ({})", candidate.string(), dlerror()));
      continue;
    }
    function = reinterpret_cast<LoadActionModelFunction>(dlsym(handle, kLoadActionModelSymbol));
    if (function != nullptr) {
      log::Debug("checkpoint policies: LibTorch module {}", candidate.string());
      return function;
    }
    tried.push_back(fmt::format("{} (no {})", candidate.string(), kLoadActionModelSymbol));
  }
  throw InvalidArgumentError(
      fmt::format("checkpoint policies need the LibTorch module {}, which could not be loaded; "
                  "tried: {}",
                  kActionModelLibrary, fmt::join(tried, "; ")));
}

}  // namespace

std::unique_ptr<ActionModel> LoadActionModel(const fs::path& checkpoint,
                                             const ActionModelOptions& options) {
  const LoadActionModelFunction load = OpenLibrary();
  ActionModelRequest request;
  request.checkpoint = checkpoint.string();
  request.options = options;
  request.rank = log::Rank();
  request.world_size = log::WorldSize();
  request.level = log::GetLevel();
  request.sink = [](log::Level level, std::string_view line) { log::WriteLine(level, line); };
  std::string error;
  std::unique_ptr<ActionModel> model(load(request, &error));
  if (!model) {
    // Errors of the checkpoint reader already name the checkpoint.
    const std::string named = fmt::format("checkpoint '{}': ", checkpoint.string());
    throw InvalidArgumentError(error.rfind(named, 0) == 0 ? "policy " + error
                                                          : "policy " + named + error);
  }
  return model;
}

}  // namespace simscale::policies
