#include "agents/lifecycle.h"

#include <cctype>
#include <string>

namespace ollamaflow::agents {

std::string_view agent_state_name(AgentState state) {
  switch (state) {
    case AgentState::kCreating:
      return "creating";
    case AgentState::kInitializing:
      return "initializing";
    case AgentState::kActive:
      return "active";
    case AgentState::kBusy:
      return "busy";
    case AgentState::kIdle:
      return "idle";
    case AgentState::kDraining:
      return "draining";
    case AgentState::kTerminated:
      return "terminated";
    case AgentState::kError:
      return "error";
  }
  return "unknown";
}

std::optional<AgentState> parse_agent_state(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  for (AgentState state : kAllAgentStates) {
    if (agent_state_name(state) == lower) {
      return state;
    }
  }
  return std::nullopt;
}

bool is_allowed_transition(AgentState from, AgentState to) {
  using S = AgentState;
  switch (from) {
    case S::kCreating:
      return to == S::kInitializing || to == S::kTerminated || to == S::kError;
    case S::kInitializing:
      return to == S::kActive || to == S::kError || to == S::kDraining;
    case S::kActive:
    case S::kIdle:
      return to == S::kBusy || to == S::kTerminated;
    case S::kBusy:
      return to == S::kIdle || to == S::kDraining;
    case S::kDraining:
      return to == S::kTerminated || to == S::kBusy || to == S::kInitializing;
    case S::kTerminated:
    case S::kError:
      return false;
  }
  return false;
}

bool is_final(AgentState state) {
  return state == AgentState::kTerminated || state == AgentState::kError;
}

bool is_ready(AgentState state) {
  return state == AgentState::kActive || state == AgentState::kIdle;
}

}  // namespace ollamaflow::agents
