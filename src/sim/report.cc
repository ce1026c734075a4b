#include "sim/report.h"

#include <filesystem>
#include <fstream>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace ollamaflow::sim {
namespace {

std::string optional_text(const std::optional<double>& value, const char* format) {
  return value ? fmt::format(fmt::runtime(format), *value) : "-";
}

nlohmann::json actions_json(const RunResult& run) {
  nlohmann::json actions = nlohmann::json::array();
  for (const ActionRecord& action : run.actions) {
    actions.push_back({{"t", action.t},
                       {"from", action.from},
                       {"to", action.to},
                       {"recorded", action.recorded},
                       {"reason", action.reason}});
  }
  return actions;
}

nlohmann::json points_json(const RunResult& run) {
  nlohmann::json points = nlohmann::json::array();
  for (const TimePoint& point : run.points) {
    points.push_back({{"t", point.t},
                      {"arrival_rate", point.arrival_rate},
                      {"queued", point.queued},
                      {"agents", point.agents},
                      {"running", point.running}});
  }
  return points;
}

Status write_file(const std::filesystem::path& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) {
    return Status(
        ErrorCode::kIoError,
        fmt::format("writing {} failed: check that the folder is writable", path.string()));
  }
  return Status::ok();
}

// The table's short column headers with their meaning, printed as a legend under the table.
// docs/simulator.md defines each figure in full under the same names.
constexpr std::pair<std::string_view, std::string_view> kColumnLegend[] = {
    {"agent-s", "agent-seconds: agents in the pool (starting to draining) times seconds"},
    {"x orc", "agent-seconds / the oracle's on the same trace and seed"},
    {"flips", "direction changes of the pool per 10 minutes"},
    {"gap s", "min gap: the shortest time between two opposite actions, in seconds"},
    {"react s", "reaction: the worst time from a surge to the next decision that adds agents"},
    {"peak", "the most agents at once"},
    {"x pk", "peak / the oracle's peak"},
    {"kill", "started tasks cancelled by a drain"},
    {"503", "server answers with 503"},
    {"fail", "requests that failed"},
    {"unst", "requests that had not started when the run ended"},
    {"oom", "memory overcommits"},
    {"rec %", "share of the pool changes whose decision has a record"},
};

// Returns a wait percentile of `figures` for the table, or "-" when no request has a wait.
std::string wait_text(const Figures& figures, double wait_s) {
  return figures.wait_count > 0 ? fmt::format("{:.1f}", wait_s) : "-";
}

}  // namespace

std::string format_table(const SimulationReport& report) {
  std::string out = fmt::format("trace: {}\nstart-up time: {:.0f} s, seed {}\n\n",
                                report.trace_description, report.startup_s, report.seed);
  out += fmt::format(
      "{:<17} {:>8} {:>8} {:>8} {:>9} {:>6} {:>6} {:>7} {:>7} {:>5} {:>5} {:>4} "
      "{:>4} {:>5} {:>5} {:>4} {:>5}\n",
      "policy", "wait p50", "wait p95", "wait p99", "agent-s", "x orc", "flips", "gap s", "react s",
      "peak", "x pk", "kill", "503", "fail", "unst", "oom", "rec %");
  std::vector<std::string> partial_waits;
  std::vector<std::string> unstarted_runs;
  for (const PolicyRun& entry : report.runs) {
    const Figures& f = entry.figures;
    out += fmt::format(
        "{:<17} {:>8} {:>8} {:>8} {:>9.0f} {:>6} {:>6.2f} {:>7} {:>7} {:>5} {:>5} {:>4} "
        "{:>4} {:>5} {:>5} {:>4} {:>5.0f}\n",
        f.policy, wait_text(f, f.wait_p50_s), wait_text(f, f.wait_p95_s),
        wait_text(f, f.wait_p99_s), f.agent_seconds, optional_text(f.oracle_ratio, "{:.2f}"),
        f.flips_per_10min, optional_text(f.min_dwell_s, "{:.0f}"),
        optional_text(f.reaction_s, "{:.1f}"), f.peak_agents, optional_text(f.peak_ratio, "{:.2f}"),
        f.killed, f.rejected_503, f.failed, f.unstarted, f.overcommits, f.recorded_share * 100);
    if (f.wait_count < f.requests) {
      partial_waits.push_back(fmt::format("{} {} of {} ({} failed without starting)", f.policy,
                                          f.wait_count, f.requests, f.requests - f.wait_count));
    }
    if (f.unstarted > 0) {
      unstarted_runs.push_back(fmt::format("{} ended at {:.0f} s", f.policy, entry.run.ended_at_s));
    }
  }
  out +=
      "\nwait p50, p95 and p99 are percentiles of the queue wait in seconds, from a request's "
      "arrival until a server slot starts it, not of the time to complete it.\n";
  out += "\ncolumns:\n";
  for (const auto& [header, meaning] : kColumnLegend) {
    out += fmt::format("  {:<8} {}\n", header, meaning);
  }
  if (!partial_waits.empty()) {
    out += fmt::format(
        "\nfail counts requests that failed, such as those the server kept answering with 503. "
        "A request that failed without starting has no queue wait and is left out of the waits, "
        "so the waits cover only part of the requests: {}.\n",
        fmt::join(partial_waits, ", "));
  }
  if (!unstarted_runs.empty()) {
    out += fmt::format(
        "\nunst counts requests that had not started when the run ended, and their waits count "
        "until the end. A run goes on after the trace until its queue drains, for at most {:.0f} "
        "s: {}.\n",
        report.drain_limit_s, fmt::join(unstarted_runs, ", "));
  }
  out += "\ngoals missed per policy (the goals are set for the default strategy, HYBRID):\n";
  for (const PolicyRun& entry : report.runs) {
    std::vector<std::string> missed;
    for (const GoalCheck& goal : entry.goals) {
      if (goal.met) {
        continue;
      }
      // The cost goal counts only while the wait goal holds, so a low cost can miss it.
      const bool missed_by_waits =
          goal.value <= goal.limit && goal.goal.find("wait goal met") != std::string::npos;
      // The goals of zero events ("0 server 503s") count events, so they print whole numbers.
      const bool counts_events = goal.goal.rfind("0 ", 0) == 0;
      const std::string value =
          counts_events ? fmt::format("{:.0f}", goal.value) : fmt::format("{:.2f}", goal.value);
      missed.push_back(fmt::format("{} (is {}{})", goal.goal, value,
                                   missed_by_waits ? ", but the wait goal is missed" : ""));
    }
    out += fmt::format("  {:<17} {}\n", entry.figures.policy,
                       missed.empty() ? "none" : fmt::format("{}", fmt::join(missed, "; ")));
  }
  return out;
}

