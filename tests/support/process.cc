#include "tests/support/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

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

std::vector<std::string> MpiRunArgs(int ranks) {
  return {SIMSCALE_MPIEXEC, "--oversubscribe", "--allow-run-as-root", "-n", std::to_string(ranks)};
}

std::vector<pid_t> ChildProcesses(pid_t parent) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream in(entry.path() / "stat");
    std::string stat;
    std::getline(in, stat);
    // "pid (comm) state ppid ...": the command may hold spaces and parentheses; skip past the last
    // ')'.
    const auto close = stat.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(stat.substr(close + 1));
    std::string state;
    pid_t ppid = 0;
    if (fields >> state >> ppid && ppid == parent) children.push_back(std::stoi(name));
  }
  return children;
}

BackgroundProcess::BackgroundProcess(const std::vector<std::string>& argv,
                                     const std::string& output_file,
                                     const std::vector<int>& blocked)
    : output_file_(output_file) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  // Block in this thread before fork so the child never runs a moment without the mask.
  sigset_t block, previous;
  sigemptyset(&block);
  for (int number : blocked) sigaddset(&block, number);
  pthread_sigmask(SIG_BLOCK, &block, &previous);
  pid_ = fork();
  if (pid_ == 0) {
    const int fd = open(output_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
      close(fd);
    }
    execv(args[0], args.data());
    _exit(127);
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid_ < 0) throw std::runtime_error("fork failed for: " + argv.at(0));
}

BackgroundProcess::~BackgroundProcess() {
  if (pid_ > 0 && !exited_) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status_, 0);
  }
}

void BackgroundProcess::Signal(int number) const { kill(pid_, number); }

bool BackgroundProcess::running() {
  if (exited_) return false;
  if (waitpid(pid_, &status_, WNOHANG) == pid_) exited_ = true;
  return !exited_;
}

int BackgroundProcess::Wait(int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  while (running()) {
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status_, 0);
      exited_ = true;
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return WIFEXITED(status_) ? WEXITSTATUS(status_) : 128 + WTERMSIG(status_);
}

std::string BackgroundProcess::output() const {
  std::ifstream in(output_file_);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

TmpfsMount::TmpfsMount(const std::string& dir, int kilobytes) : dir_(dir) {
  std::filesystem::create_directories(dir_);
  const auto result =
      RunProcess("mount -t tmpfs -o size=" + std::to_string(kilobytes) + "k simscale_test " + dir_);
  mounted_ = result.exit_code == 0;
  error_ = result.output;
}

TmpfsMount::~TmpfsMount() {
  if (mounted_) RunProcess("umount " + dir_);
  std::error_code ignored;
  std::filesystem::remove_all(dir_, ignored);
}

bool TmpfsMount::Resize(int kilobytes) const {
  return RunProcess("mount -o remount,size=" + std::to_string(kilobytes) + "k " + dir_).exit_code ==
         0;
}

void FillDisk(const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  const std::string block(1 << 16, '\0');
  while (out.write(block.data(), static_cast<std::streamsize>(block.size())) && out.flush()) {
  }
}

}  // namespace simscale::testing_support
