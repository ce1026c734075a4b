#include "cli/signals.h"

#include <unistd.h>
#include <atomic>
#include <csignal>

namespace ollamaflow::cli {
namespace {

// The handler may only touch lock-free atomics. The token it cancels stays alive because
// `held` keeps a reference until it is replaced.
std::atomic<CancelToken*> current_token{nullptr};
std::atomic<int> signal_count{0};
CancelTokenPtr held;

void on_signal(int) {
  if (signal_count.fetch_add(1) >= 1) {
    _exit(130);
  }
  if (CancelToken* token = current_token.load()) {
    token->cancel();
  }
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
  signal_count.store(0);
  return held;
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
