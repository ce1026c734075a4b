#include <condition_variable>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "gpu/monitor.h"
#include "gpu/snapshot_json.h"
#include "gpu/snapshot_text.h"
#include "gpu/text_table.h"
#include "unit/gpu/fake_nvml.h"

namespace ollamaflow::gpu {
namespace {

std::filesystem::path fixtures() {
  return ollamaflow::testing::source_dir() / "tests/fixtures/gpu";
}

// A runner where nvidia-smi and rocm-smi are not installed.
CommandRunner no_commands() {
  return [](const std::vector<std::string>& argv, Duration) -> Result<CommandOutput> {
    return Result<CommandOutput>(ErrorCode::kNotFound, argv[0] + " not found on PATH");
  };
}

class SnapshotProberTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::fake_nvml() = testing::FakeNvml{}; }
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(SnapshotProberTest, CombinesVendorsAndNumbersDevices) {
  ProbeContext context;
  context.root = fixtures() / "amd_rx7900xt";
  context.run_command = no_commands();
  context.loader = std::make_shared<testing::FakeNvmlLoader>();
  SnapshotProber prober(context, clock_);
  GpuSnapshot snapshot = prober.take();
  ASSERT_EQ(snapshot.devices.size(), 2u);
  EXPECT_EQ(snapshot.devices[0].id, "gpu0");
  EXPECT_EQ(snapshot.devices[0].vendor, Vendor::kNvidia);
  EXPECT_EQ(snapshot.devices[1].id, "gpu1");
  EXPECT_EQ(snapshot.devices[1].vendor, Vendor::kAmd);
  EXPECT_TRUE(snapshot.host.available.has_value());
  EXPECT_TRUE(snapshot.warnings.empty());
}

TEST_F(SnapshotProberTest, NoGpuListsMissingSources) {
  testing::fake_nvml().library_present = false;
  ProbeContext context;
  context.root = fixtures() / "host_cgroup_v2_512m";
  context.run_command = no_commands();
  context.loader = std::make_shared<testing::FakeNvmlLoader>();
  GpuSnapshot snapshot = SnapshotProber(context, clock_).take();
  EXPECT_TRUE(snapshot.devices.empty());
  ASSERT_EQ(snapshot.warnings.size(), 2u);
  EXPECT_NE(snapshot.warnings[0].find("libnvidia-ml.so"), std::string::npos);
  EXPECT_NE(snapshot.warnings[1].find("nvidia-smi"), std::string::npos);
  EXPECT_EQ(snapshot.host.available->value, 536870912u - 104857600u);
}

TEST_F(SnapshotProberTest, OverrideFillsUnknownTotal) {
  testing::fake_nvml().library_present = false;
  ProbeContext context;
  context.root = fixtures() / "host_private_ns";
  context.loader = std::make_shared<testing::FakeNvmlLoader>();
  context.run_command = [](const std::vector<std::string>& argv,
                           Duration) -> Result<CommandOutput> {
    if (argv[0] != "nvidia-smi")
      return Result<CommandOutput>(ErrorCode::kNotFound, "absent");
    if (argv[1].rfind("--query-gpu", 0) == 0) {
      return CommandOutput{0,
                           "0, GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, NVIDIA GB10, "
                           "0000000F:01:00.0, 580.95.05, [N/A], [N/A], [N/A], 3, 40, [N/A]\n",
                           ""};
    }
    if (argv[1] == "-q")
      return CommandOutput{0, "<nvidia_smi_log></nvidia_smi_log>", ""};
    return CommandOutput{0, "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee, 4242, 19135\n", ""};
  };
  context.memory_total_overrides = parse_memory_overrides("gpu0=122880").value();
  GpuSnapshot snapshot = SnapshotProber(context, clock_).take();
  ASSERT_EQ(snapshot.devices.size(), 1u);
  const GpuDevice& d = snapshot.devices[0];
  EXPECT_EQ(d.detected_by, "nvidia-smi");
  EXPECT_EQ(d.memory_total->source, "config override");
  EXPECT_EQ(d.memory_used->value, 19135 * kMiB);
  EXPECT_EQ(d.memory_free->value, (122880 - 19135) * kMiB);
}

TEST_F(SnapshotProberTest, JsonCarriesSourcesAndNulls) {
  ProbeContext context;
  context.root = fixtures() / "intel_xe";
  context.run_command = no_commands();
  GpuSnapshot snapshot = SnapshotProber(context, clock_).take();
  nlohmann::json json = snapshot_to_json(snapshot);
  ASSERT_EQ(json["devices"].size(), 1u);
  EXPECT_EQ(json["devices"][0]["memory_total_bytes"]["source"], "sysfs:physical_vram_size_bytes");
  EXPECT_TRUE(json["devices"][0]["memory_free_bytes"].is_null());
  EXPECT_EQ(json["devices"][0]["vendor"], "intel");
}

// Counts snapshots and lets a test wait for a number of them.
class CountingSource final : public SnapshotSource {
 public:
  GpuSnapshot take() override {
    std::lock_guard<std::mutex> lock(mutex_);
    ++count_;
    changed_.notify_all();
    GpuSnapshot snapshot;
    snapshot.warnings.push_back("take " + std::to_string(count_));
    return snapshot;
  }
  bool wait_for(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    return changed_.wait_for(lock, std::chrono::seconds(10), [&] { return count_ >= count; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  int count_ = 0;
};

class GpuMonitorTest : public ::testing::Test {};

TEST_F(GpuMonitorTest, SnapshotIsNullUntilFirstRefresh) {
  GpuMonitor monitor(std::make_unique<CountingSource>(), std::make_shared<FakeClock>(),
                     std::chrono::seconds(2));
  EXPECT_EQ(monitor.snapshot(), nullptr);
  auto fresh = monitor.refresh();
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(monitor.snapshot(), fresh);
  EXPECT_EQ(monitor.refresh_count(), 1u);
}

TEST_F(GpuMonitorTest, BackgroundThreadRefreshesOnInterval) {
  auto source = std::make_unique<CountingSource>();
  CountingSource* counter = source.get();
  auto clock = std::make_shared<FakeClock>(/*auto_advance=*/true);
  MonoTime start = clock->now();
  GpuMonitor monitor(std::move(source), clock, std::chrono::seconds(2));
  monitor.start();
  ASSERT_TRUE(counter->wait_for(3));
  monitor.stop();
  uint64_t refreshes = monitor.refresh_count();
  EXPECT_GE(refreshes, 3u);
  EXPECT_GE(clock->now() - start, std::chrono::seconds(2) * (refreshes - 1));
  ASSERT_NE(monitor.snapshot(), nullptr);
  EXPECT_EQ(monitor.snapshot()->warnings[0], "take " + std::to_string(refreshes));
}

class CommandRunnerTest : public ::testing::Test {
 protected:
  CommandRunner runner_ = make_process_runner(system_clock());
};

TEST_F(CommandRunnerTest, CapturesOutputAndExitStatus) {
  Result<CommandOutput> out =
      runner_({"sh", "-c", "echo out; echo err >&2; exit 3"}, std::chrono::seconds(10));
  ASSERT_TRUE(out.is_ok()) << out.status().to_string();
  EXPECT_EQ(out->out, "out\n");
  EXPECT_EQ(out->err, "err\n");
  EXPECT_EQ(out->exit_code, 3);
}

TEST_F(CommandRunnerTest, MissingProgramIsNotFound) {
  Result<CommandOutput> out = runner_({"ollama-flow-no-such-program"}, std::chrono::seconds(10));
  EXPECT_EQ(out.status().code(), ErrorCode::kNotFound);
}

TEST_F(CommandRunnerTest, SlowProgramIsKilledAtTimeout) {
  Result<CommandOutput> out =
      runner_({"sh", "-c", "exec sleep 30"}, std::chrono::milliseconds(200));
  EXPECT_EQ(out.status().code(), ErrorCode::kTimeout);
}

class MemoryOverrideTest : public ::testing::Test {};

TEST_F(MemoryOverrideTest, ParsesAllAndPerDeviceForms) {
  auto all = parse_memory_overrides("24576");
  ASSERT_TRUE(all.is_ok());
  EXPECT_EQ((*all)[0], (std::pair<std::string, uint64_t>{"*", 24576 * kMiB}));
  auto each = parse_memory_overrides("gpu0=1024,GPU-x=2048");
  ASSERT_TRUE(each.is_ok());
  EXPECT_EQ(each->size(), 2u);
  EXPECT_EQ((*each)[1].first, "GPU-x");
  for (const char* bad : {"abc", "gpu0=", "=12", "gpu0=0", "12MiB"}) {
    auto parsed = parse_memory_overrides(bad);
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << bad;
  }
}

class TextTableTest : public ::testing::Test {};

TEST_F(TextTableTest, AlignsColumns) {
  TextTable table({"ID", "NAME", "FREE"});
  table.add_row({"gpu0", "NVIDIA GeForce RTX 3090", format_mib(23275 * kMiB)});
  table.add_row({"host", "host memory", format_mib(std::nullopt)});
  EXPECT_EQ(table.render(),
            "ID    NAME                     FREE\n"
            "gpu0  NVIDIA GeForce RTX 3090  23275 MiB\n"
            "host  host memory              unknown\n");
}

// A CJK ideograph takes two terminal columns, so the cells below it get two columns less padding.
TEST_F(TextTableTest, WideCharactersCountTwoColumns) {
  TextTable table({"NAME", "FREE"});
  table.add_row({"\u65e5\u672c", "1 MiB"});
  table.add_row({"abcde", "2 MiB"});
  const std::vector<std::string> lines = table.render_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "NAME   FREE");
  EXPECT_EQ(lines[1], "\u65e5\u672c   1 MiB");
  EXPECT_EQ(lines[2], "abcde  2 MiB");
}

// A cell contains text from outside, such as a GPU or model name, so the table escapes it. An
// escape sequence, a newline or a right-to-left override never reaches the terminal.
TEST_F(TextTableTest, EscapesControlCharactersInCells) {
  TextTable table({"NAME\n", "FREE"});
  table.add_row({"gpu\x1b[31m\u202e", "1 MiB"});
  table.add_row({"a\nb", "2 MiB"});
  const std::vector<std::string> lines = table.render_lines();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "NAME\\n             FREE");
  EXPECT_EQ(lines[1], "gpu\\x1B[31m\\u202E  1 MiB");
  EXPECT_EQ(lines[2], "a\\nb               2 MiB");
}

// A cell that the caller escaped already, as `runs` does, comes out the same.
TEST_F(TextTableTest, EscapedCellStaysUnchanged) {
  TextTable table({"NAME"});
  table.add_row({"gpu\\x1B[31m"});
  const std::vector<std::string> lines = table.render_lines();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[1], "gpu\\x1B[31m");
}

TEST_F(TextTableTest, SnapshotEscapesNameAndNotes) {
  GpuSnapshot snapshot;
  GpuDevice device;
  device.id = "gpu0";
  device.name = "Card\x1b]0;title\x07\u202e";
  device.detected_by = "sysfs";
  device.notes.push_back("name read as \x1b[2J");
  snapshot.devices.push_back(device);
  const std::string text = render_snapshot(snapshot);
  EXPECT_EQ(text.find('\x1b'), std::string::npos) << text;
  EXPECT_EQ(text.find('\x07'), std::string::npos) << text;
  EXPECT_EQ(text.find("\u202e"), std::string::npos) << text;
  EXPECT_NE(text.find("Card\\x1B]0;title\\x07\\u202E"), std::string::npos) << text;
  EXPECT_NE(text.find("gpu0: name read as \\x1B[2J"), std::string::npos) << text;
}

TEST_F(TextTableTest, SmallSizesInKib) {
  EXPECT_EQ(format_mib(0), "0 MiB");
  EXPECT_EQ(format_mib(1), "1 KiB");
  EXPECT_EQ(format_mib(12 * 1024), "12 KiB");
  EXPECT_EQ(format_mib(12 * 1024 + 1), "13 KiB");
  EXPECT_EQ(format_mib(kMiB - 1), "1024 KiB");
  EXPECT_EQ(format_mib(kMiB), "1 MiB");
}

}  // namespace
}  // namespace ollamaflow::gpu
