#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "gpu/amd_probe.h"
#include "gpu/host_memory.h"
#include "gpu/intel_probe.h"

namespace ollamaflow::gpu {
namespace {

std::filesystem::path fixtures() {
  return ollamaflow::testing::source_dir() / "tests/fixtures/gpu";
}

std::string fixture_text(const std::string& name) {
  std::ifstream in(fixtures() / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool has_note(const GpuDevice& device, const std::string& fragment) {
  for (const auto& note : device.notes) {
    if (note.find(fragment) != std::string::npos)
      return true;
  }
  return false;
}

// Runs a fixture tree with a rocm-smi that prints `rocm_smi_output` (or is missing).
class AmdProbeTest : public ::testing::Test {
 protected:
  std::vector<GpuDevice> probe(const std::filesystem::path& root) {
    ProbeContext context;
    context.root = root;
    context.run_command = [this](const std::vector<std::string>& argv,
                                 Duration) -> Result<CommandOutput> {
      ++rocm_smi_calls_;
      EXPECT_EQ(argv[0], "rocm-smi");
      if (!rocm_smi_output_)
        return Result<CommandOutput>(ErrorCode::kNotFound, "not on PATH");
      return CommandOutput{0, *rocm_smi_output_, ""};
    };
    HostMemory host = read_host_memory(FileTree(root));
    return probe_.probe(context, host, warnings_);
  }

  AmdProbe probe_;
  std::optional<std::string> rocm_smi_output_;
  int rocm_smi_calls_ = 0;
  std::vector<std::string> warnings_;
};

TEST_F(AmdProbeTest, DiscreteCardFromSysfsAndKfd) {
  std::vector<GpuDevice> devices = probe(fixtures() / "amd_rx7900xt");
  ASSERT_EQ(devices.size(), 1u);
  const GpuDevice& d = devices[0];
  EXPECT_EQ(d.vendor, Vendor::kAmd);
  EXPECT_EQ(d.name, "AMD GPU gfx1100");
  EXPECT_EQ(d.bus_id, "0000:03:00.0");
  EXPECT_EQ(d.uuid, "1f0a5b2c3d4e5f60");
  EXPECT_FALSE(d.integrated);
  EXPECT_EQ(d.memory_total->value, 21458059264u);
  EXPECT_EQ(d.memory_total->source, "sysfs:mem_info_vram_total");
  EXPECT_EQ(d.memory_used->value, 27856896u);
  EXPECT_EQ(d.memory_free->value / kMiB, 20437u);
  EXPECT_DOUBLE_EQ(d.utilization_percent->value, 3);
  EXPECT_DOUBLE_EQ(d.temperature_c->value, 41);
  EXPECT_DOUBLE_EQ(d.power_w->value, 17);
  EXPECT_FALSE(has_note(d, "KFD"));
  EXPECT_EQ(rocm_smi_calls_, 0);
}

TEST_F(AmdProbeTest, ApuUsesGttCappedByHost) {
  std::vector<GpuDevice> devices = probe(fixtures() / "amd_apu_780m");
  ASSERT_EQ(devices.size(), 1u);
  const GpuDevice& d = devices[0];
  EXPECT_TRUE(d.integrated);
  EXPECT_EQ(d.memory_pool, "gtt");
  EXPECT_EQ(d.memory_total->value, 16 * kGiB);
  EXPECT_EQ(d.memory_free->value, 10 * kGiB);
  EXPECT_NE(d.memory_free->source.find("MemAvailable"), std::string::npos);
  // gpu_busy_percent reads 0xffff: unknown, never 655 %.
  EXPECT_FALSE(d.utilization_percent.has_value());
  EXPECT_TRUE(has_note(d, "above 100"));
  EXPECT_DOUBLE_EQ(d.temperature_c->value, 52);
  EXPECT_DOUBLE_EQ(d.power_w->value, 9);
}

TEST_F(AmdProbeTest, UnreadableBusyFileLeavesOtherFigures) {
  std::vector<GpuDevice> devices = probe(fixtures() / "amd_bc250");
  ASSERT_EQ(devices.size(), 1u);
  const GpuDevice& d = devices[0];
  EXPECT_FALSE(d.utilization_percent.has_value());
  EXPECT_TRUE(has_note(d, "gpu_busy_percent"));
  EXPECT_EQ(d.memory_total->value, 10 * kGiB);
  EXPECT_EQ(d.memory_free->value, 10 * kGiB - 512 * kMiB);
  EXPECT_DOUBLE_EQ(d.temperature_c->value, 48);
}

TEST_F(AmdProbeTest, RocmSmiFillsCardsWithoutSysfsMemory) {
  ollamaflow::testing::TempDir dir;
  std::filesystem::copy(fixtures() / "amd_rx7900xt", dir.path(),
                        std::filesystem::copy_options::recursive);
  std::filesystem::remove(dir.path() / "sys/class/drm/card0/device/mem_info_vram_total");
  std::filesystem::remove(dir.path() / "sys/class/drm/card0/device/mem_info_vram_used");
  rocm_smi_output_ = fixture_text("rocm-smi/c8_rx7900xt.json");
  std::vector<GpuDevice> devices = probe(dir.path());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].memory_total->value, 21458059264u);
  EXPECT_EQ(devices[0].memory_total->source, "rocm-smi");
  EXPECT_EQ(devices[0].memory_free->value / kMiB, 20437u);
  EXPECT_EQ(rocm_smi_calls_, 1);
}

TEST_F(AmdProbeTest, RocmSmiWithoutJsonKeepsSysfsFigures) {
  ollamaflow::testing::TempDir dir;
  std::filesystem::copy(fixtures() / "amd_rx7900xt", dir.path(),
                        std::filesystem::copy_options::recursive);
  std::filesystem::remove(dir.path() / "sys/class/drm/card0/device/mem_info_vram_used");
  rocm_smi_output_ = fixture_text("rocm-smi/no_json.txt");
  std::vector<GpuDevice> devices = probe(dir.path());
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].memory_total->value, 21458059264u);
  EXPECT_FALSE(devices[0].memory_free.has_value());
  ASSERT_EQ(warnings_.size(), 1u);
  EXPECT_NE(warnings_[0].find("No JSON data"), std::string::npos);
}

