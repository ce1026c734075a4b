// The pure part of a scaling evaluation: each signal's proposal, the protection ladder and the
// limits, without windows or cooldowns. Safe to call from any thread.
#pragma once

#include "core/clock.h"
#include "scaling/decision.h"
#include "scaling/signals.h"
#include "scaling/strategy.h"

namespace ollamaflow::scaling {

// Computes the recommendation for `inputs` at time `now`. A signal older than
// params.stale_after_s counts as missing. Protection rules use only a fresh GPU signal.
Recommendation recommend(const EngineInputs& inputs, const StrategyParams& params, MonoTime now);

}  // namespace ollamaflow::scaling
