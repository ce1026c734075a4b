#include <algorithm>
#include <cstdio>
#include <string>

#include "core/terminal_text.h"
#include "flow/run_types.h"

namespace ollamaflow::flow {
namespace {

using nlohmann::json;

std::string pad(const std::string& text, size_t width) {
  if (text.size() >= width) {
    return text;
  }
  return text + std::string(width - text.size(), ' ');
}

std::string format_seconds(double seconds) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.1fs", seconds);
  return buffer;
}

// Returns one line of the report, such as a goal or a task's error, with every control character
// escaped (newline and tab too), so that it cannot add or forge lines of the report.
std::string one_line(const std::string& text) {
  return escape_control_characters(text);
}

// Returns `text` with control characters escaped for a terminal as escape_control_characters()
// escapes them, except newline and tab, which lay out the report. So an escape sequence or a
// right-to-left override in a model's reply cannot move the cursor, retitle the window, hide
// lines or reorder the text.
std::string terminal_safe(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (const PrintedCharacter& character : printable_characters(text)) {
    if (character.text == "\\n") {
      out += '\n';
    } else if (character.text == "\\t") {
      out += '\t';
    } else {
      out += character.text;
    }
  }
  return out;
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < items.size(); ++i) {
    out += (i == 0 ? "" : separator) + items[i];
  }
  return out;
}

void append_task_table(const RunReport& report, std::string& out) {
  const std::vector<std::string> header = {"task",  "status", "role",          "agent",
                                           "model", "time",   "tokens in/out", "files"};
  std::vector<std::vector<std::string>> rows = {header};
  for (const TaskReport& task : report.tasks) {
    rows.push_back({one_line(task.id), task.status + (task.resumed ? " (earlier run)" : ""),
                    one_line(task.role), task.agent.empty() ? "-" : one_line(task.agent),
                    task.model.empty() ? "-" : one_line(task.model),
                    format_seconds(task.duration_s),
                    std::to_string(task.prompt_tokens) + "/" + std::to_string(task.output_tokens),
                    task.files.empty() ? "-" : one_line(join(task.files, ", "))});
  }
  std::vector<size_t> widths(header.size(), 0);
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      widths[i] = std::max(widths[i], row[i].size());
    }
  }
  for (const auto& row : rows) {
    std::string line = "  ";
    for (size_t i = 0; i < row.size(); ++i) {
      line += i + 1 == row.size() ? row[i] : pad(row[i], widths[i] + 2);
    }
    out += line + "\n";
  }
  for (const TaskReport& task : report.tasks) {
    if (!task.error.empty()) {
      out += "  " + one_line(task.id) + ": " + one_line(task.error) + "\n";
    }
  }
}

void append_scaling(const RunReport& report, std::string& out) {
  if (!report.auto_scaling) {
    return;
  }
  const size_t events = report.scaling_events.size();
  out += "\nAuto-scaling (" + report.strategy + "): " + std::to_string(events) +
         (events == 1 ? " scaling event\n" : " scaling events\n");
  for (const ScalingEventReport& event : report.scaling_events) {
    out += "  " + event.time + "  " + pad(event.action, 11) + std::to_string(event.from_count) +
           " -> " + std::to_string(event.to_count) + "  " + one_line(event.outcome) + "  " +
           one_line(event.reason) + "\n";
  }
  if (!report.agent_counts.empty()) {
    out += "  agents over time:";
    for (const AgentCountSample& sample : report.agent_counts) {
      out += " " + format_seconds(sample.t_s) + "=" + std::to_string(sample.agents);
    }
    out += "\n";
  }
}

}  // namespace

