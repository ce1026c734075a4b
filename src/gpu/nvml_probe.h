// NVIDIA devices through NVML, loaded at run time with the library loader so that the binary
// starts on machines without the driver.
#pragma once

#include <memory>
#include <vector>

#include "core/status.h"
#include "gpu/nvml_api.h"
#include "gpu/system.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

// Not thread-safe: one owner (the snapshot prober) calls probe(). The library is opened and
// initialized on the first probe() and shut down by the destructor.
class NvmlProbe {
 public:
  explicit NvmlProbe(std::shared_ptr<LibraryLoader> loader);
  ~NvmlProbe();
  NvmlProbe(const NvmlProbe&) = delete;
  NvmlProbe& operator=(const NvmlProbe&) = delete;

  // Lists the devices with every figure NVML reports; a call that fails leaves its figure
  // unknown with a note. Errors: kNotFound when the library cannot be loaded or lacks a required
  // symbol, kUnavailable when nvmlInit fails (driver not loaded). A failed load is remembered:
  // later calls return the same error without loading again.
  Result<std::vector<GpuDevice>> probe();

 private:
  struct Api {
    nvml::InitFn init = nullptr;
    nvml::ShutdownFn shutdown = nullptr;
    nvml::ErrorStringFn error_string = nullptr;
    nvml::SystemGetDriverVersionFn driver_version = nullptr;
    nvml::DeviceGetCountFn count = nullptr;
    nvml::DeviceGetHandleByIndexFn handle_by_index = nullptr;
    nvml::DeviceGetStringFn name = nullptr;
    nvml::DeviceGetStringFn uuid = nullptr;
    nvml::DeviceGetPciInfoFn pci_info = nullptr;
    nvml::DeviceGetMemoryInfoFn memory_v1 = nullptr;
    nvml::DeviceGetMemoryInfoV2Fn memory_v2 = nullptr;
    nvml::DeviceGetUtilizationRatesFn utilization = nullptr;
    nvml::DeviceGetTemperatureFn temperature = nullptr;
    nvml::DeviceGetPowerUsageFn power = nullptr;
    nvml::DeviceGetProcessesFn processes = nullptr;
  };

  Status load();
  Status bind_symbols();
  std::string describe(const char* function, nvml::Return code) const;
  GpuDevice read_device(unsigned int index, nvml::Device handle, const std::string& driver);
  void read_memory(nvml::Device handle, GpuDevice& device);
  void read_activity(nvml::Device handle, GpuDevice& device);
  void read_processes(nvml::Device handle, GpuDevice& device);

  std::shared_ptr<LibraryLoader> loader_;
  std::unique_ptr<SharedLibrary> library_;
  Api api_;
  bool load_attempted_ = false;
  bool initialized_ = false;
  Status load_status_;
};

}  // namespace ollamaflow::gpu
