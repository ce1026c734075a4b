// Text summaries of a run's status document, for `status` and the interactive loop. Every
// field is read defensively, because status files come from disk.
#pragma once

#include <cstddef>

#include <nlohmann/json.hpp>

namespace ollamaflow::cli {

// Widest goal in the runs listing and the interactive history, in terminal columns, counting the
// ellipsis of a cut goal.
constexpr size_t kMaxListedGoalWidth = 60;

// Prints the summary of one run's status document: run, goal, backend, then the planning
// phase or the scaling, queue and agents.
void print_status(const nlohmann::json& status);

// Prints the scaling lines and the last decision, or "off" for a fixed pool. The agent count
// now comes from `agents` (the pool's status), beside the count at the last evaluation.
void print_scaling(const nlohmann::json& scaling, const nlohmann::json& agents);

// Prints the queue, wait and server lines of a metrics snapshot.
void print_metrics(const nlohmann::json& metrics);

// Prints one line per agent, or "none".
void print_agents(const nlohmann::json& agents);

}  // namespace ollamaflow::cli
