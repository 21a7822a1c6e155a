#include "tests/support/process.h"

#include <sys/wait.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <stdexcept>

namespace simscale::testing_support {

ProcessResult RunProcess(const std::string& command, int timeout_seconds) {
  const std::string full =
      "timeout -k 5 " + std::to_string(timeout_seconds) + " " + command + " 2>&1";
  const auto start = std::chrono::steady_clock::now();
  FILE* pipe = popen(full.c_str(), "r");
  if (pipe == nullptr) throw std::runtime_error("popen failed for: " + command);
  ProcessResult result;
  std::array<char, 4096> buffer{};
  size_t n = 0;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0)
    result.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

std::string ToolPath(const std::string& name) {
  return std::string(SIMSCALE_BINARY_DIR) + "/bin/" + name;
}

std::string MpiRun(int ranks) {
  return std::string(SIMSCALE_MPIEXEC) + " --oversubscribe --allow-run-as-root -n " +
         std::to_string(ranks) + " ";
}

}  // namespace simscale::testing_support
