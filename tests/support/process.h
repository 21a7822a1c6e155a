#pragma once

#include <string>

namespace simscale::testing_support {

struct ProcessResult {
  int exit_code = -1;    // the command's exit status; 124 if `timeout` killed it
  std::string output;    // stdout and stderr together
  double seconds = 0.0;  // wall time
};

// Runs `command` through /bin/sh with a wall-clock limit (coreutils `timeout`), capturing output.
ProcessResult RunProcess(const std::string& command, int timeout_seconds = 60);

// "<build dir>/bin/<tool>" style path of one of the project's executables.
std::string ToolPath(const std::string& name);

// mpirun with the flags tests need (root, oversubscription) and `ranks` processes.
std::string MpiRun(int ranks);

}  // namespace simscale::testing_support