nlohmann::json report_json(const SimulationReport& report) {
  nlohmann::json runs = nlohmann::json::array();
  for (const PolicyRun& entry : report.runs) {
    nlohmann::json goals = nlohmann::json::array();
    for (const GoalCheck& goal : entry.goals) {
      goals.push_back(goal.to_json());
    }
    runs.push_back({{"figures", entry.figures.to_json()},
                    {"goals", goals},
                    {"evaluations", entry.run.evaluations},
                    {"ended_at_s", entry.run.ended_at_s},
                    {"actions", actions_json(entry.run)},
                    {"points", points_json(entry.run)}});
  }
  return {{"simulated", true},
          {"trace", report.trace},
          {"trace_description", report.trace_description},
          {"seed", report.seed},
          {"startup_s", report.startup_s},
          {"settings", report.settings},
          {"runs", runs}};
}

Status write_report(const SimulationReport& report, const std::string& dir) {
  std::error_code error;
  std::filesystem::create_directories(dir, error);
  if (error) {
    return Status(ErrorCode::kIoError,
                  fmt::format("creating output folder {} failed: {}", dir, error.message()));
  }
  Status json = write_file(std::filesystem::path(dir) / "simulation.json",
                           report_json(report).dump(2) + "\n");
  if (!json) {
    return json;
  }
  return write_file(std::filesystem::path(dir) / "simulation.svg", render_svg(report));
}

nlohmann::json scenario_json(const ScenarioSettings& settings) {
  const ServerParams& server = settings.server;
  return {{"startup_s", settings.startup_s},
          {"wait_target_s", settings.wait_target_s},
          {"initial_agents", settings.initial_agents},
          {"min_agents", settings.config.gpu_scaling.min_agents},
          {"max_agents", settings.config.gpu_scaling.max_agents.value_or(8)},
          {"batch_creation_size", settings.config.agent_management.batch_creation_size},
          {"model", settings.config.server.model},
          {"server",
           {{"gpu_total_mib", server.gpu_total_mib},
            {"weights_mib", server.weights_mib},
            {"graph_mib", server.graph_mib},
            {"reserve_mib", server.reserve_mib},
            {"kv_per_slot_mib", server.kv_per_slot_mib},
            {"slots", server.slots},
            {"max_queue", server.max_queue},
            {"prompt_tokens_per_s", server.prompt_tokens_per_s},
            {"output_tokens_per_s", server.output_tokens_per_s},
            {"slowdown_per_slot", server.slowdown_per_slot}}},
          {"faults", settings.faults.to_json()}};
}

}  // namespace ollamaflow::sim
