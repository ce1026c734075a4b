// ManagedServer: the llama-server child process of `--start-server`.
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <fstream>
#include <string_view>

#include <fmt/format.h>

#include "core/log.h"
#include "flow/server_launch.h"
#include "llm/http.h"

namespace ollamaflow::flow {
namespace {

constexpr auto kHealthPollInterval = std::chrono::milliseconds(100);
constexpr double kHealthRequestTimeoutS = 2;
constexpr double kStopGraceS = 10;

// Returns a port on 127.0.0.1 that was free a moment ago (bound to port 0, then closed).
Result<int> free_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return Status(ErrorCode::kInternal, std::string("socket() failed: ") + std::strerror(errno));
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  socklen_t length = sizeof(address);
  const bool bound = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0 &&
                     ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
  ::close(fd);
  if (!bound) {
    return Status(ErrorCode::kUnavailable,
                  std::string("no free port on 127.0.0.1: ") + std::strerror(errno));
  }
  return static_cast<int>(ntohs(address.sin_port));
}

// Returns this process's environment without the variables that is_withheld_variable()
// accepts, and with LLAMA_API_KEY set to `api_key` when it is not empty.
std::vector<std::string> server_environment(const std::string& api_key) {
  std::vector<std::string> variables;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view variable(*entry);
    if (!is_withheld_variable(variable.substr(0, variable.find('=')))) {
      variables.emplace_back(variable);
    }
  }
  if (!api_key.empty()) {
    variables.push_back("LLAMA_API_KEY=" + api_key);
  }
  return variables;
}

std::vector<char*> pointers_of(const std::vector<std::string>& words) {
  std::vector<char*> pointers;
  for (const std::string& word : words) {
    pointers.push_back(const_cast<char*>(word.c_str()));
  }
  pointers.push_back(nullptr);
  return pointers;
}

// Forks and executes `argv` with the environment `env`, stdin from /dev/null, and stdout and
// stderr into `log_fd`. Returns the child's pid.
Result<pid_t> spawn(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                    int log_fd) {
  std::vector<char*> pointers = pointers_of(argv);
  std::vector<char*> env_pointers = pointers_of(env);
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) {
    return Status(ErrorCode::kInternal, std::string("fork() failed: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Only async-signal-safe calls between fork and exec.
    ::setpgid(0, 0);
    // ollama-flow ignores SIGPIPE, and an ignored signal stays ignored across exec.
    ::signal(SIGPIPE, SIG_DFL);
    ::prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (::getppid() != parent) {
      ::_exit(127);  // the parent died before prctl took effect
    }
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, 0);
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    ::execve(pointers[0], pointers.data(), env_pointers.data());
    const char message[] = "exec of llama-server failed\n";
    (void)!::write(2, message, sizeof(message) - 1);
    ::_exit(127);
  }
  return pid;
}

std::filesystem::path default_log_path(int port) {
  return std::filesystem::temp_directory_path() /
         fmt::format("ollama-flow-llama-server-{}-{}.log", ::getpid(), port);
}

}  // namespace

ManagedServer::ManagedServer(pid_t pid, int port, std::filesystem::path log_path,
                             std::shared_ptr<Clock> clock)
    : pid_(pid), port_(port), log_path_(std::move(log_path)), clock_(std::move(clock)) {}

ManagedServer::~ManagedServer() {
  stop();
}

std::string ManagedServer::url() const {
  return "http://127.0.0.1:" + std::to_string(port_);
}

