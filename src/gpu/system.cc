#include "gpu/system.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "gpu/types.h"

extern char** environ;

namespace ollamaflow::gpu {
namespace {

constexpr size_t kMaxCommandOutput = 8 * 1024 * 1024;

// Closes a file descriptor when it goes out of scope.
class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  void reset(int fd = -1) {
    if (fd_ >= 0) {
      ::close(fd_);
    }
    fd_ = fd;
  }

 private:
  int fd_;
};

Status make_pipe(Fd& read_end, Fd& write_end) {
  std::array<int, 2> fds{};
  if (::pipe2(fds.data(), O_CLOEXEC) != 0) {
    return {ErrorCode::kIoError, fmt::format("pipe failed: {}", std::strerror(errno))};
  }
  read_end.reset(fds[0]);
  write_end.reset(fds[1]);
  return Status::ok();
}

int exit_code_of(int wait_status) {
  if (WIFEXITED(wait_status)) {
    return WEXITSTATUS(wait_status);
  }
  if (WIFSIGNALED(wait_status)) {
    return 128 + WTERMSIG(wait_status);
  }
  return -1;
}

// Reads both pipes until they close, the deadline passes or the output limit is reached.
// Returns kTimeout or kIoError in the two failure cases.
Status drain_pipes(int out_fd, int err_fd, CommandOutput& output, const Clock& clock,
                   MonoTime deadline, const std::string& program) {
  std::array<pollfd, 2> fds{pollfd{out_fd, POLLIN, 0}, pollfd{err_fd, POLLIN, 0}};
  std::array<std::string*, 2> sinks{&output.out, &output.err};
  std::array<char, 65536> buffer{};
  int open_count = 2;
  while (open_count > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - clock.now());
    if (left.count() <= 0) {
      return {ErrorCode::kTimeout,
              fmt::format("{} did not finish in time and was killed", program)};
    }
    int ready = ::poll(fds.data(), fds.size(), static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return {ErrorCode::kIoError,
              fmt::format("poll on {} failed: {}", program, std::strerror(errno))};
    }
    for (size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) {
        continue;
      }
      ssize_t n = ::read(fds[i].fd, buffer.data(), buffer.size());
      if (n <= 0) {
        fds[i].fd = -1;
        --open_count;
        continue;
      }
      sinks[i]->append(buffer.data(), static_cast<size_t>(n));
      if (output.out.size() + output.err.size() > kMaxCommandOutput) {
        return {ErrorCode::kIoError,
                fmt::format("{} printed more than {} bytes", program, kMaxCommandOutput)};
      }
    }
  }
  return Status::ok();
}

Result<CommandOutput> run_process(const std::vector<std::string>& argv, Duration timeout,
                                  const Clock& clock) {
  if (argv.empty()) {
    return Result<CommandOutput>(ErrorCode::kInvalidArgument, "empty command line");
  }
  const std::string& program = argv[0];
  Fd out_read, out_write, err_read, err_write;
  if (Status s = make_pipe(out_read, out_write); !s)
    return s;
  if (Status s = make_pipe(err_read, err_write); !s)
    return s;

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, out_write.get(), 1);
  posix_spawn_file_actions_adddup2(&actions, err_write.get(), 2);

  std::vector<char*> args;
  args.reserve(argv.size() + 1);
  for (const auto& arg : argv) {
    args.push_back(const_cast<char*>(arg.c_str()));
  }
  args.push_back(nullptr);

  MonoTime deadline = clock.now() + timeout;
  pid_t pid = 0;
  int rc = ::posix_spawnp(&pid, program.c_str(), &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc == ENOENT) {
    return Result<CommandOutput>(ErrorCode::kNotFound,
                                 fmt::format("{} not found on PATH", program));
  }
  if (rc != 0) {
    return Result<CommandOutput>(ErrorCode::kIoError,
                                 fmt::format("cannot start {}: {}", program, std::strerror(rc)));
  }
  out_write.reset();
  err_write.reset();

  CommandOutput output;
  Status drained = drain_pipes(out_read.get(), err_read.get(), output, clock, deadline, program);
  if (!drained) {
    ::kill(pid, SIGKILL);
  }
  int wait_status = 0;
  while (::waitpid(pid, &wait_status, 0) < 0 && errno == EINTR) {
  }
  if (!drained) {
    return drained;
  }
  output.exit_code = exit_code_of(wait_status);
  return output;
}

class DlLibrary final : public SharedLibrary {
 public:
  explicit DlLibrary(void* handle) : handle_(handle) {}
  ~DlLibrary() override { ::dlclose(handle_); }
  void* symbol(const char* name) const override { return ::dlsym(handle_, name); }

 private:
  void* handle_;
};

class DlLoader final : public LibraryLoader {
 public:
  Result<std::unique_ptr<SharedLibrary>> open(const std::string& name) override {
    void* handle = ::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL);
    if (handle == nullptr) {
      const char* message = ::dlerror();
      return Result<std::unique_ptr<SharedLibrary>>(
          ErrorCode::kNotFound,
          fmt::format("cannot load {}: {}", name, message ? message : "unknown dlopen error"));
    }
    return std::unique_ptr<SharedLibrary>(std::make_unique<DlLibrary>(handle));
  }
};

}  // namespace

CommandRunner make_process_runner(std::shared_ptr<Clock> clock) {
  return [clock](const std::vector<std::string>& argv, Duration timeout) {
    return run_process(argv, timeout, *clock);
  };
}

std::shared_ptr<LibraryLoader> make_dlopen_loader() {
  return std::make_shared<DlLoader>();
}

ProbeContext system_probe_context(std::shared_ptr<Clock> clock) {
  ProbeContext context;
  context.run_command = make_process_runner(std::move(clock));
  context.loader = make_dlopen_loader();
  return context;
}

Result<ProbeContext> machine_probe_context(
    std::shared_ptr<Clock> clock,
    const std::function<std::optional<std::string>(const std::string&)>& env) {
  ProbeContext context = system_probe_context(std::move(clock));
  std::optional<std::string> overrides = env(kMemoryOverrideVariable);
  if (overrides && !overrides->empty()) {
    auto parsed = parse_memory_overrides(*overrides);
    if (!parsed) {
      return parsed.status().with_context(
          fmt::format("environment variable {}=\"{}\"", kMemoryOverrideVariable, *overrides));
    }
    context.memory_total_overrides = std::move(parsed).value();
  }
  return context;
}

Result<std::vector<std::pair<std::string, uint64_t>>> parse_memory_overrides(
    const std::string& text) {
  using Overrides = std::vector<std::pair<std::string, uint64_t>>;
  Overrides overrides;
  size_t start = 0;
  while (start <= text.size()) {
    size_t end = text.find(',', start);
    if (end == std::string::npos)
      end = text.size();
    std::string entry = text.substr(start, end - start);
    start = end + 1;
    if (entry.empty()) {
      continue;
    }
    std::string key = "*";
    std::string number = entry;
    if (size_t eq = entry.find('='); eq != std::string::npos) {
      key = entry.substr(0, eq);
      number = entry.substr(eq + 1);
    }
    uint64_t mib = 0;
    auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), mib);
    if (key.empty() || ec != std::errc() || ptr != number.data() + number.size() || mib == 0) {
      return Result<Overrides>(
          ErrorCode::kInvalidArgument,
          fmt::format("invalid GPU memory override '{}': expected MiB or DEVICE=MiB, e.g. "
                      "'24576' or 'gpu0=24576,gpu1=16384'",
                      entry));
    }
    overrides.emplace_back(key, mib * kMiB);
  }
  return overrides;
}

}  // namespace ollamaflow::gpu
