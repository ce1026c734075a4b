// End-to-end checks of how the binary handles signals and closed output. A closed pipe does not
// end a run, and SIGHUP stops it as SIGINT does. Ctrl-C stops `models`, `doctor` and
// `plan-capacity` while they wait on a stalled server. `status` tells a killed run from a process
// that reused its pid.
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "e2e/e2e_support.h"
#include "fakes/http_test_server.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// How a test starts the binary, beyond the arguments and the environment.
struct SpawnSetup {
  // Standard output and standard error go to a pipe that has no reader, as after
  // `ollama-flow run ... | head -2` once head has exited. Otherwise they go to `output_path`.
  bool closed_output = false;
  std::string output_path;
  // SIGINT starts ignored, as a non-interactive shell starts a command with `&`.
  bool ignore_sigint = false;
};

// A child process started as `setup` describes. The destructor kills it (SIGKILL) if it still runs.
class SpawnedProcess {
 public:
  SpawnedProcess(const std::vector<std::string>& argv, const ProcessOptions& options,
                 const SpawnSetup& setup) {
    std::vector<std::string> env = child_environment(options);
    std::vector<char*> env_pointers;
    for (std::string& item : env) {
      env_pointers.push_back(item.data());
    }
    env_pointers.push_back(nullptr);
    std::vector<std::string> args = argv;
    std::vector<char*> arg_pointers;
    for (std::string& item : args) {
      arg_pointers.push_back(item.data());
    }
    arg_pointers.push_back(nullptr);
    int pipe_fds[2] = {-1, -1};
    if (setup.closed_output && pipe2(pipe_fds, O_CLOEXEC) != 0) {
      ADD_FAILURE() << "pipe2 failed: " << std::strerror(errno);
      return;
    }
    pid_ = fork();
    if (pid_ == 0) {
      setpgid(0, 0);
      // The test binary's own dispositions must not leak into the child: exec keeps an ignored
      // signal ignored.
      signal(SIGPIPE, SIG_DFL);
      signal(SIGINT, setup.ignore_sigint ? SIG_IGN : SIG_DFL);
      const int input = open("/dev/null", O_RDONLY);
      const int output = setup.closed_output
                             ? pipe_fds[1]
                             : open(setup.output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      dup2(input, STDIN_FILENO);
      dup2(output, STDOUT_FILENO);
      dup2(output, STDERR_FILENO);
      if (!options.cwd.empty() && chdir(options.cwd.c_str()) != 0) {
        _exit(126);
      }
      execve(arg_pointers[0], arg_pointers.data(), env_pointers.data());
      _exit(127);
    }
    // Both ends close here, and the child's copy of the read end closes at exec, so the pipe
    // has no reader from the start.
    if (setup.closed_output) {
      close(pipe_fds[0]);
      close(pipe_fds[1]);
    }
  }

  ~SpawnedProcess() {
    if (pid_ > 0 && exit_code_ == -1) {
      kill(pid_, SIGKILL);
      int status = 0;
      waitpid(pid_, &status, 0);
    }
  }

  SpawnedProcess(const SpawnedProcess&) = delete;
  SpawnedProcess& operator=(const SpawnedProcess&) = delete;

  void send_signal(int signal_number) const {
    if (pid_ > 0 && exit_code_ == -1) {
      kill(pid_, signal_number);
    }
  }

  // Waits up to `timeout` for the child to exit. Returns its exit status, 128 + the signal
  // number when a signal ended it, or -1 on timeout.
  int wait(std::chrono::milliseconds timeout) {
    if (exit_code_ != -1 || pid_ <= 0) {
      return exit_code_;
    }
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return -1;
  }

 private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// An HTTP server on 127.0.0.1 that accepts every GET and never replies until it stops.
class StalledServer {
 public:
  StalledServer() {
    const auto stall = [this](const httplib::Request&, httplib::Response& response) {
      ++requests_;
      server_.gate().pass();
      response.set_content("{}", "application/json");
    };
    server_.server().Get(".*", stall);
    server_.server().Post(".*", stall);  // Ollama's /api/show
    server_.start();
  }

  std::string url() const { return server_.url(); }
  int requests() const { return requests_.load(); }
  // Blocks until a request waits for its reply.
  void wait_for_request() { server_.gate().wait_for_waiters(1); }

 private:
  HttpTestServer server_;
  std::atomic<int> requests_{0};
};

class SignalsTest : public E2eTest {
 protected:
  fs::path write_plan() {
    const fs::path path = dir_.path() / "plan.json";
    std::ofstream(path) << sample_plan().dump();
    return path;
  }

  // Returns a configuration whose simulated replies are slow, so that a run is still active
  // when the test acts on it.
  fs::path write_slow_config() {
    const fs::path path = dir_.path() / "slow.json";
    std::ofstream(path) << R"({"server": {"sim_output_tokens_per_s": 20}})";
    return path;
  }

  // Returns the active runs that `status --json` lists.
  json active_runs() {
    const ProcessResult status = run_cli({"status", "--json", "--db", db().string()});
    EXPECT_EQ(status.exit_code, 0) << status.err;
    return parse_json(status);
  }

  // Waits up to 10 s until `status --json` lists an active run, and returns the list.
  json wait_for_active_run() {
    json statuses = json::array();
    for (int i = 0; i < 200 && statuses.empty(); ++i) {
      statuses = active_runs();
      if (statuses.empty()) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
      }
    }
    return statuses;
  }

  // Returns the runs of the journal, newest first.
  json journaled_runs() {
    const ProcessResult runs = run_cli({"runs", "--db", db().string(), "--json"});
    EXPECT_EQ(runs.exit_code, 0) << runs.err;
    return parse_json(runs);
  }

  // Starts `args` with SIGINT ignored, against a server that never replies, and sends SIGINT
  // once the server has received a request. Checks that the command ends with exit code 130
  // within 3 s. Its read timeout is 5 s or more, so a command that ignores the signal fails.
  void expect_sigint_stops(const std::vector<std::string>& args) {
    StalledServer server;
    std::vector<std::string> full_args = args;
    full_args.insert(full_args.end(), {"--host", server.url()});
    SpawnSetup setup;
    setup.ignore_sigint = true;
    setup.output_path = (dir_.path() / "output.txt").string();
    SpawnedProcess child(cli_argv(full_args), cli_options({}), setup);
    server.wait_for_request();
    const auto signalled = std::chrono::steady_clock::now();
    child.send_signal(SIGINT);
    const int code = child.wait(std::chrono::seconds(15));
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - signalled).count();
    const std::string output = read(setup.output_path);
    EXPECT_EQ(code, 130) << args[0] << ": " << output;
    EXPECT_LT(seconds, 3.0) << args[0] << ": " << output;
    EXPECT_NE(output.find("cancelled"), std::string::npos) << args[0] << ": " << output;
  }
};

