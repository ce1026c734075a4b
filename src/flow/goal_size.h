// The size of a goal against the context of one request. The goal goes into the queen's plan
// request and into every agent's task request, so a goal larger than num_ctx cannot fit in one.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/status.h"
#include "orchestrator/plan.h"

namespace ollamaflow::flow {

// Bytes per token of the goal-size estimate, a common rule of thumb for English text with BPE
// tokenizers. Code and other languages often take more tokens per byte, so the estimate can be
// low for them.
inline constexpr int64_t kGoalBytesPerToken = 4;

// Returns the estimated tokens of `goal`: its bytes / kGoalBytesPerToken, rounded up.
int64_t estimate_goal_tokens(std::string_view goal);

// Checks that `goal` is valid UTF-8 and its estimated tokens against server.num_ctx. Returns
// kInvalidArgument naming the first invalid byte, or naming --num-ctx when the goal alone is
// larger than the context. Returns a warning when the
// goal and the output limit (server.num_predict) together exceed it, else nullopt.
Result<std::optional<std::string>> check_goal_size(std::string_view goal,
                                                   const ServerSettings& server);

// Checks each task of a plan against server.num_ctx: a task's request carries the goal, the
// task's title and description and its file paths. Returns kInvalidArgument naming the first
// task whose estimate is larger than the context, with its size and the fix.
Status check_task_sizes(const orchestrator::Plan& plan, std::string_view goal,
                        const ServerSettings& server);

}  // namespace ollamaflow::flow
