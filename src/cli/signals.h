// Ctrl-C handling for long commands.
#pragma once

#include "core/cancel.h"

namespace ollamaflow::cli {

// Installs SIGINT and SIGTERM handlers and returns the token they cancel. The first signal
// cancels the token, so the run stops new work, cancels requests in flight and writes its
// report; a second signal exits at once with status 130.
CancelTokenPtr install_interrupt_handler();

// Replaces the token that the next signal cancels, e.g. for each goal of the interactive loop.
CancelTokenPtr renew_interrupt_token();

}  // namespace ollamaflow::cli
