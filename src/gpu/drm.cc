#include "gpu/drm.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ollamaflow::gpu {
namespace {

std::optional<int> card_number(const std::string& name) {
  if (name.size() <= 4 || name.compare(0, 4, "card") != 0)
    return std::nullopt;
  int number = 0;
  for (size_t i = 4; i < name.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(name[i])))
      return std::nullopt;
    number = number * 10 + (name[i] - '0');
    if (number > 1'000'000)
      return std::nullopt;
  }
  return number;
}

std::string file_name(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::vector<DrmCard> list_drm_cards(const FileTree& tree) {
  std::vector<DrmCard> cards;
  for (const std::string& name : tree.list("/sys/class/drm")) {
    std::optional<int> number = card_number(name);
    if (!number)
      continue;
    DrmCard card;
    card.number = *number;
    card.path = "/sys/class/drm/" + name;
    card.vendor_id = trim(tree.read(card.path + "/device/vendor").value_or(""));
    card.device_id = trim(tree.read(card.path + "/device/device").value_or(""));
    auto uevent = tree.read_pairs(card.path + "/device/uevent");
    if (uevent) {
      card.driver = (*uevent)["DRIVER"];
      card.bus_id = (*uevent)["PCI_SLOT_NAME"];
    }
    for (const std::string& entry : tree.list(card.path + "/device/drm")) {
      if (entry.rfind("renderD", 0) == 0) {
        card.render_minor = std::atoi(entry.c_str() + 7);
      }
    }
    cards.push_back(std::move(card));
  }
  std::sort(cards.begin(), cards.end(),
            [](const DrmCard& a, const DrmCard& b) { return a.number < b.number; });
  return cards;
}

ByteReading read_sysfs_bytes(const FileTree& tree, const std::string& path, GpuDevice& device) {
  Result<uint64_t> value = tree.read_u64(path);
  if (value)
    return Reading<uint64_t>{*value, "sysfs:" + file_name(path)};
  if (value.status().code() != ErrorCode::kNotFound) {
    device.notes.push_back(fmt::format("{}; that figure is unknown", value.status().message()));
  }
  return std::nullopt;
}

void read_hwmon(const FileTree& tree, const std::string& device_path, GpuDevice& device) {
  std::vector<std::string> entries = tree.list(device_path + "/hwmon");
  if (entries.empty())
    return;
  std::string hwmon = device_path + "/hwmon/" + entries.front();

  Result<int64_t> millidegrees = tree.read_i64(hwmon + "/temp1_input");
  if (millidegrees) {
    double celsius = static_cast<double>(*millidegrees) / 1000.0;
    if (celsius > -40 && celsius < 150) {
      device.temperature_c = Reading<double>{celsius, "sysfs:hwmon temp1_input"};
    } else {
      device.notes.push_back(
          fmt::format("temp1_input reads {} m°C, outside -40..150 °C; "
                      "temperature unknown",
                      *millidegrees));
    }
  } else if (millidegrees.status().code() != ErrorCode::kNotFound) {
    device.notes.push_back(millidegrees.status().message() + "; temperature unknown");
  }

  for (const char* file : {"power1_average", "power1_input"}) {
    Result<uint64_t> microwatts = tree.read_u64(hwmon + "/" + file);
    if (!microwatts) {
      if (microwatts.status().code() != ErrorCode::kNotFound) {
        device.notes.push_back(microwatts.status().message() + "; power unknown");
      }
      continue;
    }
    double watts = static_cast<double>(*microwatts) / 1e6;
    if (watts < 5000) {
      device.power_w = Reading<double>{watts, fmt::format("sysfs:hwmon {}", file)};
      break;
    }
  }
}

}  // namespace ollamaflow::gpu