Result<std::unique_ptr<ManagedServer>> ManagedServer::start(const LaunchPlan& plan,
                                                            const Options& options,
                                                            std::shared_ptr<Clock> clock,
                                                            const CancelToken& cancel) {
  Result<int> port = free_port();
  if (!port) {
    return port.status();
  }
  const std::filesystem::path log_path =
      options.log_path.empty() ? default_log_path(*port) : options.log_path;
  const int log_fd = ::open(log_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (log_fd < 0) {
    return Status(ErrorCode::kInternal, fmt::format("cannot create the server log '{}': {}",
                                                    log_path.string(), std::strerror(errno)));
  }
  for (const WithheldVariable& variable : withheld_variables(process_env(), plan.api_key)) {
    get_logger("flow")->warn("llama-server does not get {} from the environment: {}", variable.name,
                             variable.reason);
  }
  std::vector<std::string> argv = {plan.binary};
  const std::vector<std::string> args = plan.arguments(*port);
  argv.insert(argv.end(), args.begin(), args.end());
  Result<pid_t> pid = spawn(argv, server_environment(plan.api_key), log_fd);
  ::close(log_fd);
  if (!pid) {
    return pid.status();
  }
  get_logger("flow")->info("llama-server pid={} started on 127.0.0.1:{} with {} (log {})", *pid,
                           *port, plan.summary(), log_path.string());
  std::unique_ptr<ManagedServer> server(new ManagedServer(*pid, *port, log_path, clock));
  if (Status healthy = server->wait_healthy(options.start_timeout_s, cancel); !healthy) {
    server->stop();
    if (healthy.code() == ErrorCode::kCancelled) {
      return Status(ErrorCode::kCancelled,
                    fmt::format("cancelled while llama-server (pid {}) was starting at {}, so it "
                                "was stopped; its log is {}",
                                *pid, server->url(), log_path.string()));
    }
    return healthy;
  }
  get_logger("flow")->info("llama-server pid={} is healthy at {}", *pid, server->url());
  return server;
}

bool ManagedServer::exited() {
  if (reaped_) {
    return true;
  }
  const pid_t done = ::waitpid(pid_, &wait_status_, WNOHANG);
  if (done == pid_ || (done < 0 && errno == ECHILD)) {
    reaped_ = true;
  }
  return reaped_;
}

Status ManagedServer::wait_healthy(double timeout_s, const CancelToken& cancel) {
  llm::HttpSettings settings;
  settings.connect_timeout_s = kHealthRequestTimeoutS;
  settings.read_timeout_s = kHealthRequestTimeoutS;
  llm::HttpClient http(llm::BaseUrl{"http", "127.0.0.1", port_, ""}, settings, clock_);
  const MonoTime deadline = clock_->now() + from_seconds(timeout_s);
  while (true) {
    if (exited()) {
      const std::string how = WIFEXITED(wait_status_)
                                  ? fmt::format("exited with code {}", WEXITSTATUS(wait_status_))
                                  : fmt::format("was killed by signal {}", WTERMSIG(wait_status_));
      return Status(ErrorCode::kUnavailable,
                    fmt::format("llama-server {} before it became healthy; its log {} ends:\n{}",
                                how, log_path_.string(), log_tail()));
    }
    Result<llm::HttpResponse> health = http.get("/health");
    if (health && health->status == 200) {
      return Status::ok();
    }
    if (cancel.cancelled()) {
      return Status(ErrorCode::kCancelled, "cancelled while llama-server was starting");
    }
    if (clock_->now() >= deadline) {
      return Status(ErrorCode::kTimeout,
                    fmt::format("llama-server did not become healthy within {:g} s; its log {} "
                                "ends:\n{}",
                                timeout_s, log_path_.string(), log_tail()));
    }
    clock_->sleep_for(kHealthPollInterval);
  }
}

// The server leads a process group of its own (spawn() calls setpgid), so the signals go to the
// group: a wrapper script's children, such as the real server it starts, stop with it.
// The group id is signalled only right after the server is reaped or while it runs: until then
// no other process can get that id.
void ManagedServer::stop() {
  const bool reaped_before = reaped_;
  if (exited()) {
    if (!reaped_before) {
      ::kill(-pid_, SIGKILL);  // what the server left in its group
    }
    return;
  }
  ::kill(-pid_, SIGTERM);
  const MonoTime deadline = clock_->now() + from_seconds(kStopGraceS);
  while (!exited() && clock_->now() < deadline) {
    clock_->sleep_for(kHealthPollInterval);
  }
  if (!exited()) {
    get_logger("flow")->warn("llama-server pid={} ignored SIGTERM for {:g} s: sending SIGKILL",
                             pid_, kStopGraceS);
    ::kill(-pid_, SIGKILL);
    ::waitpid(pid_, &wait_status_, 0);
    reaped_ = true;
  }
  // Group members that outlived the server got SIGTERM with it; those still running stop now.
  ::kill(-pid_, SIGKILL);
  get_logger("flow")->info("llama-server pid={} stopped", pid_);
}

std::string ManagedServer::log_tail(size_t lines) const {
  std::ifstream in(log_path_);
  std::deque<std::string> tail;
  std::string line;
  while (std::getline(in, line)) {
    tail.push_back(line);
    if (tail.size() > lines) {
      tail.pop_front();
    }
  }
  // No line break after the last line: print_error() keeps a break only before an indented line,
  // so a final one would be printed as the text "\n".
  std::string text;
  for (const std::string& kept : tail) {
    text += (text.empty() ? "  " : "\n  ") + kept;
  }
  return text.empty() ? "  (empty)" : text;
}

}  // namespace ollamaflow::flow
