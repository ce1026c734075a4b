#include "gpu/nvml_probe.h"

#include <array>
#include <initializer_list>

#include <fmt/format.h>

namespace ollamaflow::gpu {
namespace {

constexpr const char* kSource = "nvml";

template <typename Fn>
Fn find_symbol(const SharedLibrary& library, std::initializer_list<const char*> names) {
  for (const char* name : names) {
    if (void* address = library.symbol(name)) {
      return reinterpret_cast<Fn>(address);
    }
  }
  return nullptr;
}

std::string bounded_string(const char* buffer, size_t capacity) {
  size_t length = 0;
  while (length < capacity && buffer[length] != '\0')
    ++length;
  return std::string(buffer, length);
}

}  // namespace

NvmlProbe::NvmlProbe(std::shared_ptr<LibraryLoader> loader) : loader_(std::move(loader)) {}

NvmlProbe::~NvmlProbe() {
  if (initialized_ && api_.shutdown != nullptr) {
    api_.shutdown();
  }
}

std::string NvmlProbe::describe(const char* function, nvml::Return code) const {
  const char* text = api_.error_string != nullptr ? api_.error_string(code) : nullptr;
  return fmt::format("nvml: {} returned {} ({})", function, code, text ? text : "no message");
}

Status NvmlProbe::bind_symbols() {
  const SharedLibrary& lib = *library_;
  api_.init = find_symbol<nvml::InitFn>(lib, {"nvmlInit_v2", "nvmlInit"});
  api_.shutdown = find_symbol<nvml::ShutdownFn>(lib, {"nvmlShutdown"});
  api_.error_string = find_symbol<nvml::ErrorStringFn>(lib, {"nvmlErrorString"});
  api_.driver_version =
      find_symbol<nvml::SystemGetDriverVersionFn>(lib, {"nvmlSystemGetDriverVersion"});
  api_.count =
      find_symbol<nvml::DeviceGetCountFn>(lib, {"nvmlDeviceGetCount_v2", "nvmlDeviceGetCount"});
  api_.handle_by_index = find_symbol<nvml::DeviceGetHandleByIndexFn>(
      lib, {"nvmlDeviceGetHandleByIndex_v2", "nvmlDeviceGetHandleByIndex"});
  api_.name = find_symbol<nvml::DeviceGetStringFn>(lib, {"nvmlDeviceGetName"});
  api_.uuid = find_symbol<nvml::DeviceGetStringFn>(lib, {"nvmlDeviceGetUUID"});
  api_.pci_info = find_symbol<nvml::DeviceGetPciInfoFn>(lib, {"nvmlDeviceGetPciInfo_v3"});
  api_.memory_v1 = find_symbol<nvml::DeviceGetMemoryInfoFn>(lib, {"nvmlDeviceGetMemoryInfo"});
  api_.memory_v2 = find_symbol<nvml::DeviceGetMemoryInfoV2Fn>(lib, {"nvmlDeviceGetMemoryInfo_v2"});
  api_.utilization =
      find_symbol<nvml::DeviceGetUtilizationRatesFn>(lib, {"nvmlDeviceGetUtilizationRates"});
  api_.temperature = find_symbol<nvml::DeviceGetTemperatureFn>(lib, {"nvmlDeviceGetTemperature"});
  api_.power = find_symbol<nvml::DeviceGetPowerUsageFn>(lib, {"nvmlDeviceGetPowerUsage"});
  api_.processes = find_symbol<nvml::DeviceGetProcessesFn>(
      lib, {"nvmlDeviceGetComputeRunningProcesses_v3", "nvmlDeviceGetComputeRunningProcesses_v2"});

  if (api_.init == nullptr || api_.count == nullptr || api_.handle_by_index == nullptr) {
    return {ErrorCode::kNotFound,
            "nvml: the library lacks nvmlInit, nvmlDeviceGetCount or "
            "nvmlDeviceGetHandleByIndex; update the NVIDIA driver"};
  }
  return Status::ok();
}

Status NvmlProbe::load() {
  if (load_attempted_) {
    return load_status_;
  }
  load_attempted_ = true;
  if (!loader_) {
    load_status_ = Status(ErrorCode::kNotFound, "nvml: no library loader configured");
    return load_status_;
  }
  Result<std::unique_ptr<SharedLibrary>> opened = loader_->open("libnvidia-ml.so.1");
  if (!opened) {
    opened = loader_->open("libnvidia-ml.so");
  }
  if (!opened) {
    load_status_ = opened.status().with_context("nvml");
    return load_status_;
  }
  library_ = std::move(opened).value();
  load_status_ = bind_symbols();
  if (!load_status_) {
    return load_status_;
  }
  nvml::Return code = api_.init();
  if (code != nvml::kSuccess) {
    load_status_ = Status(ErrorCode::kUnavailable,
                          describe("nvmlInit", code) + "; is the NVIDIA driver loaded?");
    return load_status_;
  }
  initialized_ = true;
  return load_status_;
}

Result<std::vector<GpuDevice>> NvmlProbe::probe() {
  if (Status loaded = load(); !loaded) {
    return loaded;
  }
  std::string driver;
  if (api_.driver_version != nullptr) {
    std::array<char, nvml::kDriverVersionBufferSize> buffer{};
    if (api_.driver_version(buffer.data(), buffer.size()) == nvml::kSuccess) {
      driver = bounded_string(buffer.data(), buffer.size());
    }
  }
  unsigned int count = 0;
  if (nvml::Return code = api_.count(&count); code != nvml::kSuccess) {
    return Result<std::vector<GpuDevice>>(ErrorCode::kUnavailable,
                                          describe("nvmlDeviceGetCount", code));
  }
  std::vector<GpuDevice> devices;
  for (unsigned int index = 0; index < count; ++index) {
    nvml::Device handle = nullptr;
    if (nvml::Return code = api_.handle_by_index(index, &handle); code != nvml::kSuccess) {
      GpuDevice device;
      device.vendor = Vendor::kNvidia;
      device.vendor_index = static_cast<int>(index);
      device.detected_by = kSource;
      device.notes.push_back(describe("nvmlDeviceGetHandleByIndex", code));
      devices.push_back(std::move(device));
      continue;
    }
    devices.push_back(read_device(index, handle, driver));
  }
  return devices;
}

GpuDevice NvmlProbe::read_device(unsigned int index, nvml::Device handle,
                                 const std::string& driver) {
  GpuDevice device;
  device.vendor = Vendor::kNvidia;
  device.vendor_index = static_cast<int>(index);
  device.detected_by = kSource;
  device.driver = driver;

  std::array<char, nvml::kNameBufferSize> text{};
  if (api_.name != nullptr && api_.name(handle, text.data(), text.size()) == nvml::kSuccess) {
    device.name = bounded_string(text.data(), text.size());
  }
  text.fill('\0');
  if (api_.uuid != nullptr && api_.uuid(handle, text.data(), text.size()) == nvml::kSuccess) {
    device.uuid = bounded_string(text.data(), text.size());
  }
  nvml::PciInfo pci{};
  if (api_.pci_info != nullptr && api_.pci_info(handle, &pci) == nvml::kSuccess) {
    device.bus_id = bounded_string(pci.bus_id, sizeof(pci.bus_id));
  }
  read_memory(handle, device);
  read_activity(handle, device);
  read_processes(handle, device);
  return device;
}

void NvmlProbe::read_memory(nvml::Device handle, GpuDevice& device) {
  if (api_.memory_v2 != nullptr) {
    nvml::MemoryV2 memory{};
    memory.version = nvml::kMemoryV2Version;
    nvml::Return code = api_.memory_v2(handle, &memory);
    if (code == nvml::kSuccess) {
      device.memory_total = Reading<uint64_t>{memory.total, kSource};
      device.memory_used = Reading<uint64_t>{memory.used, kSource};
      device.memory_free = Reading<uint64_t>{memory.free, kSource};
      complete_memory(device);
      return;
    }
    // Old drivers reject the version field; MIG without privileges rejects both calls.
    device.notes.push_back(describe("nvmlDeviceGetMemoryInfo_v2", code));
  }
  if (api_.memory_v1 == nullptr) {
    device.notes.push_back("nvml: the library exports no nvmlDeviceGetMemoryInfo; memory unknown");
    return;
  }
  nvml::Memory memory{};
  nvml::Return code = api_.memory_v1(handle, &memory);
  if (code != nvml::kSuccess) {
    device.notes.push_back(describe("nvmlDeviceGetMemoryInfo", code) + "; memory unknown");
    return;
  }
  // Version 1 counts the driver's reservation as used, so used reads higher than nvidia-smi.
  device.memory_total = Reading<uint64_t>{memory.total, "nvml v1"};
  device.memory_used = Reading<uint64_t>{memory.used, "nvml v1"};
  device.memory_free = Reading<uint64_t>{memory.free, "nvml v1"};
  complete_memory(device);
}

void NvmlProbe::read_activity(nvml::Device handle, GpuDevice& device) {
  if (api_.utilization != nullptr) {
    nvml::Utilization rates{};
    nvml::Return code = api_.utilization(handle, &rates);
    if (code == nvml::kSuccess && rates.gpu <= 100) {
      device.utilization_percent = Reading<double>{static_cast<double>(rates.gpu), kSource};
    } else if (code != nvml::kSuccess) {
      device.notes.push_back(describe("nvmlDeviceGetUtilizationRates", code));
    }
  }
  if (api_.temperature != nullptr) {
    unsigned int celsius = 0;
    nvml::Return code = api_.temperature(handle, nvml::kTemperatureGpu, &celsius);
    if (code == nvml::kSuccess) {
      device.temperature_c = Reading<double>{static_cast<double>(celsius), kSource};
    } else {
      device.notes.push_back(describe("nvmlDeviceGetTemperature", code));
    }
  }
  if (api_.power != nullptr) {
    unsigned int milliwatts = 0;
    nvml::Return code = api_.power(handle, &milliwatts);
    if (code == nvml::kSuccess) {
      device.power_w = Reading<double>{milliwatts / 1000.0, kSource};
    } else if (code != nvml::kErrorNotSupported) {
      device.notes.push_back(describe("nvmlDeviceGetPowerUsage", code));
    }
  }
}

void NvmlProbe::read_processes(nvml::Device handle, GpuDevice& device) {
  if (api_.processes == nullptr) {
    return;
  }
  unsigned int count = 0;
  nvml::Return code = api_.processes(handle, &count, nullptr);
  if (code == nvml::kSuccess) {
    return;
  }
  if (code != nvml::kErrorInsufficientSize) {
    device.notes.push_back(describe("nvmlDeviceGetComputeRunningProcesses", code));
    return;
  }
  // Processes may start between the two calls, so leave room for a few more.
  count += 8;
  std::vector<nvml::ProcessInfo> infos(count);
  code = api_.processes(handle, &count, infos.data());
  if (code != nvml::kSuccess) {
    device.notes.push_back(describe("nvmlDeviceGetComputeRunningProcesses", code));
    return;
  }
  infos.resize(std::min<size_t>(count, infos.size()));
  for (const auto& info : infos) {
    GpuProcess process;
    process.pid = info.pid;
    if (info.used_gpu_memory != nvml::kValueNotAvailable) {
      process.used_bytes = info.used_gpu_memory;
    }
    device.processes.push_back(process);
  }
}

}  // namespace ollamaflow::gpu
