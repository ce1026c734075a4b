#include "cli/status_text.h"

#include <fmt/format.h>

#include <iostream>
#include <string>

#include "core/terminal_text.h"

namespace ollamaflow::cli {
namespace {

using nlohmann::json;

// The member `key` of `object`, or null when either is missing: status files are read from
// disk, so every access tolerates a missing or odd field.
const json& member(const json& object, const char* key) {
  static const json kNull;
  if (!object.is_object()) {
    return kNull;
  }
  const auto it = object.find(key);
  return it == object.end() ? kNull : *it;
}

// The value as short text: strings as they are, numbers with up to `digits` decimals, "-" for
// anything else.
std::string text(const json& value, int digits = 1) {
  if (value.is_string()) {
    return value.get<std::string>();
  }
  if (value.is_number_integer()) {
    return std::to_string(value.get<int64_t>());
  }
  if (value.is_number()) {
    return fmt::format("{:.{}f}", value.get<double>(), digits);
  }
  if (value.is_boolean()) {
    return value.get<bool>() ? "yes" : "no";
  }
  return "-";
}

}  // namespace

void print_scaling(const json& scaling, const json& agents) {
  if (!scaling.is_object() || scaling.empty()) {
    std::cout << "  scaling:  off (a fixed pool)\n";
    return;
  }
  const json& decision = member(scaling, "last_decision");
  // The engine's count is its input at the last evaluation, before that evaluation's decision
  // was carried out. The pool's count ("capacity": agents that are neither draining nor
  // ended) is the one now, which the agent list below shows.
  std::cout << fmt::format(
      "  scaling:  {} (min {}, max {}), evaluations {}, every {} s{}\n"
      "            agents {} now, {} at the last evaluation\n",
      text(member(scaling, "strategy")), text(member(scaling, "min_agents")),
      text(member(scaling, "max_agents")), text(member(scaling, "evaluations")),
      text(member(scaling, "check_interval_s"), 0),
      member(scaling, "dry_run") == true ? ", dry run" : "", text(member(agents, "capacity")),
      text(member(scaling, "active_agents")));
  if (decision.is_object()) {
    std::cout << fmt::format("  decision: {} {} -> {}: {}\n", text(member(decision, "action")),
                             text(member(decision, "from")), text(member(decision, "to")),
                             escape_control_characters(text(member(decision, "reason"))));
  }
}

void print_metrics(const json& metrics) {
  const json& window = member(metrics, "short_window");
  std::cout << fmt::format(
      "  queue:    {} queued (oldest {} s), {} running, severity {} ({})\n",
      text(member(metrics, "queue_length")), text(member(metrics, "oldest_queued_s")),
      text(member(metrics, "running_tasks")), text(member(metrics, "severity")),
      text(member(metrics, "severity_reason")));
  std::cout << fmt::format("  waits:    p50 {} s, p95 {} s over {} s; {} done, {} failed\n",
                           text(member(window, "wait_p50_s")), text(member(window, "wait_p95_s")),
                           text(member(window, "window_s"), 0), text(member(window, "completed")),
                           text(member(window, "failed")));
  const json& server = member(metrics, "server");
  if (!member(server, "total_slots").is_null() || !member(server, "busy_slots").is_null()) {
    std::cout << fmt::format("  server:   {} slots, {} busy, {} queued inside the server\n",
                             text(member(server, "total_slots")),
                             text(member(server, "busy_slots")),
                             text(member(server, "queued_requests")));
  }
}

void print_agents(const json& agents) {
  const json& list = member(agents, "agents");
  if (!list.is_array() || list.empty()) {
    std::cout << "  agents:   none\n";
    return;
  }
  std::cout << "  agents:\n";
  for (const json& agent : list) {
    // Agent ids name no role, because an agent takes tasks of every role: the task's role is
    // shown with it.
    std::string task = text(member(agent, "current_task"));
    if (const json& role = member(agent, "current_task_role"); role.is_string()) {
      task += " (" + role.get<std::string>() + ")";
    }
    std::cout << fmt::format(
        "    {:<10} {:<12} {:<20} task {:<28} done {} failed {}\n", text(member(agent, "id")),
        text(member(agent, "state")), escape_control_characters(text(member(agent, "model"))), task,
        text(member(agent, "tasks_done")), text(member(agent, "tasks_failed")));
  }
}

void print_status(const json& status) {
  std::cout << "Run " << text(member(status, "run_id")) << " (pid " << text(member(status, "pid"))
            << "), goal: " << escape_control_characters(text(member(status, "goal"))) << "\n";
  // A simulated run's figures come from the built-in simulated server, not a model.
  std::cout << "  backend:  " << text(member(status, "backend"))
            << (member(status, "simulated") == true ? "  [SIMULATED: output is placeholder text]"
                                                    : "")
            << "\n";
  if (member(status, "phase") == "planning") {
    std::cout << "  phase:    planning: the plan request is with the model, no agent runs yet\n";
    return;
  }
  print_scaling(member(status, "scaling"), member(status, "agents"));
  print_metrics(member(status, "metrics"));
  print_agents(member(status, "agents"));
}

}  // namespace ollamaflow::cli
