#include "gpu/snapshot_json.h"

namespace ollamaflow::gpu {
namespace {

template <typename T>
nlohmann::json reading_to_json(const std::optional<Reading<T>>& reading) {
  if (!reading)
    return nullptr;
  return {{"value", reading->value}, {"source", reading->source}};
}

}  // namespace

nlohmann::json device_to_json(const GpuDevice& device) {
  nlohmann::json processes = nlohmann::json::array();
  for (const GpuProcess& process : device.processes) {
    processes.push_back({{"pid", process.pid},
                         {"used_bytes", process.used_bytes ? nlohmann::json(*process.used_bytes)
                                                           : nlohmann::json(nullptr)}});
  }
  return {{"id", device.id},
          {"vendor", vendor_name(device.vendor)},
          {"vendor_index", device.vendor_index},
          {"name", device.name},
          {"uuid", device.uuid},
          {"bus_id", device.bus_id},
          {"driver", device.driver},
          {"detected_by", device.detected_by},
          {"integrated", device.integrated},
          {"memory_pool", device.memory_pool},
          {"memory_total_bytes", reading_to_json(device.memory_total)},
          {"memory_used_bytes", reading_to_json(device.memory_used)},
          {"memory_free_bytes", reading_to_json(device.memory_free)},
          {"utilization_percent", reading_to_json(device.utilization_percent)},
          {"temperature_c", reading_to_json(device.temperature_c)},
          {"power_w", reading_to_json(device.power_w)},
          {"processes", processes},
          {"notes", device.notes}};
}

nlohmann::json snapshot_to_json(const GpuSnapshot& snapshot) {
  nlohmann::json devices = nlohmann::json::array();
  for (const GpuDevice& device : snapshot.devices)
    devices.push_back(device_to_json(device));
  nlohmann::json host = {{"total_bytes", reading_to_json(snapshot.host.total)},
                         {"available_bytes", reading_to_json(snapshot.host.available)},
                         {"cgroup_limit_bytes", reading_to_json(snapshot.host.cgroup_limit)},
                         {"notes", snapshot.host.notes}};
  return {{"devices", devices},
          {"host", host},
          {"warnings", snapshot.warnings},
          {"taken_at", format_iso8601(snapshot.taken_at)},
          {"probe_seconds", to_seconds(snapshot.probe_duration)}};
}

}  // namespace ollamaflow::gpu
