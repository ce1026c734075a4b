#include "orchestrator/roles.h"

#include <algorithm>

#include <gtest/gtest.h>

#include "core/config.h"

namespace ollamaflow::orchestrator {
namespace {

TEST(RolesTest, BuiltinRolesAcceptedInRoleModels) {
  const std::vector<std::string>& accepted = model_role_names();
  for (const std::string& role : RoleSet::builtin().names()) {
    EXPECT_NE(std::find(accepted.begin(), accepted.end(), role), accepted.end()) << role;
  }
  EXPECT_EQ(accepted.size(), RoleSet::builtin().names().size() + 1) << "queen and the roles";
}

}  // namespace
}  // namespace ollamaflow::orchestrator
