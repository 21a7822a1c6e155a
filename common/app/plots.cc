#include "common/app/plots.h"

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "common/core/build_info.h"
#include "common/core/log.h"

extern char** environ;

namespace simscale::app {
namespace fs = std::filesystem;

namespace {

constexpr const char* kCommand = "simscale-plot";
// A figure of a very large dataset takes minutes at most; a plotter stuck longer is stopped.
constexpr std::chrono::seconds kTimeout{900};

bool IsExecutable(const fs::path& path) {
  std::error_code ec;
  return fs::is_regular_file(path, ec) && access(path.c_str(), X_OK) == 0;
}

// Warns once per process: a tool that draws several times repeats no warning.
void WarnOnce(const std::string& message) {
  static std::atomic<bool> warned{false};
  if (!warned.exchange(true)) log::Warn("plots: {}; the run's results are unaffected", message);
}

// posix_spawn (not fork: the MPI library may have pinned memory) with the child's stdout sent to
// our stderr. Returns the exit status, or -1 when the command could not start or was stopped.
int RunWaiting(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, STDERR_FILENO, STDOUT_FILENO);
  pid_t pid = -1;
  const int error = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (error != 0) return -1;
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  int status = 0;
  while (waitpid(pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

fs::path FindPlotCommand() {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && IsExecutable(self.parent_path() / kCommand)) return self.parent_path() / kCommand;
  const fs::path installed = fs::path(build_info::kInstallBinDir) / kCommand;
  if (IsExecutable(installed)) return installed;
  return {};
}

bool DrawFigures(std::string_view subcommand, const std::vector<std::string>& arguments,
                 const RunOptions& run, const mpi::Communicator& comm) {
  if (!run.plots || !comm.is_root()) return false;
  const fs::path command = FindPlotCommand();
  if (command.empty()) {
    WarnOnce(fmt::format("{} not found (next to this executable, in {} or on PATH): no figures",
                         kCommand, build_info::kInstallBinDir));
    return false;
  }
  std::vector<std::string> argv = {command.string(), std::string(subcommand)};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  argv.insert(argv.end(), {"--log-level", run.log_level});
  const int status = RunWaiting(argv);
  if (status == 0) return true;
  if (status == 3) {
    WarnOnce("plotting unavailable (matplotlib missing: apt-get install python3-matplotlib)");
  } else if (status < 0) {
    WarnOnce(fmt::format("'{}' did not start or did not finish", fmt::join(argv, " ")));
  } else {
    WarnOnce(fmt::format("'{}' failed (exit {})", fmt::join(argv, " "), status));
  }
  return false;
}

}  // namespace simscale::app
