#include "gpu/snapshot_text.h"

#include <fmt/format.h>

#include "core/terminal_text.h"
#include "gpu/text_table.h"

namespace ollamaflow::gpu {
namespace {

std::string number_or_unknown(const NumberReading& reading, const char* format) {
  if (!reading)
    return "unknown";
  return fmt::format(fmt::runtime(format), reading->value);
}

std::string bytes(const ByteReading& reading) {
  return format_mib(reading ? std::optional<uint64_t>(reading->value) : std::nullopt);
}

}  // namespace

std::string render_snapshot(const GpuSnapshot& snapshot) {
  TextTable table(
      {"ID", "VENDOR", "NAME", "TOTAL", "USED", "FREE", "UTIL", "TEMP", "POWER", "DETECTED BY"});
  for (const GpuDevice& d : snapshot.devices) {
    std::string name = d.name + (d.integrated ? " (integrated)" : "");
    table.add_row({d.id, std::string(vendor_name(d.vendor)), name, bytes(d.memory_total),
                   bytes(d.memory_used), bytes(d.memory_free),
                   number_or_unknown(d.utilization_percent, "{:.0f} %"),
                   number_or_unknown(d.temperature_c, "{:.0f} °C"),
                   number_or_unknown(d.power_w, "{:.0f} W"), d.detected_by});
  }
  table.add_row({"host", "", "host memory", bytes(snapshot.host.total), "",
                 bytes(snapshot.host.available), "", "", "", "/proc, cgroup"});
  std::string out = table.render();

  // The lines below the table escape probe text as the table does.
  std::string sources;
  for (const GpuDevice& d : snapshot.devices) {
    const std::string id = escape_control_characters(d.id);
    if (d.memory_free)
      sources +=
          fmt::format("  {} free: {}\n", id, escape_control_characters(d.memory_free->source));
    if (d.memory_pool != "vram")
      sources += fmt::format("  {} pool: {}\n", id, escape_control_characters(d.memory_pool));
    for (const std::string& note : d.notes)
      sources += fmt::format("  {}: {}\n", id, escape_control_characters(note));
  }
  if (snapshot.host.available) {
    sources += fmt::format("  host available: {}\n",
                           escape_control_characters(snapshot.host.available->source));
  }
  for (const std::string& note : snapshot.host.notes)
    sources += "  host: " + escape_control_characters(note) + "\n";
  if (!sources.empty())
    out += "\nSources and notes:\n" + sources;
  if (!snapshot.warnings.empty()) {
    out += "\nSources not available:\n";
    for (const std::string& warning : snapshot.warnings)
      out += "  " + escape_control_characters(warning) + "\n";
  }
  if (snapshot.devices.empty()) {
    out += "\nNo GPU found: models are planned in host memory.\n";
  }
  return out;
}

}  // namespace ollamaflow::gpu
