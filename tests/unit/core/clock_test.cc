#include "core/clock.h"

#include <gtest/gtest.h>

namespace ollamaflow {
namespace {

TEST(FakeClockTest, AdvanceMovesBothClocks) {
  FakeClock clock;
  const MonoTime start = clock.now();
  const WallTime wall_start = clock.wall_now();
  clock.advance(std::chrono::seconds(5));
  EXPECT_EQ(clock.now() - start, std::chrono::seconds(5));
  EXPECT_EQ(clock.wall_now() - wall_start, std::chrono::seconds(5));
}

TEST(FakeClockTest, AutoAdvanceSleepMovesTime) {
  FakeClock clock(/*auto_advance=*/true);
  const MonoTime start = clock.now();
  clock.sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(clock.now() - start, std::chrono::milliseconds(1500));
}

TEST(FormatIso8601Test, FormatsMilliseconds) {
  const WallTime time = WallTime(std::chrono::milliseconds(1767225600123));
  EXPECT_EQ(format_iso8601(time), "2026-01-01T00:00:00.123Z");
}

}  // namespace
}  // namespace ollamaflow
