// The noun of a count in messages.
#include "core/count_text.h"

#include <gtest/gtest.h>

namespace ollamaflow {
namespace {

TEST(CountTextTest, SingularOnlyForOne) {
  EXPECT_EQ(count_text(0, "agent"), "0 agents");
  EXPECT_EQ(count_text(1, "agent"), "1 agent");
  EXPECT_EQ(count_text(2, "slot"), "2 slots");
  EXPECT_EQ(count_text(-1, "task"), "-1 task");
}

}  // namespace
}  // namespace ollamaflow
