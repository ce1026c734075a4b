#include "workload/host.h"

#include <fstream>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"

namespace ollamaflow::workload {
namespace {

constexpr const char* kStatFirst =
    "cpu  100 0 50 800 50 0 0 0 0 0\n"
    "cpu0 50 0 25 400 25 0 0 0 0 0\n";
// 150 more busy jiffies and 50 more idle jiffies than kStatFirst: 75 % busy.
constexpr const char* kStatSecond = "cpu  200 0 100 850 50 0 0 0 0 0\n";
constexpr const char* kMeminfo =
    "MemTotal:       16000000 kB\n"
    "MemFree:         1000000 kB\n"
    "MemAvailable:    4000000 kB\n";

class HostSamplerTest : public ::testing::Test {
 protected:
  void write(const std::string& name, const std::string& text) {
    std::ofstream(dir_.path() / name) << text;
  }

  testing::TempDir dir_;
  MonoTime now_{};
};

TEST_F(HostSamplerTest, CpuNeedsTwoSamples) {
  write("stat", kStatFirst);
  write("meminfo", kMeminfo);
  HostSampler sampler(dir_.path());
  HostLoad load;
  ASSERT_TRUE(sampler.sample(now_, load).is_ok());
  EXPECT_FALSE(load.cpu_percent.has_value());
  ASSERT_TRUE(load.memory_percent.has_value());
  EXPECT_NEAR(*load.memory_percent, 75.0, 1e-9);

  write("stat", kStatSecond);
  ASSERT_TRUE(sampler.sample(now_, load).is_ok());
  ASSERT_TRUE(load.cpu_percent.has_value());
  EXPECT_NEAR(*load.cpu_percent, 75.0, 1e-9);
}

TEST_F(HostSamplerTest, MissingFilesNamePath) {
  HostSampler sampler(dir_.path());
  HostLoad load;
  const Status status = sampler.sample(now_, load);
  EXPECT_EQ(status.code(), ErrorCode::kIoError);
  EXPECT_NE(status.message().find("stat"), std::string::npos) << status.message();
  EXPECT_NE(status.message().find("meminfo"), std::string::npos) << status.message();
  EXPECT_FALSE(load.cpu_percent.has_value());
  EXPECT_FALSE(load.memory_percent.has_value());
}

TEST_F(HostSamplerTest, OneBadFileKeepsTheOther) {
  write("stat", "intr 1 2 3\n");
  write("meminfo", kMeminfo);
  HostSampler sampler(dir_.path());
  HostLoad load;
  const Status status = sampler.sample(now_, load);
  EXPECT_FALSE(status.is_ok());
  EXPECT_TRUE(load.memory_percent.has_value());
}

TEST(ParseProcStatTest, ShortLineIsParseError) {
  const Result<CpuTimes> times = parse_proc_stat("cpu  1 2 3\n");
  EXPECT_EQ(times.status().code(), ErrorCode::kParseError);
}

TEST(ParseProcStatTest, CountsStealAndIowait) {
  const Result<CpuTimes> times = parse_proc_stat("cpu  10 20 30 40 50 60 70 80 90 100\n");
  ASSERT_TRUE(times.is_ok());
  EXPECT_EQ(times->busy, 10u + 20 + 30 + 60 + 70 + 80);
  EXPECT_EQ(times->total, times->busy + 40 + 50);
}

TEST(ParseMeminfoTest, ZeroTotalIsUnknown) {
  const Result<double> used = parse_meminfo_used_percent("MemTotal: 0 kB\nMemAvailable: 0 kB\n");
  EXPECT_EQ(used.status().code(), ErrorCode::kParseError);
}

TEST(ParseMeminfoTest, MissingAvailableIsParseError) {
  const Result<double> used = parse_meminfo_used_percent("MemTotal: 100 kB\nMemFree: 5 kB\n");
  EXPECT_EQ(used.status().code(), ErrorCode::kParseError);
}

}  // namespace
}  // namespace ollamaflow::workload
