#include "gpu/intel_probe.h"

#include <fmt/format.h>

#include "gpu/drm.h"

namespace ollamaflow::gpu {
namespace {

// Sums physical_vram_size_bytes over the tiles of an xe device.
ByteReading xe_vram_total(const FileTree& tree, const std::string& device_dir, GpuDevice& device) {
  uint64_t sum = 0;
  int tiles = 0;
  for (const std::string& entry : tree.list(device_dir)) {
    if (entry.rfind("tile", 0) != 0)
      continue;
    ByteReading tile =
        read_sysfs_bytes(tree, device_dir + "/" + entry + "/physical_vram_size_bytes", device);
    if (!tile)
      continue;
    sum += tile->value;
    ++tiles;
  }
  if (tiles == 0)
    return std::nullopt;
  return Reading<uint64_t>{sum, "sysfs:physical_vram_size_bytes"};
}

GpuDevice build_device(const FileTree& tree, const DrmCard& card) {
  GpuDevice device;
  device.vendor = Vendor::kIntel;
  device.vendor_index = card.number;
  device.detected_by = "sysfs";
  device.bus_id = card.bus_id;
  device.driver = card.driver;
  device.name = fmt::format("Intel GPU 8086:{}",
                            card.device_id.substr(std::min<size_t>(2, card.device_id.size())));
  std::string dir = card.path + "/device";

  ByteReading lmem_total = read_sysfs_bytes(tree, card.path + "/lmem_total_bytes", device);
  if (lmem_total && lmem_total->value > 0) {
    device.memory_total = lmem_total;
    device.memory_free = read_sysfs_bytes(tree, card.path + "/lmem_avail_bytes", device);
    complete_memory(device);
  } else if (ByteReading xe_total = xe_vram_total(tree, dir, device)) {
    device.memory_total = xe_total;
    device.notes.push_back(
        "the xe driver publishes no used-memory figure in sysfs; free memory unknown");
  } else {
    device.integrated = true;
    device.notes.push_back(
        "no local memory in sysfs (an integrated GPU or a driver without the files); memory "
        "unknown, so no agents are placed on this device");
  }
  read_hwmon(tree, dir, device);
  return device;
}

}  // namespace

std::vector<GpuDevice> probe_intel(const ProbeContext& context) {
  FileTree tree(context.root);
  std::vector<GpuDevice> devices;
  for (const DrmCard& card : list_drm_cards(tree)) {
    if (card.vendor_id == kIntelVendorId)
      devices.push_back(build_device(tree, card));
  }
  return devices;
}

}  // namespace ollamaflow::gpu
