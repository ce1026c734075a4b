#include "agents/roles.h"

#include <string>

#include <gtest/gtest.h>

namespace ollamaflow::agents {
namespace {

TEST(RoleNameTest, AcceptsPlanRoleNames) {
  for (const char* role : {"developer", "data_scientist", "it-architect", "Analyst", "r2"}) {
    EXPECT_TRUE(is_valid_role(role)) << role;
    EXPECT_TRUE(check_role(role).is_ok()) << role;
  }
}

TEST(RoleNameTest, RejectsUnsafeNames) {
  for (const char* role : {"", "../../etc", "_hidden", "-x", "two words", "a/b", "rôle"}) {
    EXPECT_FALSE(is_valid_role(role)) << role;
  }
}

TEST(RoleNameTest, LengthLimitIs32) {
  EXPECT_TRUE(is_valid_role(std::string(32, 'a')));
  EXPECT_FALSE(is_valid_role(std::string(33, 'a')));
}

TEST(RoleNameTest, CheckNamesRoleAndFix) {
  const Status status = check_role("bad role");
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_NE(status.message().find("\"bad role\""), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("letters, digits"), std::string::npos) << status.message();
}

TEST(AgentIdTest, NamesSequenceNotRole) {
  EXPECT_EQ(make_agent_id(1), "agent-1");
  EXPECT_EQ(make_agent_id(42), "agent-42");
}

TEST(ChooseRolesTest, EmptyQueueGivesDefaultRole) {
  const auto roles = choose_roles({}, {{"developer", 3}}, 2, "analyst");
  EXPECT_EQ(roles, (std::vector<std::string>{"analyst", "analyst"}));
}

TEST(ChooseRolesTest, FollowsWaitingMinusAgents) {
  // developer: 5 waiting, 4 agents (deficit 1); analyst: 2 waiting, 0 agents (deficit 2).
  // After the first analyst both deficits are 1, and developer has more tasks waiting.
  const auto roles =
      choose_roles({{"developer", 5}, {"analyst", 2}}, {{"developer", 4}}, 4, "developer");
  EXPECT_EQ(roles, (std::vector<std::string>{"analyst", "developer", "analyst", "developer"}));
}

TEST(ChooseRolesTest, TieGoesToMoreWaitingThenName) {
  EXPECT_EQ(choose_roles({{"analyst", 1}, {"developer", 3}}, {{"developer", 2}}, 1, "x"),
            std::vector<std::string>{"developer"});
  EXPECT_EQ(choose_roles({{"zeta", 1}, {"alpha", 1}}, {}, 1, "x"),
            std::vector<std::string>{"alpha"});
}

TEST(ChooseRolesTest, OverservedRolesStillChosen) {
  // Both roles already have more agents than tasks; the least over-served one is chosen.
  const auto roles = choose_roles({{"developer", 1}, {"analyst", 1}},
                                  {{"developer", 4}, {"analyst", 2}}, 1, "security_specialist");
  EXPECT_EQ(roles, std::vector<std::string>{"analyst"});
}

TEST(ChooseRolesTest, SkipsInvalidQueuedRoles) {
  const auto roles = choose_roles({{"../../etc", 9}, {"", 4}}, {}, 2, "developer");
  EXPECT_EQ(roles, (std::vector<std::string>{"developer", "developer"}));
}

TEST(ChooseRolesTest, ZeroCountGivesNothing) {
  EXPECT_TRUE(choose_roles({{"developer", 3}}, {}, 0, "developer").empty());
}

}  // namespace
}  // namespace ollamaflow::agents
