#include "sim/scenario.h"

#include <algorithm>

#include <fmt/format.h>

#include "sim/policy.h"

namespace ollamaflow::sim {

Result<std::vector<std::string>> resolve_policies(const std::vector<std::string>& names) {
  std::vector<std::string> resolved;
  for (const std::string& name : names) {
    if (name == "all") {
      for (const std::string& policy : policy_names()) {
        if (std::find(resolved.begin(), resolved.end(), policy) == resolved.end()) {
          resolved.push_back(policy);
        }
      }
      continue;
    }
    const auto known =
        std::find_if(policy_names().begin(), policy_names().end(), [&](const std::string& policy) {
          return policy == name ||
                 (is_engine_policy(name) && is_engine_policy(policy) &&
                  scaling::parse_strategy(name).value() == scaling::parse_strategy(policy).value());
        });
    if (known == policy_names().end()) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("unknown strategy \"{}\": use one of {} or all", name,
                                fmt::join(policy_names(), ", ")));
    }
    if (std::find(resolved.begin(), resolved.end(), *known) == resolved.end()) {
      resolved.push_back(*known);
    }
  }
  if (resolved.empty()) {
    return Status(ErrorCode::kInvalidArgument, "no strategy given: name one or use all");
  }
  return resolved;
}

Result<SimulationReport> run_scenario(const Trace& trace, const std::vector<std::string>& policies,
                                      const ScenarioSettings& settings, uint64_t seed) {
  SimulationReport report;
  report.trace = trace.name;
  report.trace_description = trace.description;
  report.seed = seed;
  report.startup_s = settings.startup_s;
  report.drain_limit_s = settings.drain_limit_s;
  report.settings = scenario_json(settings);

  Result<RunResult> oracle_run = run_simulation(trace, "oracle", settings);
  if (!oracle_run) {
    return oracle_run.status();
  }
  const Figures oracle = compute_figures(*oracle_run);
  for (const std::string& policy : policies) {
    PolicyRun entry;
    if (policy == "oracle") {
      entry.run = *oracle_run;
    } else {
      Result<RunResult> run = run_simulation(trace, policy, settings);
      if (!run) {
        return run.status();
      }
      entry.run = std::move(run).value();
    }
    entry.figures = compute_figures(entry.run);
    compare_with_oracle(entry.figures, oracle);
    entry.goals = check_goals(entry.figures, trace.name, settings.startup_s);
    report.runs.push_back(std::move(entry));
  }
  return report;
}

}  // namespace ollamaflow::sim
