#include "flow/goal_size.h"

#include <fmt/format.h>

namespace ollamaflow::flow {

int64_t estimate_goal_tokens(std::string_view goal) {
  const auto bytes = static_cast<int64_t>(goal.size());
  return (bytes + kGoalBytesPerToken - 1) / kGoalBytesPerToken;
}

Result<std::optional<std::string>> check_goal_size(std::string_view goal,
                                                   const ServerSettings& server) {
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
  if (tokens + server.num_predict > server.num_ctx) {
    return std::optional<std::string>(fmt::format(
        "{}: with the output limit of {} tokens (server.num_predict) it exceeds the {} tokens "
        "of context per request (server.num_ctx), so requests may not fit; raise --num-ctx or "
        "shorten the goal",
        estimate, server.num_predict, server.num_ctx));
  }
  return std::optional<std::string>();
}

}  // namespace ollamaflow::flow
