// SampleRing: the wait and service samples behind the collector's windows.
#include <gtest/gtest.h>

#include <algorithm>
#include <vector>

#include "workload/windows.h"

namespace ollamaflow::workload {
namespace {

std::vector<float> collect_sorted(const SampleRing& ring, int64_t since_ns) {
  std::vector<float> values;
  ring.collect(since_ns, values);
  std::sort(values.begin(), values.end());
  return values;
}

TEST(SampleRingTest, CollectsSamplesAfterSince) {
  SampleRing ring(8);
  for (int i = 1; i <= 5; ++i) {
    ring.push(i * 100, static_cast<float>(i));
  }
  EXPECT_EQ(collect_sorted(ring, 250), (std::vector<float>{3, 4, 5}));
  EXPECT_EQ(collect_sorted(ring, 300), (std::vector<float>{4, 5}));
  EXPECT_EQ(collect_sorted(ring, 0), (std::vector<float>{1, 2, 3, 4, 5}));
  EXPECT_TRUE(collect_sorted(ring, 500).empty());
}

TEST(SampleRingTest, WrapKeepsNewestSamples) {
  SampleRing ring(4);
  for (int i = 1; i <= 10; ++i) {
    ring.push(i * 100, static_cast<float>(i));
  }
  EXPECT_EQ(collect_sorted(ring, 0), (std::vector<float>{7, 8, 9, 10}));
  EXPECT_EQ(collect_sorted(ring, 850), (std::vector<float>{9, 10}));
}

TEST(SampleRingTest, LateTimestampJoinsNewest) {
  // Two threads may read the clock in one order and push in the other.
  SampleRing ring(8);
  ring.push(100, 1);
  ring.push(300, 3);
  ring.push(200, 2);  // stored at 300
  EXPECT_EQ(collect_sorted(ring, 250), (std::vector<float>{2, 3}));
  EXPECT_EQ(collect_sorted(ring, 50), (std::vector<float>{1, 2, 3}));
}

TEST(SampleRingTest, EmptyRingCollectsNothing) {
  SampleRing ring(4);
  EXPECT_TRUE(collect_sorted(ring, -1).empty());
}

}  // namespace
}  // namespace ollamaflow::workload
