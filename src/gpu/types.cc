#include "gpu/types.h"

#include <fmt/format.h>

namespace ollamaflow::gpu {
namespace {

// Names the source of a figure computed as `total` minus another figure.
std::string derived_source(const std::string& total, const std::string& other) {
  if (total == other) {
    return total;
  }
  return fmt::format("{} minus {}", total, other);
}

}  // namespace

std::string_view vendor_name(Vendor vendor) {
  switch (vendor) {
    case Vendor::kNvidia:
      return "nvidia";
    case Vendor::kAmd:
      return "amd";
    case Vendor::kIntel:
      return "intel";
  }
  return "unknown";
}

void complete_memory(GpuDevice& device) {
  auto& total = device.memory_total;
  auto& used = device.memory_used;
  auto& free = device.memory_free;

  if (total && used && used->value > total->value) {
    device.notes.push_back(fmt::format("used memory {} B exceeds the total {} B; free is unknown",
                                       used->value, total->value));
    free.reset();
    return;
  }
  if (total && free && free->value > total->value) {
    device.notes.push_back(fmt::format("free memory {} B exceeds the total {} B; free is unknown",
                                       free->value, total->value));
    free.reset();
    return;
  }
  if (total && used && !free) {
    free =
        Reading<uint64_t>{total->value - used->value, derived_source(total->source, used->source)};
  } else if (total && free && !used) {
    used =
        Reading<uint64_t>{total->value - free->value, derived_source(total->source, free->source)};
  }
}

}  // namespace ollamaflow::gpu
