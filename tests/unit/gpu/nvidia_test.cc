#include <fstream>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"
#include "gpu/nvidia_smi.h"
#include "gpu/nvml_probe.h"
#include "unit/gpu/fake_nvml.h"

namespace ollamaflow::gpu {
namespace {

std::string fixture(const std::string& name) {
  std::ifstream in(ollamaflow::testing::source_dir() / "tests/fixtures/gpu/nvidia-smi" / name);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

bool has_note(const GpuDevice& device, const std::string& fragment) {
  for (const auto& note : device.notes) {
    if (note.find(fragment) != std::string::npos)
      return true;
  }
  return false;
}

class NvmlProbeTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::fake_nvml() = testing::FakeNvml{}; }
  std::shared_ptr<LibraryLoader> loader_ = std::make_shared<testing::FakeNvmlLoader>();
};

TEST_F(NvmlProbeTest, ReadsMemoryV2AndActivity) {
  testing::fake_nvml().devices[0].processes = {{4242, 3ull << 30, 0, 0},
                                               {4343, nvml::kValueNotAvailable, 0, 0}};
  NvmlProbe probe(loader_);
  Result<std::vector<GpuDevice>> devices = probe.probe();
  ASSERT_TRUE(devices.is_ok()) << devices.status().to_string();
  ASSERT_EQ(devices->size(), 1u);
  const GpuDevice& d = (*devices)[0];
  EXPECT_EQ(d.name, "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(d.uuid, "GPU-11111111-2222-3333-4444-555555555555");
  EXPECT_EQ(d.bus_id, "00000000:01:00.0");
  EXPECT_EQ(d.driver, "535.161.08");
  EXPECT_EQ(d.detected_by, "nvml");
  ASSERT_TRUE(d.memory_total.has_value());
  ASSERT_TRUE(d.memory_used.has_value());
  ASSERT_TRUE(d.memory_free.has_value());
  EXPECT_EQ(d.memory_total->value, 24ull << 30);
  EXPECT_EQ(d.memory_used->value, 4ull << 30);
  EXPECT_EQ(d.memory_free->value, 20ull << 30);
  EXPECT_EQ(d.memory_free->source, "nvml");
  EXPECT_DOUBLE_EQ(d.utilization_percent->value, 37);
  EXPECT_DOUBLE_EQ(d.temperature_c->value, 61);
  EXPECT_DOUBLE_EQ(d.power_w->value, 245.5);
  ASSERT_EQ(d.processes.size(), 2u);
  EXPECT_EQ(d.processes[0].used_bytes, 3ull << 30);
  EXPECT_FALSE(d.processes[1].used_bytes.has_value());
}

TEST_F(NvmlProbeTest, FallsBackToV1WithoutV2Symbol) {
  testing::fake_nvml().has_memory_v2 = false;
  NvmlProbe probe(loader_);
  Result<std::vector<GpuDevice>> devices = probe.probe();
  ASSERT_TRUE(devices.is_ok());
  const GpuDevice& d = (*devices)[0];
  EXPECT_EQ(d.memory_free->source, "nvml v1");
  EXPECT_EQ(d.memory_used->value, (4ull << 30) + (300ull << 20));
}

TEST_F(NvmlProbeTest, FallsBackToV1WhenV2Fails) {
  testing::fake_nvml().devices[0].memory_v2_result = nvml::kErrorNotSupported;
  NvmlProbe probe(loader_);
  const GpuDevice d = probe.probe().value()[0];
  EXPECT_EQ(d.memory_free->source, "nvml v1");
  EXPECT_TRUE(has_note(d, "nvmlDeviceGetMemoryInfo_v2 returned 3"));
}

TEST_F(NvmlProbeTest, NoPermissionLeavesMemoryUnknown) {
  auto& device = testing::fake_nvml().devices[0];
  device.memory_v2_result = nvml::kErrorNoPermission;
  device.memory_v1_result = nvml::kErrorNoPermission;
  device.utilization_result = nvml::kErrorNotSupported;
  NvmlProbe probe(loader_);
  const GpuDevice d = probe.probe().value()[0];
  EXPECT_FALSE(d.memory_total.has_value());
  EXPECT_FALSE(d.memory_used.has_value());
  EXPECT_FALSE(d.memory_free.has_value());
  EXPECT_FALSE(d.utilization_percent.has_value());
  EXPECT_TRUE(d.temperature_c.has_value());
  EXPECT_TRUE(has_note(d, "Insufficient Permissions"));
}

TEST_F(NvmlProbeTest, MissingLibraryIsRememberedAsNotFound) {
  testing::fake_nvml().library_present = false;
  NvmlProbe probe(loader_);
  EXPECT_EQ(probe.probe().status().code(), ErrorCode::kNotFound);
  int opens = testing::fake_nvml().open_calls;
  EXPECT_EQ(probe.probe().status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(testing::fake_nvml().open_calls, opens);
}

TEST_F(NvmlProbeTest, InitFailureIsUnavailableAndShutdownFollowsInit) {
  testing::fake_nvml().init_result = nvml::kErrorDriverNotLoaded;
  {
    NvmlProbe probe(loader_);
    Result<std::vector<GpuDevice>> devices = probe.probe();
    EXPECT_EQ(devices.status().code(), ErrorCode::kUnavailable);
    EXPECT_NE(devices.status().message().find("driver"), std::string::npos);
  }
  EXPECT_EQ(testing::fake_nvml().shutdown_calls, 0);
  testing::fake_nvml().init_result = nvml::kSuccess;
  { NvmlProbe(loader_).probe().value(); }
  EXPECT_EQ(testing::fake_nvml().init_calls, 2);
  EXPECT_EQ(testing::fake_nvml().shutdown_calls, 1);
}

class NvidiaSmiTest : public ::testing::Test {
 protected:
  std::vector<GpuDevice> devices(const std::string& text, const std::vector<std::string>& fields) {
    Result<std::vector<SmiRow>> rows = parse_smi_csv(text, fields);
    EXPECT_TRUE(rows.is_ok()) << rows.status().to_string();
    return devices_from_smi_rows(rows.value_or(std::vector<SmiRow>{}));
  }
};

TEST_F(NvidiaSmiTest, ParsesQueryRows) {
  std::vector<GpuDevice> list = devices(fixture("query_gpu_two.csv"), kNvidiaSmiGpuFields);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "NVIDIA GeForce RTX 3090");
  EXPECT_EQ(list[0].memory_total->value, 24576 * kMiB);
  EXPECT_EQ(list[0].memory_free->value, 23275 * kMiB);
  EXPECT_EQ(list[0].memory_free->source, "nvidia-smi");
  EXPECT_DOUBLE_EQ(list[0].power_w->value, 112.34);
  EXPECT_EQ(list[1].vendor_index, 1);
  EXPECT_EQ(list[1].uuid, "GPU-66666666-7777-8888-9999-000000000000");
}

TEST_F(NvidiaSmiTest, InsufficientPermissionsIsUnknownNotZero) {
  std::vector<GpuDevice> list = devices(fixture("c6_mig_unprivileged.csv"), {});
  ASSERT_EQ(list.size(), 1u);
  const GpuDevice& d = list[0];
  EXPECT_EQ(d.name, "NVIDIA A100-SXM4-80GB");
  EXPECT_FALSE(d.memory_total.has_value());
  EXPECT_FALSE(d.memory_used.has_value());
  EXPECT_FALSE(d.memory_free.has_value());
  EXPECT_FALSE(d.utilization_percent.has_value());
  EXPECT_DOUBLE_EQ(d.temperature_c->value, 47);
  EXPECT_TRUE(has_note(d, "memory.total as '[Insufficient Permissions]'"));
}

TEST_F(NvidiaSmiTest, UnifiedMemoryBoardHasUnknownMemory) {
  std::vector<GpuDevice> list =
      devices(fixture("gb10_unified.csv"), {"memory.used", "memory.total", "utilization.memory"});
  ASSERT_EQ(list.size(), 1u);
  EXPECT_FALSE(list[0].memory_used.has_value());
  EXPECT_FALSE(list[0].memory_total.has_value());
  EXPECT_TRUE(has_note(list[0], "'[N/A]'"));
}

TEST_F(NvidiaSmiTest, SumsComputeAppMemory) {
  Result<std::vector<SmiRow>> rows = parse_smi_csv(
      fixture("gb10_compute_apps.csv"), {"gpu_uuid", "pid", "process_name", "used_memory"});
  ASSERT_TRUE(rows.is_ok());
  auto sums = sum_compute_app_memory(*rows);
  EXPECT_EQ(sums["GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"], 19135 * kMiB);
}

TEST_F(NvidiaSmiTest, ReadsMigSliceMemory) {
  std::vector<MigMemory> slices = parse_smi_mig_xml(fixture("mig_q_x.xml"));
  ASSERT_EQ(slices.size(), 1u);
  EXPECT_EQ(slices[0].gpu_bus_id, "00000000:07:00.0");
  EXPECT_EQ(slices[0].gpu_uuid, "GPU-12345678-abcd-ef01-2345-6789abcdef01");
  EXPECT_EQ(slices[0].total_bytes, 4864 * kMiB);
  EXPECT_EQ(slices[0].free_bytes, 4860 * kMiB);
  EXPECT_EQ(slices[0].slice_count, 1);
  std::string xml = fixture("mig_q_x.xml");
  EXPECT_TRUE(parse_smi_mig_xml(xml.substr(0, xml.size() / 2)).empty());
}

TEST_F(NvidiaSmiTest, GarbageEmptyAndTruncatedOutput) {
  EXPECT_TRUE(parse_smi_csv("", kNvidiaSmiGpuFields)->empty());
  EXPECT_TRUE(parse_smi_csv("\n\n", kNvidiaSmiGpuFields)->empty());
  Result<std::vector<SmiRow>> garbage = parse_smi_csv(
      "Failed to initialize NVML: Driver/library version mismatch\n", kNvidiaSmiGpuFields);
  EXPECT_EQ(garbage.status().code(), ErrorCode::kParseError);
  std::string two = fixture("query_gpu_two.csv");
  Result<std::vector<SmiRow>> truncated =
      parse_smi_csv(two.substr(0, two.size() - 20), kNvidiaSmiGpuFields);
  EXPECT_EQ(truncated.status().code(), ErrorCode::kParseError);
  std::vector<GpuDevice> odd = devices(
      "0, GPU-x, Name, With Comma, 00:01.0, 535, -5, abc, 1e9, "
      "200, 999, 3",
      kNvidiaSmiGpuFields);
  ASSERT_EQ(odd.size(), 1u);
  EXPECT_EQ(odd[0].name, "Name, With Comma");
  EXPECT_FALSE(odd[0].memory_total.has_value());
  EXPECT_FALSE(odd[0].utilization_percent.has_value());
}

class NvidiaSmiProbeTest : public ::testing::Test {
 protected:
  ProbeContext context() {
    ProbeContext context;
    context.run_command = [this](const std::vector<std::string>& argv,
                                 Duration) -> Result<CommandOutput> {
      calls_.push_back(argv);
      if (!present_)
        return Result<CommandOutput>(ErrorCode::kNotFound, "nvidia-smi not found");
      std::string args;
      for (size_t i = 1; i < argv.size(); ++i)
        args += argv[i] + " ";
      if (args.find("--query-gpu") != std::string::npos)
        return CommandOutput{0, gpus_, ""};
      if (args.find("-q -x") != std::string::npos)
        return CommandOutput{xml_exit_, xml_, ""};
      return CommandOutput{0, apps_, ""};
    };
    return context;
  }
  bool present_ = true;
  std::string gpus_ =
      "0, GPU-12345678-abcd-ef01-2345-6789abcdef01, NVIDIA A100-SXM4-80GB, 00000000:07:00.0, "
      "535.161.08, [Insufficient Permissions], [Insufficient Permissions], "
      "[Insufficient Permissions], [N/A], 47, [N/A]\n";
  std::string xml_ = fixture("mig_q_x.xml");
  int xml_exit_ = 0;
  std::string apps_;
  std::vector<std::vector<std::string>> calls_;
};

TEST_F(NvidiaSmiProbeTest, MigSlicesFillUnknownMemory) {
  NvidiaSmiProbe probe;
  ProbeContext ctx = context();
  std::vector<GpuDevice> list = probe.probe(ctx).value();
  ASSERT_FALSE(memory_known(list[0]));
  probe.fill_unknown_memory(ctx, list);
  ASSERT_TRUE(memory_known(list[0]));
  EXPECT_EQ(list[0].memory_total->value, 4864 * kMiB);
  EXPECT_NE(list[0].memory_free->source.find("MIG"), std::string::npos);
}

TEST_F(NvidiaSmiProbeTest, ComputeAppsGiveUsedWithoutTotal) {
  xml_exit_ = 9;
  apps_ = "GPU-12345678-abcd-ef01-2345-6789abcdef01, 77, 1000\n";
  NvidiaSmiProbe probe;
  ProbeContext ctx = context();
  std::vector<GpuDevice> list = probe.probe(ctx).value();
  probe.fill_unknown_memory(ctx, list);
  ASSERT_TRUE(list[0].memory_used.has_value());
  EXPECT_EQ(list[0].memory_used->value, 1000 * kMiB);
  EXPECT_FALSE(list[0].memory_free.has_value());
}

TEST_F(NvidiaSmiProbeTest, MissingCommandIsTriedOnce) {
  present_ = false;
  NvidiaSmiProbe probe;
  ProbeContext ctx = context();
  EXPECT_EQ(probe.probe(ctx).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(probe.probe(ctx).status().code(), ErrorCode::kNotFound);
  EXPECT_EQ(calls_.size(), 1u);
}

}  // namespace
}  // namespace ollamaflow::gpu
