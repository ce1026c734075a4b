// Agent lifecycle states and the transitions between them.
//
//   CREATING ──► INITIALIZING ──► ACTIVE ──► BUSY ◄──► IDLE      normal path
//                     │                        │
//                     └───────► DRAINING ◄─────┘                 removal of a working agent
//                                  │
//                                  ▼
//                              TERMINATED ◄── CREATING, ACTIVE, IDLE   removal of an idle agent
//
//   ERROR ◄── CREATING (the thread could not start), INITIALIZING (warm-up failed or timed out)
//   DRAINING ──► INITIALIZING or BUSY when a scale-up revokes the removal
//
// TERMINATED and ERROR are final. A BUSY agent never goes to TERMINATED directly: it is drained
// first, so that its task is either finished or returned to the queue.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace ollamaflow::agents {

enum class AgentState {
  kCreating,      // record made, waiting for its creation batch
  kInitializing,  // worker thread running the warm-up request
  kActive,        // ready, has not taken a task yet
  kBusy,          // running a task
  kIdle,          // ready, finished at least one task
  kDraining,      // selected for removal, finishing its task or warm-up
  kTerminated,    // final: ended on request
  kError,         // final: warm-up failed or timed out, or the thread did not start
};

inline constexpr std::array<AgentState, 8> kAllAgentStates = {
    AgentState::kCreating, AgentState::kInitializing, AgentState::kActive,     AgentState::kBusy,
    AgentState::kIdle,     AgentState::kDraining,     AgentState::kTerminated, AgentState::kError,
};

// Returns the lower-case name of `state`, e.g. "initializing".
std::string_view agent_state_name(AgentState state);

// Parses a state name in any letter case. Returns nullopt for an unknown name.
std::optional<AgentState> parse_agent_state(std::string_view name);

// Returns true when the diagram above allows the move from `from` to `to`.
bool is_allowed_transition(AgentState from, AgentState to);

// Returns true for TERMINATED and ERROR.
bool is_final(AgentState state);

// Returns true for the states of an agent that is ready to take a task (ACTIVE, IDLE).
bool is_ready(AgentState state);

}  // namespace ollamaflow::agents
