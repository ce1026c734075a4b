#include "fakes/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace ollamaflow::testing {

std::vector<std::string> child_environment(const ProcessOptions& options) {
  std::map<std::string, std::string> merged;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string text = *entry;
    const size_t eq = text.find('=');
    if (eq != std::string::npos) {
      merged[text.substr(0, eq)] = text.substr(eq + 1);
    }
  }
  for (const std::string& name : options.unset_env) {
    merged.erase(name);
  }
  for (const auto& [name, value] : options.env) {
    merged[name] = value;
  }
  std::vector<std::string> out;
  for (const auto& [name, value] : merged) {
    out.push_back(name + "=" + value);
  }
  return out;
}

namespace {

std::string read_whole(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string temp_path(const char* suffix) {
  std::string pattern =
      (std::filesystem::temp_directory_path() / (std::string("of-proc-XXXXXX") + suffix)).string();
  const int fd = mkstemps(pattern.data(), static_cast<int>(std::strlen(suffix)));
  if (fd >= 0) {
    close(fd);
  }
  return pattern;
}

// Forks and execs `argv` with stdin from `stdin_path` and output to the two files.
pid_t spawn(const std::vector<std::string>& argv, const ProcessOptions& options,
            const std::string& stdin_path, const std::string& out_path,
            const std::string& err_path) {
  std::vector<std::string> env = child_environment(options);
  std::vector<char*> env_ptrs;
  for (std::string& item : env) {
    env_ptrs.push_back(item.data());
  }
  env_ptrs.push_back(nullptr);
  std::vector<std::string> args = argv;
  std::vector<char*> arg_ptrs;
  for (std::string& item : args) {
    arg_ptrs.push_back(item.data());
  }
  arg_ptrs.push_back(nullptr);

  const pid_t pid = fork();
  if (pid == 0) {
    setpgid(0, 0);
    const int in = open(stdin_path.c_str(), O_RDONLY);
    const int out = open(out_path.c_str(), O_WRONLY | O_TRUNC);
    const int err = open(err_path.c_str(), O_WRONLY | O_TRUNC);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
      _exit(126);
    }
    execve(arg_ptrs[0], arg_ptrs.data(), env_ptrs.data());
    _exit(127);
  }
  return pid;
}

int decode_status(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options) {
  ChildProcess child(argv, options);
  ProcessResult result;
  result.exit_code = child.wait(options.timeout);
  if (result.exit_code == -1) {
    result.timed_out = true;
    child.send_signal(SIGKILL);
    result.exit_code = child.wait(std::chrono::seconds(10));
  }
  result.out = child.read_out();
  result.err = child.read_err();
  return result;
}

ChildProcess::ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options)
    : out_path_(temp_path(".out")), err_path_(temp_path(".err")) {
  in_path_ = temp_path(".in");
  std::ofstream(in_path_) << options.stdin_text;
  // The file stays until the destructor: the child opens it after fork, at a time we do not
  // know.
  pid_ = spawn(argv, options, in_path_, out_path_, err_path_);
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0 && exit_code_ == -1) {
    kill(pid_, SIGKILL);
    int status = 0;
    waitpid(pid_, &status, 0);
  }
  std::error_code ignored;
  std::filesystem::remove(in_path_, ignored);
  std::filesystem::remove(out_path_, ignored);
  std::filesystem::remove(err_path_, ignored);
}

void ChildProcess::send_signal(int signal) {
  if (pid_ > 0 && exit_code_ == -1) {
    kill(pid_, signal);
  }
}

int ChildProcess::wait(std::chrono::milliseconds timeout) {
  if (exit_code_ != -1) {
    return exit_code_;
  }
  // Real time on purpose: this waits for another process.
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    const pid_t done = waitpid(pid_, &status, WNOHANG);
    if (done == pid_) {
      exit_code_ = decode_status(status);
      return exit_code_;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return -1;
}

std::string ChildProcess::read_out() const {
  return read_whole(out_path_);
}

std::string ChildProcess::read_err() const {
  return read_whole(err_path_);
}

}  // namespace ollamaflow::testing
