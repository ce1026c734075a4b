#include "llm/model_load_wait.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::llm {
namespace {

constexpr double kCancelCheckIntervalS = 0.05;

// Sleeps `seconds` of `clock` in steps of kCancelCheckIntervalS. Returns false when `cancel`
// fired meanwhile.
bool sleep_unless_cancelled(Clock& clock, double seconds, const CancelTokenPtr& cancel) {
  const MonoTime until = clock.now() + from_seconds(seconds);
  while (clock.now() < until) {
    if (cancel != nullptr && cancel->cancelled()) {
      return false;
    }
    clock.sleep_for(std::min(until - clock.now(), from_seconds(kCancelCheckIntervalS)));
  }
  return cancel == nullptr || !cancel->cancelled();
}

}  // namespace

ProbeOutcome wait_for_model_load(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                 CancelTokenPtr cancel) {
  if (!clock) {
    clock = system_clock();
  }
  ProbeOutcome outcome = probe_server_outcome(settings, cancel);
  if (!outcome.loading_model) {
    return outcome;
  }
  const double timeout_s = settings.first_token_timeout_s;
  const MonoTime start = clock->now();
  get_logger("llm")->info(
      "the server at {} is loading its model (it replies HTTP 503 \"Loading model\"); waiting "
      "up to {:g} s (server.first_token_timeout_s) for it to finish",
      settings.host, timeout_s);
  double next_progress_s = kModelLoadProgressIntervalS;
  while (outcome.loading_model) {
    const double waited_s = to_seconds(clock->now() - start);
    if (waited_s >= timeout_s) {
      outcome.status =
          Status(ErrorCode::kTimeout,
                 fmt::format("the server at {} was still loading its model after {:.0f} s "
                             "(server.first_token_timeout_s): wait until its log shows the model "
                             "loaded and run again, or raise server.first_token_timeout_s",
                             settings.host, waited_s));
      return outcome;
    }
    if (waited_s >= next_progress_s) {
      get_logger("llm")->info(
          "the server at {} is still loading its model after {:.0f} s of {:g} s", settings.host,
          waited_s, timeout_s);
      next_progress_s += kModelLoadProgressIntervalS;
    }
    if (!sleep_unless_cancelled(*clock, kModelLoadPollIntervalS, cancel)) {
      return {Status(
          ErrorCode::kCancelled,
          fmt::format("cancelled while the server at {} was loading its model", settings.host))};
    }
    outcome = probe_server_outcome(settings, cancel);
  }
  get_logger("llm")->info("the server at {} loaded its model after {:.1f} s", settings.host,
                          to_seconds(clock->now() - start));
  return outcome;
}

}  // namespace ollamaflow::llm
