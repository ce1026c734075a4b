// Signal handling: Ctrl-C, SIGTERM and SIGHUP for long commands, and SIGPIPE for all of them.
#pragma once

#include "core/cancel.h"

namespace ollamaflow::cli {

// Installs SIGINT, SIGTERM and SIGHUP handlers and returns the token they cancel. The first signal
// cancels the token, so the run stops new work, cancels requests in flight and writes its
// report. A second signal exits at once with status 130.
CancelTokenPtr install_interrupt_handler();

// Ignores SIGPIPE in the whole process, so that a write to a closed pipe or socket fails with
// EPIPE instead of ending the process. `ollama-flow run ... | head -2` then still finishes the run
// and journals it. The llama-server of --start-server gets the default action back before exec.
void ignore_broken_pipes();

// Replaces the token that the next signal cancels, e.g. for each goal of the interactive loop.
CancelTokenPtr renew_interrupt_token();

}  // namespace ollamaflow::cli
