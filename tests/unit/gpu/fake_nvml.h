// A fake NVML: a library loader that returns pointers to this file's functions, which read
// their results from one shared FakeNvml state. Tests set the state, then probe.
#pragma once

#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gpu/nvml_api.h"
#include "gpu/system.h"

namespace ollamaflow::gpu::testing {

struct FakeNvmlDevice {
  std::string name = "NVIDIA GeForce RTX 3090";
  std::string uuid = "GPU-11111111-2222-3333-4444-555555555555";
  std::string bus_id = "00000000:01:00.0";
  nvml::Return memory_v2_result = nvml::kSuccess;
  nvml::Return memory_v1_result = nvml::kSuccess;
  nvml::MemoryV2 memory{0, 24ull << 30, 300ull << 20, 20ull << 30, 4ull << 30};
  nvml::Return utilization_result = nvml::kSuccess;
  unsigned int utilization = 37;
  nvml::Return temperature_result = nvml::kSuccess;
  unsigned int temperature = 61;
  nvml::Return power_result = nvml::kSuccess;
  unsigned int power_mw = 245500;
  std::vector<nvml::ProcessInfo> processes;
};

struct FakeNvml {
  nvml::Return init_result = nvml::kSuccess;
  std::vector<FakeNvmlDevice> devices{FakeNvmlDevice{}};
  bool has_memory_v2 = true;
  int init_calls = 0;
  int shutdown_calls = 0;
  int open_calls = 0;
  bool library_present = true;
};

inline FakeNvml& fake_nvml() {
  static FakeNvml state;
  return state;
}

inline FakeNvmlDevice* device_of(nvml::Device handle) {
  return static_cast<FakeNvmlDevice*>(handle);
}

inline nvml::Return fake_init() {
  ++fake_nvml().init_calls;
  return fake_nvml().init_result;
}
inline nvml::Return fake_shutdown() {
  ++fake_nvml().shutdown_calls;
  return nvml::kSuccess;
}
inline const char* fake_error_string(nvml::Return code) {
  return code == nvml::kErrorNoPermission ? "Insufficient Permissions" : "fake error";
}
inline nvml::Return fake_driver_version(char* out, unsigned int size) {
  std::snprintf(out, size, "%s", "535.161.08");
  return nvml::kSuccess;
}
inline nvml::Return fake_count(unsigned int* count) {
  *count = static_cast<unsigned int>(fake_nvml().devices.size());
  return nvml::kSuccess;
}
inline nvml::Return fake_handle(unsigned int index, nvml::Device* handle) {
  if (index >= fake_nvml().devices.size())
    return nvml::kErrorInvalidArgument;
  *handle = &fake_nvml().devices[index];
  return nvml::kSuccess;
}
inline nvml::Return fake_name(nvml::Device handle, char* out, unsigned int size) {
  std::snprintf(out, size, "%s", device_of(handle)->name.c_str());
  return nvml::kSuccess;
}
inline nvml::Return fake_uuid(nvml::Device handle, char* out, unsigned int size) {
  std::snprintf(out, size, "%s", device_of(handle)->uuid.c_str());
  return nvml::kSuccess;
}
inline nvml::Return fake_pci(nvml::Device handle, nvml::PciInfo* info) {
  std::snprintf(info->bus_id, sizeof(info->bus_id), "%s", device_of(handle)->bus_id.c_str());
  return nvml::kSuccess;
}
inline nvml::Return fake_memory_v2(nvml::Device handle, nvml::MemoryV2* memory) {
  FakeNvmlDevice* device = device_of(handle);
  if (memory->version != nvml::kMemoryV2Version)
    return nvml::kErrorInvalidArgument;
  if (device->memory_v2_result != nvml::kSuccess)
    return device->memory_v2_result;
  unsigned int version = memory->version;
  *memory = device->memory;
  memory->version = version;
  return nvml::kSuccess;
}
inline nvml::Return fake_memory_v1(nvml::Device handle, nvml::Memory* memory) {
  FakeNvmlDevice* device = device_of(handle);
  if (device->memory_v1_result != nvml::kSuccess)
    return device->memory_v1_result;
  memory->total = device->memory.total;
  memory->free = device->memory.free;
  memory->used = device->memory.used + device->memory.reserved;
  return nvml::kSuccess;
}
inline nvml::Return fake_utilization(nvml::Device handle, nvml::Utilization* rates) {
  FakeNvmlDevice* device = device_of(handle);
  rates->gpu = device->utilization;
  rates->memory = 10;
  return device->utilization_result;
}
inline nvml::Return fake_temperature(nvml::Device handle, unsigned int sensor, unsigned int* c) {
  if (sensor != nvml::kTemperatureGpu)
    return nvml::kErrorInvalidArgument;
  *c = device_of(handle)->temperature;
  return device_of(handle)->temperature_result;
}
inline nvml::Return fake_power(nvml::Device handle, unsigned int* milliwatts) {
  *milliwatts = device_of(handle)->power_mw;
  return device_of(handle)->power_result;
}
inline nvml::Return fake_processes(nvml::Device handle, unsigned int* count,
                                   nvml::ProcessInfo* infos) {
  const auto& processes = device_of(handle)->processes;
  if (*count < processes.size()) {
    *count = static_cast<unsigned int>(processes.size());
    return processes.empty() ? nvml::kSuccess : nvml::kErrorInsufficientSize;
  }
  for (size_t i = 0; i < processes.size(); ++i)
    infos[i] = processes[i];
  *count = static_cast<unsigned int>(processes.size());
  return nvml::kSuccess;
}

class FakeNvmlLibrary final : public SharedLibrary {
 public:
  void* symbol(const char* name) const override {
    static const std::map<std::string, void*> symbols = {
        {"nvmlInit_v2", reinterpret_cast<void*>(&fake_init)},
        {"nvmlShutdown", reinterpret_cast<void*>(&fake_shutdown)},
        {"nvmlErrorString", reinterpret_cast<void*>(&fake_error_string)},
        {"nvmlSystemGetDriverVersion", reinterpret_cast<void*>(&fake_driver_version)},
        {"nvmlDeviceGetCount_v2", reinterpret_cast<void*>(&fake_count)},
        {"nvmlDeviceGetHandleByIndex_v2", reinterpret_cast<void*>(&fake_handle)},
        {"nvmlDeviceGetName", reinterpret_cast<void*>(&fake_name)},
        {"nvmlDeviceGetUUID", reinterpret_cast<void*>(&fake_uuid)},
        {"nvmlDeviceGetPciInfo_v3", reinterpret_cast<void*>(&fake_pci)},
        {"nvmlDeviceGetMemoryInfo_v2", reinterpret_cast<void*>(&fake_memory_v2)},
        {"nvmlDeviceGetMemoryInfo", reinterpret_cast<void*>(&fake_memory_v1)},
        {"nvmlDeviceGetUtilizationRates", reinterpret_cast<void*>(&fake_utilization)},
        {"nvmlDeviceGetTemperature", reinterpret_cast<void*>(&fake_temperature)},
        {"nvmlDeviceGetPowerUsage", reinterpret_cast<void*>(&fake_power)},
        {"nvmlDeviceGetComputeRunningProcesses_v3", reinterpret_cast<void*>(&fake_processes)},
    };
    if (!fake_nvml().has_memory_v2 && std::string(name) == "nvmlDeviceGetMemoryInfo_v2") {
      return nullptr;
    }
    auto it = symbols.find(name);
    return it == symbols.end() ? nullptr : it->second;
  }
};

class FakeNvmlLoader final : public LibraryLoader {
 public:
  Result<std::unique_ptr<SharedLibrary>> open(const std::string& name) override {
    ++fake_nvml().open_calls;
    if (!fake_nvml().library_present || name != "libnvidia-ml.so.1") {
      return Result<std::unique_ptr<SharedLibrary>>(
          ErrorCode::kNotFound, "cannot load " + name + ": cannot open shared object file");
    }
    return std::unique_ptr<SharedLibrary>(std::make_unique<FakeNvmlLibrary>());
  }
};

}  // namespace ollamaflow::gpu::testing
