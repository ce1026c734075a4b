// Waiting for a model server that is still loading its model, before a run sends it work.
#pragma once

#include <memory>

#include "core/cancel.h"
#include "core/clock.h"
#include "core/config.h"
#include "llm/factory.h"

namespace ollamaflow::llm {

// Seconds between two probes of a server that is loading its model.
inline constexpr double kModelLoadPollIntervalS = 0.5;
// Seconds between two progress lines of a wait.
inline constexpr double kModelLoadProgressIntervalS = 15;

// Probes the server of `settings` as probe_server() does. While the server replies that it is
// loading its model (ProbeOutcome::loading_model), logs that once on the "llm" logger, probes
// again every kModelLoadPollIntervalS and logs the time waited every
// kModelLoadProgressIntervalS, for at most settings.first_token_timeout_s seconds of `clock`.
//
// Returns the first outcome that is not a loading model. When the server is still loading at
// the bound, returns kTimeout naming the server, the time waited and the setting, with
// loading_model set. Returns kCancelled when `cancel` fires while it waits; it checks `cancel`
// every 50 ms between probes, and the probe checks it too.
ProbeOutcome wait_for_model_load(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                 CancelTokenPtr cancel = nullptr);

}  // namespace ollamaflow::llm
