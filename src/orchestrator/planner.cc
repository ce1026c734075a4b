#include "orchestrator/planner.h"

#include <fmt/format.h>

#include "core/log.h"

namespace ollamaflow::orchestrator {
namespace {

using nlohmann::json;

ReplyValidator plan_validator(const PlannerOptions& options) {
  return [&options](const json& reply) -> std::vector<std::string> {
    Result<Plan> plan = plan_from_json(reply);
    if (!plan) {
      return {plan.status().message()};
    }
    return validate_plan(*plan, options.roles, options.limits);
  };
}

std::string cut(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) {
    return text;
  }
  return text.substr(0, max_chars) +
         fmt::format(" [... {} more characters]", text.size() - max_chars);
}

std::string describe_reports(const std::vector<TaskReport>& reports, size_t max_chars) {
  std::string out;
  for (const TaskReport& report : reports) {
    out +=
        fmt::format("- {} \"{}\" ({}): {}\n", report.id, report.title, report.role, report.status);
    if (!report.files.empty()) {
      std::string files;
      for (const std::string& file : report.files) {
        files += files.empty() ? file : ", " + file;
      }
      out += "  files: " + files + "\n";
    }
    if (!report.summary.empty()) {
      out += "  summary: " + cut(report.summary, max_chars) + "\n";
    }
    if (!report.error.empty()) {
      out += "  error: " + cut(report.error, max_chars) + "\n";
    }
  }
  return out;
}

}  // namespace

PlanOutcome make_plan(const std::string& goal, llm::LlmClient& client,
                      const PlannerOptions& options, const CancelToken& cancel) {
  StructuredRequest request;
  request.chat.model = options.model;
  request.chat.options = options.chat;
  request.chat.schema = plan_schema(options.roles, options.limits);
  request.chat.schema_name = "plan";
  request.chat.purpose = "planning";
  request.chat.messages = {
      {"system", queen_prompt(options.roles, options.limits.max_tasks)},
      {"user", "Goal: " + goal + "\n\nReturn the plan for this goal as JSON."}};
  request.max_attempts = options.max_attempts;
  request.lenient_json = options.lenient_json;
  request.rejection_prefix = "Your plan was rejected: ";
  request.rejection_suffix = "; return a corrected plan.";
  request.log_label = "planner";
  request.warning_limits = options.warning_limits;

  auto log = get_logger("orchestrator");
  log->info("planning started model={} max_attempts={}", options.model, options.max_attempts);
  StructuredOutcome exchange =
      run_structured_chat(client, request, plan_validator(options), cancel);

  PlanOutcome out;
  out.attempts = std::move(exchange.attempts);
  out.usage = exchange.usage;
  out.model = exchange.model;
  out.simulated = exchange.simulated;
  if (exchange.status) {
    Result<Plan> plan = plan_from_json(exchange.value);
    if (!plan) {
      // Not expected: the validator accepted only replies that plan_from_json reads.
      out.status = Status(ErrorCode::kInternal, plan.status().message());
      return out;
    }
    plan->goal = goal;
    // The plan schema has no "simulated" field, so only the backend marks a plan simulated.
    plan->simulated = exchange.simulated;
    out.plan = std::move(plan).value();
    out.status = Status::ok();
    log->info("plan accepted tasks={} attempts={}", out.plan->tasks.size(),
              counted_attempts(out.attempts));
    return out;
  }
  const int counted = counted_attempts(out.attempts);
  bool rejected = exchange.status.code() == ErrorCode::kTruncated ||
                  exchange.status.code() == ErrorCode::kParseError ||
                  exchange.status.code() == ErrorCode::kSchemaViolation;
  out.status =
      rejected ? Status(ErrorCode::kInvalidArgument,
                        fmt::format("the model returned no valid plan after {} attempt{}; "
                                    "try another model, or write the plan yourself and "
                                    "pass it with --plan ({})",
                                    counted, counted == 1 ? "" : "s", exchange.status.message()))
               : exchange.status;
  // A cancellation is the user's Ctrl-C, not a failure.
  if (out.status.code() == ErrorCode::kCancelled) {
    log->info("planning cancelled attempts={}", counted);
  } else {
    log->error("planning failed attempts={} error={}", counted, out.status.message());
  }
  return out;
}

json summary_schema() {
  return {{"type", "object"},
          {"properties", {{"summary", {{"type", "string"}, {"minLength", 1}}}}},
          {"required", {"summary"}},
          {"additionalProperties", false}};
}

SummaryOutcome summarize(const std::string& goal, const std::vector<TaskReport>& reports,
                         llm::LlmClient& client, const SummaryOptions& options,
                         const CancelToken& cancel) {
  StructuredRequest request;
  request.chat.model = options.model;
  request.chat.options = options.chat;
  request.chat.schema_name = "summary";
  request.chat.purpose = "summary";
  if (options.structured) {
    request.chat.schema = summary_schema();
  }
  std::string format = options.structured ? "Reply with JSON: {\"summary\": \"...\"}."
                                          : "Reply with the summary as plain text.";
  request.chat.messages = {
      {"system",
       "You are the planner of a team of AI agents and the goal's work is finished. Write a "
       "short summary for the user: what was produced, where the files are, and which tasks "
       "failed and why. " +
           format},
      {"user",
       "Goal: " + goal + "\n\nTasks:\n" + describe_reports(reports, options.max_chars_per_task)}};
  request.max_attempts = options.max_attempts;
  request.log_label = "summary";
  request.warning_limits = options.warning_limits;

  StructuredOutcome exchange = run_structured_chat(client, request, nullptr, cancel);
  SummaryOutcome out;
  out.status = exchange.status;
  out.attempts = std::move(exchange.attempts);
  out.usage = exchange.usage;
  out.model = exchange.model;
  out.simulated = exchange.simulated;
  if (exchange.status) {
    out.summary = options.structured ? exchange.value["summary"].get<std::string>()
                                     : exchange.value.get<std::string>();
  }
  return out;
}

}  // namespace ollamaflow::orchestrator
