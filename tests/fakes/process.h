// Runs a program as a child process for end-to-end tests: arguments, extra environment,
// standard input, captured output, a timeout, and signals.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ollamaflow::testing {

struct ProcessResult {
  int exit_code = -1;  // exit status, or 128 + signal number
  bool timed_out = false;
  std::string out;
  std::string err;
};

struct ProcessOptions {
  std::map<std::string, std::string> env;  // added to (or replacing in) the parent's environment
  std::vector<std::string> unset_env;      // removed from the child's environment
  std::string stdin_text;
  std::string cwd;
  std::chrono::milliseconds timeout{120000};
};

// Returns the environment of this process with the changes of `options`, as NAME=VALUE strings.
std::vector<std::string> child_environment(const ProcessOptions& options);

// Runs `argv` to completion (or until the timeout, when it is killed) and returns its output.
ProcessResult run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

// A child that runs in the background; its output goes to files that read_out()/read_err()
// return. The destructor kills it (SIGKILL) if it still runs.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const ProcessOptions& options);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  void send_signal(int signal);
  // Waits up to `timeout` for the child to exit; returns its exit code, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  std::string read_out() const;
  std::string read_err() const;

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string in_path_;
  std::string out_path_;
  std::string err_path_;
};

}  // namespace ollamaflow::testing