// With SIGPIPE ignored, the writes into the closed pipe fail and the run goes on: it finishes,
// writes its files and journals its final status.
TEST_F(SignalsTest, ClosedOutputPipeRunFinishes) {
  SpawnSetup setup;
  setup.closed_output = true;
  SpawnedProcess child(cli_argv({"run", "--plan", write_plan().string(), "--backend", "sim",
                                 "--workspace", workspace().string(), "--db", db().string()}),
                       cli_options({}), setup);
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 0);
  const json runs = journaled_runs();
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "succeeded") << runs.dump();
  EXPECT_EQ(runs[0]["exit_code"], 0) << runs.dump();
  for (const json& task : sample_plan()["tasks"]) {
    for (const json& file : task["files"]) {
      EXPECT_TRUE(fs::exists(workspace() / file.get<std::string>())) << file;
    }
  }
}

// `gpu --watch` writes until it is stopped, so a closed pipe must end it, as SIGPIPE did before
// the process ignored it.
TEST_F(SignalsTest, ClosedOutputPipeEndsGpuWatch) {
  SpawnSetup setup;
  setup.closed_output = true;
  SpawnedProcess child(cli_argv({"gpu", "--watch", "--interval", "0.1"}), cli_options({}), setup);
  EXPECT_EQ(child.wait(std::chrono::seconds(20)), 0);
}

// A closed terminal sends SIGHUP: the run stops as after Ctrl-C, with its report, exit code 130
// and the journaled status cancelled.
TEST_F(SignalsTest, SighupStopsRunGracefully) {
  ChildProcess child(cli_argv({"run", "--plan", write_plan().string(), "--backend", "sim",
                               "--config", write_slow_config().string(), "--workspace",
                               workspace().string(), "--db", db().string(), "--json"}),
                     cli_options({}));
  const json active = wait_for_active_run();
  ASSERT_EQ(active.size(), 1u) << child.read_err();
  child.send_signal(SIGHUP);
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 130) << child.read_err();
  const json report = json::parse(child.read_out(), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  const std::string run_id = report.value("run_id", "");
  const ProcessResult shown = run_cli({"runs", "show", run_id, "--db", db().string(), "--json"});
  ASSERT_EQ(shown.exit_code, 0) << shown.err;
  const json run = parse_json(shown);
  EXPECT_EQ(run["status"], "cancelled") << run.dump();
  EXPECT_EQ(run["exit_code"], 130) << run.dump();
  EXPECT_EQ(active_runs(), json::array()) << "the status file was left behind";
}

