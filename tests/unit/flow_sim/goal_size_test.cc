#include "flow/goal_size.h"

#include <gtest/gtest.h>

#include <string>

namespace ollamaflow::flow {
namespace {

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

ServerSettings settings(int num_ctx, int num_predict) {
  ServerSettings server;
  server.num_ctx = num_ctx;
  server.num_predict = num_predict;
  return server;
}

TEST(GoalSizeTest, EstimateIsBytesOverFourRoundedUp) {
  EXPECT_EQ(estimate_goal_tokens(""), 0);
  EXPECT_EQ(estimate_goal_tokens("abcd"), 1);
  EXPECT_EQ(estimate_goal_tokens("abcde"), 2);
}

TEST(GoalSizeTest, GoalLargerThanContextIsRejected) {
  const std::string goal(1025 * 4, 'x');
  Result<std::optional<std::string>> checked = check_goal_size(goal, settings(1024, 256));
  ASSERT_FALSE(checked.is_ok());
  EXPECT_EQ(checked.status().code(), ErrorCode::kInvalidArgument);
  const std::string message = checked.status().message();
  EXPECT_TRUE(contains(message, "about 1025 tokens")) << message;
  EXPECT_TRUE(contains(message, "estimated 4 bytes per token")) << message;
  EXPECT_TRUE(contains(message, "--num-ctx")) << message;
}

TEST(GoalSizeTest, InvalidUtf8IsRejected) {
  Result<std::optional<std::string>> checked = check_goal_size("caf\xE9 app", settings(1024, 256));
  ASSERT_FALSE(checked.is_ok());
  EXPECT_EQ(checked.status().code(), ErrorCode::kInvalidArgument);
  const std::string message = checked.status().message();
  EXPECT_TRUE(contains(message, "not valid UTF-8: byte 0xE9 at offset 3")) << message;
}

TEST(GoalSizeTest, GoalWithOutputPastContextWarns) {
  const std::string goal(800 * 4, 'x');
  Result<std::optional<std::string>> checked = check_goal_size(goal, settings(1024, 256));
  ASSERT_TRUE(checked.is_ok()) << checked.status().to_string();
  ASSERT_TRUE(checked->has_value());
  EXPECT_TRUE(contains(**checked, "about 800 tokens")) << **checked;
  EXPECT_TRUE(contains(**checked, "--num-ctx")) << **checked;
}

TEST(GoalSizeTest, OutputLimitFillingContextNamesTheLimit) {
  // A short goal is not the cause when num_predict alone fills the context.
  Result<std::optional<std::string>> checked =
      check_goal_size("Write a hello world script", settings(256, 1048576));
  ASSERT_TRUE(checked.is_ok()) << checked.status().to_string();
  ASSERT_TRUE(checked->has_value());
  EXPECT_TRUE(contains(**checked,
                       "the output limit of 1048576 tokens (server.num_predict) alone "
                       "fills the 256 tokens"))
      << **checked;
  EXPECT_TRUE(contains(**checked, "lower --num-predict below --num-ctx")) << **checked;
  EXPECT_FALSE(contains(**checked, "shorten the goal")) << **checked;
}

TEST(GoalSizeTest, GoalAtTheLimitsPasses) {
  Result<std::optional<std::string>> fits =
      check_goal_size(std::string(768 * 4, 'x'), settings(1024, 256));
  ASSERT_TRUE(fits.is_ok());
  EXPECT_FALSE(fits->has_value());
  Result<std::optional<std::string>> whole =
      check_goal_size(std::string(1024 * 4, 'x'), settings(1024, 256));
  ASSERT_TRUE(whole.is_ok()) << "a goal of exactly num_ctx tokens is a warning, not an error";
  EXPECT_TRUE(whole->has_value());
}

}  // namespace
}  // namespace ollamaflow::flow