TEST_F(AmdProbeTest, MissingRocmSmiIsTriedOnce) {
  ollamaflow::testing::TempDir dir;
  std::filesystem::copy(fixtures() / "amd_bc250", dir.path(),
                        std::filesystem::copy_options::recursive);
  std::filesystem::remove(dir.path() / "sys/class/drm/card1/device/mem_info_vram_used");
  probe(dir.path());
  probe(dir.path());
  EXPECT_EQ(rocm_smi_calls_, 1);
}

class RocmSmiParseTest : public ::testing::Test {};

TEST_F(RocmSmiParseTest, ReadsByteCountsGivenAsStrings) {
  Result<std::vector<RocmSmiCard>> cards =
      parse_rocm_smi_json(fixture_text("rocm-smi/c8_rx7900xt.json"));
  ASSERT_TRUE(cards.is_ok()) << cards.status().to_string();
  ASSERT_EQ(cards->size(), 1u);
  EXPECT_EQ((*cards)[0].vram_total, 21458059264u);
  EXPECT_EQ((*cards)[0].vram_used, 27856896u);
  EXPECT_EQ((*cards)[0].busy_percent, 0.0);
  EXPECT_EQ((*cards)[0].series, "Radeon RX 7900 XT");
}

TEST_F(RocmSmiParseTest, SkipsWarningLinesAndRejectsNonJson) {
  Result<std::vector<RocmSmiCard>> mixed =
      parse_rocm_smi_json(fixture_text("rocm-smi/warning_then_json.txt"));
  ASSERT_TRUE(mixed.is_ok()) << mixed.status().to_string();
  EXPECT_EQ((*mixed)[0].vram_total, 17163091968u);
  EXPECT_EQ(parse_rocm_smi_json(fixture_text("rocm-smi/no_json.txt")).status().code(),
            ErrorCode::kParseError);
  EXPECT_EQ(parse_rocm_smi_json("").status().code(), ErrorCode::kParseError);
  EXPECT_EQ(parse_rocm_smi_json("{\"card0\": {\"VRAM Total").status().code(),
            ErrorCode::kParseError);
  Result<std::vector<RocmSmiCard>> odd = parse_rocm_smi_json(
      R"json({"card0": {"VRAM Total Memory (B)": "N/A", "GPU use (%)": "655"}})json");
  ASSERT_TRUE(odd.is_ok());
  EXPECT_FALSE((*odd)[0].vram_total.has_value());
  EXPECT_FALSE((*odd)[0].busy_percent.has_value());
}