// GNU `timeout` sends SIGTERM to the run and then to the run's process group, so two signals
// arrive microseconds apart. They count as one: the run stops as after one signal, with its
// report. The second signal differs from the first, because the kernel merges a second SIGTERM
// that is still pending.
TEST_F(SignalsTest, TwoQuickSignalsStopRunGracefully) {
  ChildProcess child(cli_argv({"run", "--plan", write_plan().string(), "--backend", "sim",
                               "--config", write_slow_config().string(), "--workspace",
                               workspace().string(), "--db", db().string(), "--json"}),
                     cli_options({}));
  const json active = wait_for_active_run();
  ASSERT_EQ(active.size(), 1u) << child.read_err();
  child.send_signal(SIGTERM);
  child.send_signal(SIGINT);
  EXPECT_EQ(child.wait(std::chrono::seconds(60)), 130) << child.read_err();
  const json report = json::parse(child.read_out(), nullptr, false);
  ASSERT_FALSE(report.is_discarded()) << child.read_out() << child.read_err();
  EXPECT_EQ(report["status"], "cancelled");
  const json runs = journaled_runs();
  ASSERT_EQ(runs.size(), 1u) << runs.dump();
  EXPECT_EQ(runs[0]["status"], "cancelled") << runs.dump();
}

// Opening a FIFO waits for a writer, as `cat` does. Ctrl-C then cancels the run (exit 130)
// instead of reporting an unreadable plan file.
TEST_F(SignalsTest, SigintWhilePlanFifoWaits) {
  const fs::path fifo = dir_.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  ChildProcess child(cli_argv({"run", "--plan", fifo.string(), "--backend", "sim", "--workspace",
                               workspace().string(), "--db", db().string()}),
                     cli_options({}));
  // The run locks its workspace, which creates the folder, just before it reads the plan file.
  for (int i = 0; i < 600 && !fs::exists(workspace()); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_TRUE(fs::exists(workspace())) << child.read_err();
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  child.send_signal(SIGINT);
  EXPECT_EQ(child.wait(std::chrono::seconds(10)), 130) << child.read_err();
  EXPECT_NE(child.read_err().find("cancelled"), std::string::npos) << child.read_err();
  EXPECT_NE(child.read_err().find("plan.fifo"), std::string::npos) << child.read_err();
  EXPECT_FALSE(fs::exists(workspace())) << "the run left its empty workspace";
}

TEST_F(SignalsTest, SigintStopsModelsOnStalledServer) {
  expect_sigint_stops({"models"});
}

TEST_F(SignalsTest, SigintStopsDoctorOnStalledServer) {
  expect_sigint_stops({"doctor"});
}

TEST_F(SignalsTest, SigintStopsPlanCapacityOnStalledServer) {
  // A model that is neither a file nor in the Ollama store is looked up with /api/show.
  expect_sigint_stops({"plan-capacity", "--model", "nosuch:1b"});
}

// SIGKILL leaves the run's status file behind. When another process later gets the same pid,
// its start time differs from the one in the file, so `status` drops the file.
TEST_F(SignalsTest, StatusIgnoresReusedPid) {
  ChildProcess run(cli_argv({"run", "--plan", write_plan().string(), "--backend", "sim", "--config",
                             write_slow_config().string(), "--workspace", workspace().string(),
                             "--db", db().string()}),
                   cli_options({}));
  const json active = wait_for_active_run();
  ASSERT_EQ(active.size(), 1u) << run.read_err();
  run.send_signal(SIGKILL);
  EXPECT_EQ(run.wait(std::chrono::seconds(10)), 128 + SIGKILL);
  // The status files are kept beside the journal.
  const fs::path active_dir = db().parent_path() / "active";
  const fs::path left = active_dir / (std::to_string(run.pid()) + ".json");
  ASSERT_TRUE(fs::exists(left)) << "SIGKILL should leave the status file";

  // The same file under the pid of a live process that is not the run.
  ChildProcess other({"/bin/sleep", "30"}, {});
  const fs::path reused = active_dir / (std::to_string(other.pid()) + ".json");
  fs::rename(left, reused);
  EXPECT_EQ(active_runs(), json::array());
  EXPECT_FALSE(fs::exists(reused)) << "the stale status file was kept";
}

}  // namespace
}  // namespace ollamaflow::testing
