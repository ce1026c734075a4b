// Signal handling: Ctrl-C, SIGTERM and SIGHUP for long commands, and SIGPIPE for all of them.
#pragma once

#include <string>
#include <vector>

#include "core/cancel.h"

namespace ollamaflow::cli {

// Signals that arrive within this interval of the first one count as that same signal. GNU
// `timeout` sends SIGTERM to the child and then to its whole process group, so the child gets
// two signals microseconds apart. A person who presses Ctrl-C again usually waits longer.
inline constexpr int kRepeatedSignalWindowMs = 500;

// Installs SIGINT, SIGTERM and SIGHUP handlers and returns the token they cancel. The first signal
// cancels the token, so the run stops new work, cancels requests in flight and writes its
// report. A second signal more than kRepeatedSignalWindowMs after the first exits at once with
// status 130, after it prints the line of set_immediate_exit_notice() and removes its folders.
CancelTokenPtr install_interrupt_handler();

// Ignores SIGPIPE in the whole process, so that a write to a closed pipe or socket fails with
// EPIPE instead of ending the process. `ollama-flow run ... | head -2` then still finishes the run
// and journals it. The llama-server of --start-server gets the default action back before exec.
void ignore_broken_pipes();

// Replaces the token that the next signal cancels, e.g. for each goal of the interactive loop,
// and clears the notice of set_immediate_exit_notice().
CancelTokenPtr renew_interrupt_token();

// Sets what a second signal does before it exits at once: it writes `line` and a line break to
// stderr, and removes each folder of `empty_folders` that is still empty (rmdir(2) removes only
// an empty folder), in the given order. Thread-safe; each call replaces the previous notice.
void set_immediate_exit_notice(std::string line, std::vector<std::string> empty_folders);

}  // namespace ollamaflow::cli
