// Runs several policies on one trace and compares each with the block oracle. Runs one policy
// after another on the calling thread.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "sim/report.h"

namespace ollamaflow::sim {

// Expands "all" into every policy name and checks the others. Returns kInvalidArgument naming
// an unknown policy.
Result<std::vector<std::string>> resolve_policies(const std::vector<std::string>& names);

// Runs `policies` on `trace` plus the oracle (reported only when listed), fills the oracle
// ratios and checks the goals for the trace's kind (its name).
Result<SimulationReport> run_scenario(const Trace& trace, const std::vector<std::string>& policies,
                                      const ScenarioSettings& settings, uint64_t seed);

}  // namespace ollamaflow::sim
