// Output of a simulation: the table per strategy, the JSON file with every figure, and the SVG
// plot of load, queue and agents over time. Pure functions, except write_report().
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/status.h"
#include "sim/driver.h"
#include "sim/figures.h"

namespace ollamaflow::sim {

// One policy's run on the scenario, with its figures and goals.
struct PolicyRun {
  RunResult run;
  Figures figures;
  std::vector<GoalCheck> goals;
};

struct SimulationReport {
  std::string trace;              // the trace kind or file name
  std::string trace_description;  // includes any rate scaling
  uint64_t seed = 0;
  double startup_s = 0;
  double drain_limit_s = 0;  // how long a run may go on after the trace for its queue to drain
  nlohmann::json settings;   // the scenario, for the JSON file
  std::vector<PolicyRun> runs;
};

// Returns a text table: one row per policy with the figures, and per row the goals missed.
std::string format_table(const SimulationReport& report);

// Returns the JSON document: settings, then per policy its figures, goals, actions and points.
nlohmann::json report_json(const SimulationReport& report);

// Returns an SVG document with one panel per policy: arrival rate, queued tasks and agents.
std::string render_svg(const SimulationReport& report);

// Writes simulation.json and simulation.svg into `dir`, creating it. Returns kIoError naming
// the file on failure.
Status write_report(const SimulationReport& report, const std::string& dir);

// Returns the scenario settings as JSON.
nlohmann::json scenario_json(const ScenarioSettings& settings);

}  // namespace ollamaflow::sim