TEST_F(RocmSmiParseTest, FormatsGfxTargets) {
  EXPECT_EQ(gfx_target_name(110000), "gfx1100");
  EXPECT_EQ(gfx_target_name(110501), "gfx1151");
  EXPECT_EQ(gfx_target_name(90010), "gfx90a");
}

class IntelProbeTest : public ::testing::Test {
 protected:
  std::vector<GpuDevice> probe(const std::string& tree) {
    ProbeContext context;
    context.root = fixtures() / tree;
    return probe_intel(context);
  }
};

TEST_F(IntelProbeTest, I915LocalMemoryAndIntegratedGpu) {
  std::vector<GpuDevice> devices = probe("intel_arc_i915");
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_TRUE(devices[0].integrated);
  EXPECT_FALSE(devices[0].memory_free.has_value());
  EXPECT_TRUE(has_note(devices[0], "no agents"));
  EXPECT_EQ(devices[1].memory_total->value, 16225665024u);
  EXPECT_EQ(devices[1].memory_free->value, 15152971776u);
  EXPECT_EQ(devices[1].memory_free->source, "sysfs:lmem_avail_bytes");
  EXPECT_DOUBLE_EQ(devices[1].power_w->value, 35);
}

TEST_F(IntelProbeTest, XeTotalWithoutUsedLeavesFreeUnknown) {
  std::vector<GpuDevice> devices = probe("intel_xe");
  ASSERT_EQ(devices.size(), 1u);
  EXPECT_EQ(devices[0].memory_total->value, 12 * kGiB);
  EXPECT_FALSE(devices[0].memory_free.has_value());
  EXPECT_TRUE(has_note(devices[0], "xe driver"));
}

class HostMemoryTest : public ::testing::Test {
 protected:
  HostMemory read(const std::string& tree) { return read_host_memory(FileTree(fixtures() / tree)); }
};

TEST_F(HostMemoryTest, MemAvailableWithoutLimit) {
  HostMemory host = read("amd_rx7900xt");
  EXPECT_EQ(host.total->value, 65536000ull * 1024);
  EXPECT_EQ(host.available->value, 40000000ull * 1024);
  EXPECT_EQ(host.available->source, "/proc/meminfo MemAvailable");
  EXPECT_FALSE(host.cgroup_limit.has_value());
}

TEST_F(HostMemoryTest, CgroupV2LimitCapsTotalAndAvailable) {
  HostMemory host = read("host_cgroup_v2_512m");
  EXPECT_EQ(host.total->value, 536870912u);
  EXPECT_EQ(host.available->value, 536870912u - 104857600u);
  EXPECT_EQ(host.cgroup_limit->source, "cgroup v2 memory.max");
}

TEST_F(HostMemoryTest, TightestAncestorLimitWins) {
  HostMemory host = read("host_cgroup_nested");
  EXPECT_EQ(host.available->value, 1073741824u - 268435456u);
  EXPECT_EQ(host.total->value, 1073741824u);
}

TEST_F(HostMemoryTest, PrivateNamespaceReadsTheMount) {
  HostMemory host = read("host_private_ns");
  EXPECT_EQ(host.total->value, 536870912u);
  EXPECT_EQ(host.available->value, 536870912u);
}

TEST_F(HostMemoryTest, CgroupV1SentinelMeansNoLimit) {
  HostMemory host = read("host_cgroup_v1_sentinel");
  EXPECT_FALSE(host.cgroup_limit.has_value());
  EXPECT_EQ(host.total->value, 16000000ull * 1024);
  EXPECT_EQ(host.available->value, (1000000ull + 500000 + 4000000) * 1024);
  EXPECT_EQ(host.available->source, "/proc/meminfo MemFree+Buffers+Cached");
}

TEST_F(HostMemoryTest, ZeroMemTotalIsUnknown) {
  HostMemory host = read("host_lxcfs_zero");
  EXPECT_FALSE(host.total.has_value());
  EXPECT_FALSE(host.available.has_value());
  EXPECT_FALSE(host.notes.empty());
}

TEST_F(HostMemoryTest, MissingProcIsUnknown) {
  ollamaflow::testing::TempDir dir;
  HostMemory host = read_host_memory(FileTree(dir.path()));
  EXPECT_FALSE(host.total.has_value());
  EXPECT_FALSE(host.available.has_value());
}

}  // namespace
}  // namespace ollamaflow::gpu
