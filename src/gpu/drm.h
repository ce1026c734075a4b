// DRM cards under /sys/class/drm, shared by the AMD and Intel probes.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "gpu/file_tree.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {

struct DrmCard {
  int number = 0;                   // N of cardN
  std::string path;                 // "/sys/class/drm/cardN"
  std::string vendor_id;            // "0x1002" (AMD), "0x8086" (Intel), "0x10de" (NVIDIA)
  std::string device_id;            // e.g. "0x744c"
  std::string driver;               // DRIVER= of device/uevent, e.g. "amdgpu", "i915", "xe"
  std::string bus_id;               // PCI_SLOT_NAME= of device/uevent
  std::optional<int> render_minor;  // N of device/drm/renderDN
};

constexpr const char* kAmdVendorId = "0x1002";
constexpr const char* kIntelVendorId = "0x8086";

// Lists the cardN entries (connectors such as card0-DP-1 are skipped), ordered by N.
std::vector<DrmCard> list_drm_cards(const FileTree& tree);

// Reads the first hwmon folder of `device_path`: temp1_input (millidegrees Celsius) and
// power1_average or power1_input (microwatts). An unreadable or implausible value stays unknown
// and adds a note; it never stops the other readings.
void read_hwmon(const FileTree& tree, const std::string& device_path, GpuDevice& device);

// Reads a byte count from sysfs into a reading whose source is "sysfs:<file name>". A missing
// file yields nullopt silently; an unreadable or malformed one adds a note.
ByteReading read_sysfs_bytes(const FileTree& tree, const std::string& path, GpuDevice& device);

}  // namespace ollamaflow::gpu
