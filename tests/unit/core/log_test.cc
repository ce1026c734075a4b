// LogRateLimiter: which repeats pass, and the count lines it writes.
#include "core/log.h"

#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

namespace ollamaflow {
namespace {

using namespace std::chrono_literals;

class LogRateLimiterTest : public ::testing::Test {
 protected:
  LogRateLimiterTest()
      : sink_(std::make_shared<spdlog::sinks::ostream_sink_st>(out_)),
        logger_(std::make_shared<spdlog::logger>("limiter-test", sink_)) {
    logger_->set_pattern("%l %v");
  }

  std::ostringstream out_;
  spdlog::sink_ptr sink_;
  std::shared_ptr<spdlog::logger> logger_;
  LogRateLimiter::TimePoint start_ = std::chrono::steady_clock::now();
};

TEST_F(LogRateLimiterTest, PassesBurstThenCounts) {
  LogRateLimiter limiter(logger_, spdlog::level::warn, "task failed", 3, 60s);
  int passed = 0;
  for (int i = 0; i < 100; ++i) {
    passed += limiter.allow(start_ + std::chrono::milliseconds(i)) ? 1 : 0;
  }
  EXPECT_EQ(passed, 3);
  EXPECT_EQ(limiter.suppressed(), 97u);
  EXPECT_EQ(out_.str(), "") << "no count line before the interval ends or flush()";
}

TEST_F(LogRateLimiterTest, FlushLogsCountOnce) {
  LogRateLimiter limiter(logger_, spdlog::level::warn, "task failed", 1, 60s);
  limiter.allow(start_);
  limiter.allow(start_);
  limiter.allow(start_);
  limiter.flush();
  limiter.flush();
  EXPECT_EQ(out_.str(),
            "warning task failed: 2 more lines suppressed (the first 1 of every 60 s are "
            "logged)\n");
  EXPECT_EQ(limiter.suppressed(), 0u);
}

TEST_F(LogRateLimiterTest, NextIntervalLogsCountAndPasses) {
  LogRateLimiter limiter(logger_, spdlog::level::warn, "task failed", 2, 60s);
  for (int i = 0; i < 5; ++i) {
    limiter.allow(start_);
  }
  EXPECT_TRUE(limiter.allow(start_ + 60s));
  EXPECT_EQ(out_.str(),
            "warning task failed: 3 more lines suppressed (the first 2 of every 60 s are "
            "logged)\n");
  EXPECT_TRUE(limiter.allow(start_ + 61s));
  EXPECT_FALSE(limiter.allow(start_ + 62s));
  EXPECT_EQ(limiter.suppressed(), 1u);
}

TEST_F(LogRateLimiterTest, NothingSuppressedLogsNothing) {
  LogRateLimiter limiter(logger_, spdlog::level::warn, "task failed", 5, 60s);
  EXPECT_TRUE(limiter.allow(start_));
  limiter.flush();
  EXPECT_EQ(out_.str(), "");
}

}  // namespace
}  // namespace ollamaflow
