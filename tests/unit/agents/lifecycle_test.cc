#include "agents/lifecycle.h"

#include <set>
#include <utility>

#include <gtest/gtest.h>

namespace ollamaflow::agents {
namespace {

using S = AgentState;

TEST(AgentStateTest, NamesRoundTrip) {
  for (AgentState state : kAllAgentStates) {
    const auto parsed = parse_agent_state(agent_state_name(state));
    ASSERT_TRUE(parsed.has_value()) << agent_state_name(state);
    EXPECT_EQ(*parsed, state);
  }
}

TEST(AgentStateTest, NamesAreDistinctLowerCase) {
  std::set<std::string_view> names;
  for (AgentState state : kAllAgentStates) {
    names.insert(agent_state_name(state));
  }
  EXPECT_EQ(names.size(), kAllAgentStates.size());
  EXPECT_EQ(agent_state_name(S::kInitializing), "initializing");
}

TEST(AgentStateTest, ParseIgnoresCase) {
  EXPECT_EQ(parse_agent_state("DRAINING"), S::kDraining);
  EXPECT_EQ(parse_agent_state("Busy"), S::kBusy);
}

TEST(AgentStateTest, ParseRejectsUnknownName) {
  EXPECT_FALSE(parse_agent_state("terminating").has_value());
  EXPECT_FALSE(parse_agent_state("").has_value());
}

TEST(AgentStateTest, AllowedTransitionsMatchDiagram) {
  const std::set<std::pair<S, S>> allowed = {
      {S::kCreating, S::kInitializing},
      {S::kCreating, S::kTerminated},
      {S::kCreating, S::kError},
      {S::kInitializing, S::kActive},
      {S::kInitializing, S::kError},
      {S::kInitializing, S::kDraining},
      {S::kActive, S::kBusy},
      {S::kActive, S::kTerminated},
      {S::kIdle, S::kBusy},
      {S::kIdle, S::kTerminated},
      {S::kBusy, S::kIdle},
      {S::kBusy, S::kDraining},
      {S::kDraining, S::kTerminated},
      {S::kDraining, S::kBusy},
      {S::kDraining, S::kInitializing},
  };
  for (AgentState from : kAllAgentStates) {
    for (AgentState to : kAllAgentStates) {
      const bool expected = allowed.count({from, to}) > 0;
      EXPECT_EQ(is_allowed_transition(from, to), expected)
          << agent_state_name(from) << " -> " << agent_state_name(to);
    }
  }
}

TEST(AgentStateTest, BusyNeverTerminatesDirectly) {
  EXPECT_FALSE(is_allowed_transition(S::kBusy, S::kTerminated));
  EXPECT_FALSE(is_allowed_transition(S::kBusy, S::kError));
}

TEST(AgentStateTest, FinalAndReadyStates) {
  for (AgentState state : kAllAgentStates) {
    EXPECT_EQ(is_final(state), state == S::kTerminated || state == S::kError)
        << agent_state_name(state);
    EXPECT_EQ(is_ready(state), state == S::kActive || state == S::kIdle) << agent_state_name(state);
  }
}

}  // namespace
}  // namespace ollamaflow::agents