json report_to_json(const RunReport& report) {
  json tasks = json::array();
  for (const TaskReport& task : report.tasks) {
    tasks.push_back({{"id", task.id},
                     {"title", task.title},
                     {"role", task.role},
                     {"status", task.status},
                     {"agent", task.agent},
                     {"model", task.model},
                     {"duration_s", task.duration_s},
                     {"prompt_tokens", task.prompt_tokens},
                     {"output_tokens", task.output_tokens},
                     {"attempts", task.attempts},
                     {"files", task.files},
                     {"error", task.error},
                     {"resumed", task.resumed}});
  }
  json events = json::array();
  for (const ScalingEventReport& event : report.scaling_events) {
    events.push_back({{"time", event.time},
                      {"action", event.action},
                      {"from", event.from_count},
                      {"to", event.to_count},
                      {"reason", event.reason},
                      {"outcome", event.outcome}});
  }
  json counts = json::array();
  for (const AgentCountSample& sample : report.agent_counts) {
    counts.push_back({{"t_s", sample.t_s}, {"agents", sample.agents}});
  }
  return {{"run_id", report.run_id},
          {"goal", report.goal},
          {"status", report.status},
          {"exit_code", report.exit_code},
          {"backend", report.backend},
          {"endpoint", report.endpoint},
          {"simulated", report.simulated},
          {"model", report.model},
          {"workspace", report.workspace},
          {"summary", report.summary},
          {"notes", report.notes},
          {"tasks", tasks},
          {"conflicts", report.conflicts},
          {"plan_errors", report.plan_errors},
          {"auto_scaling", report.auto_scaling},
          {"strategy", report.strategy},
          {"scaling_events", events},
          {"agent_counts", counts},
          {"duration_s", report.duration_s},
          {"prompt_tokens", report.prompt_tokens},
          {"output_tokens", report.output_tokens},
          {"failed_prompt_tokens", report.failed_prompt_tokens},
          {"failed_output_tokens", report.failed_output_tokens},
          {"warm_up_prompt_tokens", report.warm_up_prompt_tokens},
          {"warm_up_output_tokens", report.warm_up_output_tokens},
          {"plan", report.plan}};
}

std::string format_report(const RunReport& report) {
  std::string out;
  out += "Run " + report.run_id + ": " + report.status + "\n";
  out += "  goal:      " + one_line(report.goal) + "\n";
  // A run cancelled before its server responded has no endpoint.
  const std::string endpoint = report.endpoint.empty() ? "" : " (" + report.endpoint + ")";
  out += "  backend:   " + report.backend + endpoint +
         (report.simulated ? "  [SIMULATED: output is placeholder text]" : "") + "\n";
  out += "  model:     " + one_line(report.model) + "\n";
  out += "  workspace: " + (report.workspace.empty() ? "-" : one_line(report.workspace)) + "\n";
  out += "  time:      " + format_seconds(report.duration_s) + ", tokens in/out " +
         std::to_string(report.prompt_tokens) + "/" + std::to_string(report.output_tokens) +
         " (failed requests " + std::to_string(report.failed_prompt_tokens) + "/" +
         std::to_string(report.failed_output_tokens) + ", warm-ups " +
         std::to_string(report.warm_up_prompt_tokens) + "/" +
         std::to_string(report.warm_up_output_tokens) + ")\n";
  for (const std::string& note : report.notes) {
    out += "  note:      " + one_line(note) + "\n";
  }
  if (!report.plan_errors.empty()) {
    out += report.status == "cancelled" ? "\nPlanning was cancelled after these attempts:\n"
                                        : "\nPlanning failed after these attempts:\n";
    for (const std::string& error : report.plan_errors) {
      out += "  " + one_line(error) + "\n";
    }
  }
  if (!report.tasks.empty()) {
    out += "\nSubtasks:\n";
    append_task_table(report, out);
  }
  for (const std::string& conflict : report.conflicts) {
    out += "  conflict: " + one_line(conflict) + "\n";
  }
  append_scaling(report, out);
  if (!report.summary.empty()) {
    out += "\nSummary" + std::string(report.simulated ? " (simulated)" : "") + ":\n" +
           report.summary + "\n";
  }
  return terminal_safe(out);
}

}  // namespace ollamaflow::flow

namespace ollamaflow::flow {

std::string format_plan(const nlohmann::json& plan) {
  std::string out = "Plan for: " + one_line(plan.value("goal", std::string())) + "\n";
  if (const std::string summary = plan.value("summary", std::string()); !summary.empty()) {
    out += one_line(summary) + "\n";
  }
  for (const auto& task : plan.value("tasks", nlohmann::json::array())) {
    out += "\n  [" + one_line(task.value("id", std::string())) + "] " +
           one_line(task.value("title", std::string())) + "  (" +
           one_line(task.value("role", std::string())) + ")\n";
    std::string deps;
    for (const auto& dep : task.value("depends_on", nlohmann::json::array())) {
      deps += (deps.empty() ? "" : ", ") + dep.get<std::string>();
    }
    out += "      after: " + (deps.empty() ? std::string("-") : one_line(deps)) + "\n";
    std::string files;
    for (const auto& file : task.value("files", nlohmann::json::array())) {
      files += (files.empty() ? "" : ", ") + file.get<std::string>();
    }
    out += "      files: " + (files.empty() ? std::string("-") : one_line(files)) + "\n";
    out += "      " + one_line(task.value("description", std::string())) + "\n";
  }
  return terminal_safe(out);
}

}  // namespace ollamaflow::flow
