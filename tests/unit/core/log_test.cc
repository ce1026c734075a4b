// LogRateLimiter: which repeats pass, and the count lines it writes. The time at the start of a
// line: the wall time, or a simulation's virtual time.
#include "core/log.h"

#include <ctime>
#include <iomanip>
#include <regex>
#include <sstream>

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>
#include <nlohmann/json.hpp>

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

TEST_F(LogRateLimiterTest, EndlessIntervalCountsAtFlush) {
  LogRateLimiter limiter(logger_, spdlog::level::warn, "task failed", 1,
                         LogRateLimiter::kEndlessInterval);
  EXPECT_TRUE(limiter.allow(start_));
  EXPECT_FALSE(limiter.allow(start_ + std::chrono::hours(24 * 365)));
  EXPECT_FALSE(limiter.allow(start_ + std::chrono::hours(24 * 365 * 10)));
  EXPECT_EQ(out_.str(), "");
  limiter.flush();
  EXPECT_EQ(out_.str(),
            "warning task failed: 2 more lines suppressed (only the first is logged)\n");
}

class LogFormatTest : public ::testing::Test {
 protected:
  // Returns the line that a logger with the product's formatter writes for `message`.
  static std::string format_line(bool json, const std::string& message) {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
    spdlog::logger logger("agents", sink);
    logger.set_formatter(make_log_formatter(json));
    logger.warn("{}", message);
    return out.str();
  }
};

TEST_F(LogFormatTest, TextLineStartsWithWallTime) {
  const std::time_t before = std::time(nullptr);
  const std::string line = format_line(false, "task failed");
  const std::time_t after = std::time(nullptr);
  EXPECT_TRUE(std::regex_match(line, std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} )"
                                                R"(warning \[agents\] task failed\n)")))
      << line;
  // The time is the local time of the call, not a placeholder date.
  std::tm parsed{};
  std::istringstream(line) >> std::get_time(&parsed, "%Y-%m-%dT%H:%M:%S");
  parsed.tm_isdst = -1;
  const std::time_t logged = std::mktime(&parsed);
  EXPECT_GE(logged, before) << line;
  EXPECT_LE(logged, after) << line;
}

TEST_F(LogFormatTest, SimulationReplacesWallTime) {
  {
    SimulatedLogTime simulated("HYBRID", [] { return 125.3; });
    EXPECT_EQ(format_line(false, "task failed\nnext"),
              "sim=HYBRID t=125.300s warning [agents] task failed\\nnext\n");
    const nlohmann::json record = nlohmann::json::parse(format_line(true, "task failed"));
    EXPECT_EQ(record.at("sim"), "HYBRID");
    EXPECT_DOUBLE_EQ(record.at("sim_time_s").get<double>(), 125.3);
    EXPECT_FALSE(record.contains("time")) << record.dump();
    EXPECT_EQ(record.at("message"), "task failed");
  }
  // The wall time is back once the simulation's object ends.
  EXPECT_EQ(format_line(false, "done").find("sim="), std::string::npos);
  const nlohmann::json record = nlohmann::json::parse(format_line(true, "done"));
  EXPECT_TRUE(record.contains("time")) << record.dump();
  EXPECT_FALSE(record.contains("sim")) << record.dump();
}

TEST_F(LogFormatTest, InnerSimulationEndsIntoOuter) {
  SimulatedLogTime outer("oracle", [] { return 1.0; });
  {
    SimulatedLogTime inner("hpa", [] { return -2.5; });
    EXPECT_EQ(format_line(false, "x"), "sim=hpa t=-2.500s warning [agents] x\n");
  }
  EXPECT_EQ(format_line(false, "x"), "sim=oracle t=1.000s warning [agents] x\n");
}

}  // namespace
}  // namespace ollamaflow
