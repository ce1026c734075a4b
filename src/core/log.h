// Structured logging on spdlog. Every component takes a named logger (get_logger("llm")), so each
// line carries its component; ids (run, task, agent) go into the message as key=value pairs.
// Lifecycle events log at info, per-request detail at debug. Logs go to stderr so that stdout
// stays free for reports and JSON output.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/status.h"

namespace ollamaflow {

// Configures every logger: `level` is one of trace, debug, info, warn, error, critical, off;
// `json` switches to one JSON object per line. Returns kInvalidArgument for an unknown level.
Status init_logging(std::string_view level, bool json);

// Returns the logger for `component`, creating it with the current settings. Safe from any
// thread: a logger created before is found under a shared lock, so callers do not queue.
std::shared_ptr<spdlog::logger> get_logger(const std::string& component);

}  // namespace ollamaflow
