#include "orchestrator/drone.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;

// Returns the problems of a schema-valid reply: declared files missing or listed twice.
std::vector<std::string> check_declared_files(const PlanTask& task, const json& reply) {
  std::map<std::string, int> seen;
  for (const json& file : reply["files"]) {
    ++seen[file["path"].get<std::string>()];
  }
  std::vector<std::string> problems;
  for (const std::string& declared : task.files) {
    auto it = seen.find(declared);
    if (it == seen.end()) {
      problems.push_back(fmt::format("$.files: the declared file '{}' is missing", declared));
    } else if (it->second > 1) {
      problems.push_back(
          fmt::format("$.files: '{}' appears {} times; list it once", declared, it->second));
    }
  }
  return problems;
}

// Returns the reply's files in the order the task declares them.
std::vector<TaskFile> files_in_declared_order(const PlanTask& task, const json& reply) {
  std::map<std::string, std::string> by_path;
  for (const json& file : reply["files"]) {
    by_path[file["path"].get<std::string>()] = file["content"].get<std::string>();
  }
  std::vector<TaskFile> files;
  for (const std::string& declared : task.files) {
    files.push_back({declared, by_path[declared]});
  }
  return files;
}

}  // namespace

json agent_reply_schema(const PlanTask& task) {
  json path = {{"type", "string"}};
  if (!task.files.empty()) {
    path["enum"] = task.files;
  }
  json file = {{"type", "object"},
               {"properties", {{"path", std::move(path)}, {"content", {{"type", "string"}}}}},
               {"required", {"path", "content"}},
               {"additionalProperties", false}};
  json files = {{"type", "array"}, {"items", std::move(file)}, {"maxItems", task.files.size()}};
  if (!task.files.empty()) {
    files["minItems"] = task.files.size();
  }
  return {{"type", "object"},
          {"properties", {{"files", std::move(files)}, {"summary", {{"type", "string"}}}}},
          {"required", {"files", "summary"}},
          {"additionalProperties", false}};
}

DroneOutcome execute_task(llm::LlmClient& client, const DroneRequest& request,
                          const CancelToken& cancel) {
  StructuredRequest structured;
  structured.chat.model = request.model;
  structured.chat.options = request.options;
  structured.chat.schema = agent_reply_schema(request.task);
  structured.chat.schema_name = "agent_reply";
  structured.chat.purpose = "task " + request.task.id;
  structured.chat.messages = build_task_messages(request.role_prompt, request.goal, request.task,
                                                 request.dependencies, request.dependency_budget);
  structured.max_attempts = request.max_attempts;
  structured.lenient_json = request.lenient_json;
  structured.rejection_prefix = "Your reply was rejected: ";
  structured.rejection_suffix =
      ". Return the complete JSON object again, with every declared file.";
  structured.log_label = "task=" + request.task.id;
  structured.clock = request.clock;
  structured.warning_limits = request.warning_limits;

  const PlanTask& task = request.task;
  auto validator = [&task](const json& reply) { return check_declared_files(task, reply); };
  StructuredOutcome exchange = run_structured_chat(client, structured, validator, cancel);

  DroneOutcome out;
  out.status = exchange.status;
  out.usage = exchange.usage;
  out.attempts = std::move(exchange.attempts);
  out.model = exchange.model.empty() ? request.model : exchange.model;
  out.simulated = exchange.simulated;
  auto log = get_logger("orchestrator");
  if (!exchange.status) {
    out.status = exchange.status.with_context(fmt::format("task \"{}\"", task.id));
    log->debug("task reply not accepted task={} attempts={} error={}", task.id,
               counted_attempts(out.attempts), out.status.message());
    return out;
  }
  out.files = files_in_declared_order(task, exchange.value);
  out.summary = exchange.value["summary"].get<std::string>();
  log->debug("task reply accepted task={} attempts={} files={}", task.id,
             counted_attempts(out.attempts), out.files.size());
  return out;
}

Result<std::vector<WrittenFile>> write_task_files(Workspace& workspace, const PlanTask& task,
                                                  const std::vector<TaskFile>& files) {
  std::vector<WrittenFile> written;
  for (const TaskFile& file : files) {
    if (std::find(task.files.begin(), task.files.end(), file.path) == task.files.end()) {
      return Result<std::vector<WrittenFile>>(
          ErrorCode::kInvalidArgument,
          fmt::format("task \"{}\" does not declare '{}': only declared files are written", task.id,
                      file.path));
    }
    Result<WrittenFile> result = workspace.write_file(file.path, file.content, task.id);
    if (!result) {
      return result.status().with_context(fmt::format("task \"{}\"", task.id));
    }
    written.push_back(std::move(result).value());
  }
  if (!written.empty()) {
    if (Status synced = workspace.sync(); !synced) {
      return synced.with_context(fmt::format("task \"{}\"", task.id));
    }
  }
  return written;
}

DependencyResult collect_dependency(const PlanTask& task, const std::string& summary,
                                    const Workspace& workspace, size_t max_bytes_per_file) {
  DependencyResult result{task.id, task.title, task.role, summary, {}};
  for (const std::string& path : task.files) {
    Result<std::string> content = workspace.read_file(path, max_bytes_per_file);
    result.files.push_back({path, content ? std::move(content).value()
                                          : fmt::format("(this file could not be read: {})",
                                                        content.status().message())});
  }
  return result;
}

}  // namespace ollamaflow::orchestrator
