// Structured logging on spdlog. Every component takes a named logger (get_logger("llm")), so each
// line carries its component; ids (run, task, agent) go into the message as key=value pairs.
// Lifecycle events log at info, per-request detail at debug. Logs go to stderr so that stdout
// stays free for reports and JSON output.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

#include "core/status.h"

namespace ollamaflow {

// Configures every logger: `level` is one of trace, debug, info, warn, error, critical, off;
// `json` switches to one JSON object per line. Returns kInvalidArgument for an unknown level.
Status init_logging(std::string_view level, bool json);

// Returns the formatter of every logger: text lines that start with the time (see
// SimulatedLogTime), or with `json` one JSON object per line. Control characters in the message
// of a text line are escaped.
std::unique_ptr<spdlog::formatter> make_log_formatter(bool json);

// Returns the logger for `component`, creating it with the current settings. Safe from any
// thread: a logger created before is found under a shared lock, so callers do not queue.
std::shared_ptr<spdlog::logger> get_logger(const std::string& component);

struct SimulatedTimeSource;

// Makes every log line carry the time of a simulation in place of the wall time, for as long as
// the object lives. The simulator runs in virtual time, where an hour takes under a second, so
// the wall time of its lines is meaningless. A text line then starts with `sim=LABEL t=SECONDSs`,
// such as "sim=HYBRID t=125.300s", and a JSON line has "sim" and "sim_time_s" in place of "time".
// `seconds` returns the virtual time in seconds and is called from the thread that logs, so it
// must be thread-safe. A second object replaces the first until it ends, so simulations that run
// at the same time on several threads would label each other's lines.
class SimulatedLogTime {
 public:
  SimulatedLogTime(std::string label, std::function<double()> seconds);
  ~SimulatedLogTime();
  SimulatedLogTime(const SimulatedLogTime&) = delete;
  SimulatedLogTime& operator=(const SimulatedLogTime&) = delete;

 private:
  std::shared_ptr<const SimulatedTimeSource> previous_;
};

// How many lines of one repeated kind pass a LogRateLimiter: the first `burst` of each
// `interval`.
struct LogLimit {
  size_t burst = 5;
  std::chrono::steady_clock::duration interval = std::chrono::seconds(60);
};

// Rate-limits one kind of log line that can repeat once per task or request, such as a task
// failure while the server rejects every request. Of each `interval`, the first `burst` lines
// pass and the rest are counted. The first call after the interval logs one line with that count
// before its own line, and flush() logs a count that is still open. Thread-safe.
class LogRateLimiter {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  // An interval that never ends: the first `burst` lines pass, and flush() counts the rest.
  static constexpr std::chrono::steady_clock::duration kEndlessInterval =
      std::chrono::steady_clock::duration::max();

  // `what` names the line in the count line, e.g. "task failed".
  LogRateLimiter(std::shared_ptr<spdlog::logger> logger, spdlog::level::level_enum level,
                 std::string what, size_t burst, std::chrono::steady_clock::duration interval);

  // Returns true when the caller logs this line, false when it was counted instead.
  bool allow(TimePoint now = std::chrono::steady_clock::now());
  // Logs the count of the lines suppressed since the last count line, if any.
  void flush();
  // Returns the lines suppressed since the last count line.
  size_t suppressed() const;

 private:
  void log_count_locked();

  const std::shared_ptr<spdlog::logger> logger_;
  const spdlog::level::level_enum level_;
  const std::string what_;
  const size_t burst_;
  const std::chrono::steady_clock::duration interval_;
  mutable std::mutex mutex_;
  bool started_ = false;
  TimePoint window_start_;
  size_t passed_ = 0;  // lines let through in the current interval
  size_t suppressed_ = 0;
};

}  // namespace ollamaflow
