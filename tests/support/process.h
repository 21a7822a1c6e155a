#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

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

// The same as MpiRun, as an argument vector (for BackgroundProcess).
std::vector<std::string> MpiRunArgs(int ranks);

// Process ids whose parent is `parent` (the ranks mpirun started, for instance).
std::vector<pid_t> ChildProcesses(pid_t parent);

// A child process started with fork/exec (no shell), its stdout and stderr in a file, for tests
// that signal or kill a running tool. The destructor SIGKILLs a child still running.
class BackgroundProcess {
 public:
  // Starts argv[0] with arguments argv[1..]. Signals in `blocked` are blocked in the child from
  // the first instruction on (the mask survives exec), so one sent right after Start() stays
  // pending until the program unblocks it.
  BackgroundProcess(const std::vector<std::string>& argv, const std::string& output_file,
                    const std::vector<int>& blocked = {});
  ~BackgroundProcess();
  BackgroundProcess(const BackgroundProcess&) = delete;
  BackgroundProcess& operator=(const BackgroundProcess&) = delete;

  pid_t pid() const { return pid_; }
  void Signal(int number) const;
  // Waits for the exit; returns the exit status (128 + signal if killed by one), or -1 after
  // SIGKILLing a child still running at the deadline.
  int Wait(int timeout_seconds);
  bool running();
  // The output so far.
  std::string output() const;

 private:
  pid_t pid_ = -1;
  int status_ = -1;
  bool exited_ = false;
  std::string output_file_;
};

// A tmpfs of `kilobytes` mounted on a new directory for the object's lifetime (needs root; see
// mounted() and error()); always unmounted and removed.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, int kilobytes);
  ~TmpfsMount();
  TmpfsMount(const TmpfsMount&) = delete;
  TmpfsMount& operator=(const TmpfsMount&) = delete;
  bool mounted() const { return mounted_; }
  const std::string& error() const { return error_; }
  // Grows (or shrinks) the file system in place; true on success.
  bool Resize(int kilobytes) const;

 private:
  std::string dir_;
  bool mounted_ = false;
  std::string error_;
};

// Writes zeros into `path` until its file system is full.
void FillDisk(const std::string& path);

}  // namespace simscale::testing_support
