#include "cli/signals.h"

#include <time.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <memory>
#include <mutex>

namespace ollamaflow::cli {
namespace {

// The line that the handler prints and the folders it removes when it exits at once.
struct ExitNotice {
  std::string line;
  std::vector<std::string> empty_folders;
};

// The handler may only touch lock-free atomics and memory that no other thread changes. The token
// it cancels stays alive because `held` keeps a reference until it is replaced, and every notice
// stays alive until the process exits, because a handler may still read the one it loaded.
std::atomic<CancelToken*> current_token{nullptr};
// CLOCK_MONOTONIC time of the first signal in nanoseconds, 0 before it.
std::atomic<int64_t> first_signal_ns{0};
std::atomic<const ExitNotice*> current_notice{nullptr};
CancelTokenPtr held;
std::mutex notices_mutex;
std::vector<std::unique_ptr<ExitNotice>> notices;  // guarded by notices_mutex

constexpr char kDefaultExitLine[] =
    "ollama-flow: a second signal ended the process at once, without its report\n";

// clock_gettime() is async-signal-safe, unlike std::chrono::steady_clock::now().
int64_t monotonic_ns() {
  struct timespec now {};
  clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<int64_t>(now.tv_sec) * 1'000'000'000 + now.tv_nsec;
}

void write_all(const char* data, size_t size) {
  while (size > 0) {
    const ssize_t written = write(STDERR_FILENO, data, size);
    if (written <= 0) {
      return;
    }
    data += written;
    size -= static_cast<size_t>(written);
  }
}

// Uses only async-signal-safe calls: rmdir, write and _exit.
[[noreturn]] void exit_at_once() {
  const ExitNotice* notice = current_notice.load();
  if (notice == nullptr) {
    write_all(kDefaultExitLine, sizeof(kDefaultExitLine) - 1);
    _exit(130);
  }
  for (const std::string& folder : notice->empty_folders) {
    rmdir(folder.c_str());
  }
  write_all(notice->line.data(), notice->line.size());
  _exit(130);
}

void on_signal(int) {
  const int64_t now = monotonic_ns();
  int64_t first = 0;
  if (first_signal_ns.compare_exchange_strong(first, now)) {
    if (CancelToken* token = current_token.load()) {
      token->cancel();
    }
    return;
  }
  if (now - first < int64_t{kRepeatedSignalWindowMs} * 1'000'000) {
    return;
  }
  exit_at_once();
}

}  // namespace

void ignore_broken_pipes() {
  struct sigaction action {};
  action.sa_handler = SIG_IGN;
  sigemptyset(&action.sa_mask);
  sigaction(SIGPIPE, &action, nullptr);
}

CancelTokenPtr renew_interrupt_token() {
  held = std::make_shared<CancelToken>();
  current_token.store(held.get());
  current_notice.store(nullptr);
  first_signal_ns.store(0);
  return held;
}

void set_immediate_exit_notice(std::string line, std::vector<std::string> empty_folders) {
  auto notice = std::make_unique<ExitNotice>();
  notice->line = std::move(line) + "\n";
  notice->empty_folders = std::move(empty_folders);
  const ExitNotice* published = notice.get();
  std::lock_guard lock(notices_mutex);
  notices.push_back(std::move(notice));
  current_notice.store(published);
}

CancelTokenPtr install_interrupt_handler() {
  CancelTokenPtr token = renew_interrupt_token();
  struct sigaction action {};
  action.sa_handler = on_signal;
  sigemptyset(&action.sa_mask);
  sigaction(SIGINT, &action, nullptr);
  sigaction(SIGTERM, &action, nullptr);
  // A closed terminal sends SIGHUP: the run stops as after Ctrl-C, so that its journal and
  // workspace are finished instead of left 'interrupted'.
  sigaction(SIGHUP, &action, nullptr);
  return token;
}

}  // namespace ollamaflow::cli
