#include "flow/goal_size.h"

#include <fmt/format.h>

#include "core/utf8.h"

namespace ollamaflow::flow {

int64_t estimate_goal_tokens(std::string_view goal) {
  const auto bytes = static_cast<int64_t>(goal.size());
  return (bytes + kGoalBytesPerToken - 1) / kGoalBytesPerToken;
}

Result<std::optional<std::string>> check_goal_size(std::string_view goal,
                                                   const ServerSettings& server) {
  if (const std::optional<size_t> offset = invalid_utf8_offset(goal)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("the goal is not valid UTF-8: byte 0x{:02X} at offset {}; write the "
                              "goal in UTF-8 (check the terminal's or file's encoding)",
                              static_cast<unsigned char>(goal[*offset]), *offset));
  }
  const int64_t tokens = estimate_goal_tokens(goal);
  const std::string estimate =
      fmt::format("the goal is about {} tokens ({} bytes at an estimated {} bytes per token)",
                  tokens, goal.size(), kGoalBytesPerToken);
  if (tokens > server.num_ctx) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{}, more than the {} tokens of context per request "
                              "(server.num_ctx): shorten the goal or raise --num-ctx",
                              estimate, server.num_ctx));
  }
  if (server.num_predict >= server.num_ctx) {
    return std::optional<std::string>(fmt::format(
        "the output limit of {} tokens (server.num_predict) alone fills the {} tokens of "
        "context per request (server.num_ctx), so a long reply is cut by the context instead of "
        "the limit; lower --num-predict below --num-ctx or raise --num-ctx",
        server.num_predict, server.num_ctx));
  }
  if (tokens + server.num_predict > server.num_ctx) {
    return std::optional<std::string>(fmt::format(
        "{}: with the output limit of {} tokens (server.num_predict) it exceeds the {} tokens "
        "of context per request (server.num_ctx), so requests may not fit; raise --num-ctx or "
        "shorten the goal",
        estimate, server.num_predict, server.num_ctx));
  }
  return std::optional<std::string>();
}

Status check_task_sizes(const orchestrator::Plan& plan, std::string_view goal,
                        const ServerSettings& server) {
  for (const orchestrator::PlanTask& task : plan.tasks) {
    size_t bytes = goal.size() + task.id.size() + task.title.size() + task.description.size();
    for (const std::string& file : task.files) {
      bytes += file.size();
    }
    const auto tokens = static_cast<int64_t>((bytes + kGoalBytesPerToken - 1) / kGoalBytesPerToken);
    if (tokens > server.num_ctx) {
      return Status(
          ErrorCode::kInvalidArgument,
          fmt::format("task '{}' is about {} tokens with the goal ({} bytes at an estimated {} "
                      "bytes per token), more than the {} tokens of context per request "
                      "(server.num_ctx): shorten its description or raise --num-ctx",
                      task.id, tokens, bytes, kGoalBytesPerToken, server.num_ctx));
    }
  }
  return Status::ok();
}

}  // namespace ollamaflow::flow
