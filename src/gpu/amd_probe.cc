#include "gpu/amd_probe.h"

#include <algorithm>
#include <charconv>
#include <cstdlib>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "gpu/drm.h"

namespace ollamaflow::gpu {
namespace {

constexpr const char* kKfdNodes = "/sys/class/kfd/kfd/topology/nodes";

// An APU whose VRAM carve-out is below this and whose GTT pool is larger allocates from GTT.
constexpr uint64_t kSmallCarveOut = 1 * kGiB;

uint64_t pair_u64(const std::map<std::string, std::string>& pairs, const std::string& key) {
  auto it = pairs.find(key);
  if (it == pairs.end())
    return 0;
  return std::strtoull(it->second.c_str(), nullptr, 10);
}

const KfdNode* match_kfd(const std::vector<KfdNode>& nodes, const DrmCard& card) {
  if (!card.render_minor)
    return nullptr;
  for (const KfdNode& node : nodes) {
    if (node.drm_render_minor == card.render_minor)
      return &node;
  }
  return nullptr;
}

void read_busy(const FileTree& tree, const std::string& device_dir, GpuDevice& device) {
  Result<uint64_t> busy = tree.read_u64(device_dir + "/gpu_busy_percent");
  if (!busy) {
    if (busy.status().code() != ErrorCode::kNotFound) {
      device.notes.push_back(busy.status().message() + "; utilization unknown");
    }
    return;
  }
  if (*busy > 100) {
    // 0xFFFF and other sentinels mean the chip could not report activity.
    device.notes.push_back(
        fmt::format("gpu_busy_percent reads {}, above 100; utilization unknown", *busy));
    return;
  }
  device.utilization_percent =
      Reading<double>{static_cast<double>(*busy), "sysfs:gpu_busy_percent"};
}

// Chooses the APU budget: the GTT pool (system memory), capped by the host's available memory,
// when the VRAM carve-out is small; the carve-out otherwise.
void choose_apu_pool(const ByteReading& gtt_total, const ByteReading& gtt_used,
                     const HostMemory& host, GpuDevice& device) {
  uint64_t carve_out = device.memory_total ? device.memory_total->value : 0;
  if (carve_out >= kSmallCarveOut || !gtt_total || gtt_total->value <= carve_out) {
    return;
  }
  device.memory_pool = "gtt";
  device.memory_total = gtt_total;
  device.memory_used = gtt_used;
  device.memory_free.reset();
  complete_memory(device);
  if (device.memory_free && host.available && host.available->value < device.memory_free->value) {
    device.memory_free = Reading<uint64_t>{
        host.available->value, fmt::format("{} (caps the GTT pool)", host.available->source)};
  }
  device.notes.push_back(
      "APU with a small VRAM carve-out: the budget is the GTT pool in "
      "system memory, capped by the host's available memory");
}

GpuDevice build_device(const FileTree& tree, const DrmCard& card, const KfdNode* kfd,
                       const HostMemory& host) {
  GpuDevice device;
  device.vendor = Vendor::kAmd;
  device.vendor_index = card.number;
  device.detected_by = "sysfs";
  device.bus_id = card.bus_id;
  device.driver = card.driver;
  std::string dir = card.path + "/device";

  device.name = trim(tree.read(dir + "/product_name").value_or(""));
  if (device.name.empty()) {
    device.name = kfd ? fmt::format("AMD GPU {}", gfx_target_name(kfd->gfx_target_version))
                      : fmt::format("AMD GPU {}", card.device_id);
  }
  device.uuid = trim(tree.read(dir + "/unique_id").value_or(""));
  if (device.uuid.empty() && kfd && kfd->unique_id != 0) {
    device.uuid = fmt::format("{:x}", kfd->unique_id);
  }
  if (!kfd) {
    device.notes.push_back("no KFD topology node matches this card; ROCm may not see it");
  }

  device.memory_total = read_sysfs_bytes(tree, dir + "/mem_info_vram_total", device);
  device.memory_used = read_sysfs_bytes(tree, dir + "/mem_info_vram_used", device);
  complete_memory(device);
  device.integrated = kfd ? kfd->cpu_cores_count > 0 && kfd->simd_count > 0
                          : device.memory_total && device.memory_total->value < kSmallCarveOut;
  if (device.integrated) {
    ByteReading gtt_total = read_sysfs_bytes(tree, dir + "/mem_info_gtt_total", device);
    ByteReading gtt_used = read_sysfs_bytes(tree, dir + "/mem_info_gtt_used", device);
    choose_apu_pool(gtt_total, gtt_used, host, device);
  }
  read_busy(tree, dir, device);
  read_hwmon(tree, dir, device);
  return device;
}

std::optional<uint64_t> json_u64(const nlohmann::json& object, const char* key) {
  auto it = object.find(key);
  if (it == object.end())
    return std::nullopt;
  if (it->is_number_unsigned())
    return it->get<uint64_t>();
  if (!it->is_string())
    return std::nullopt;
  const std::string& text = it->get_ref<const std::string&>();
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || ptr != text.data() + text.size())
    return std::nullopt;
  return value;
}

}  // namespace

std::string gfx_target_name(uint64_t version) {
  uint64_t major = version / 10000;
  uint64_t minor = (version / 100) % 100;
  uint64_t step = version % 100;
  return fmt::format("gfx{}{:x}{:x}", major, minor, step);
}

std::vector<KfdNode> read_kfd_nodes(const FileTree& tree) {
  std::vector<KfdNode> nodes;
  for (const std::string& name : tree.list(kKfdNodes)) {
    auto pairs = tree.read_pairs(fmt::format("{}/{}/properties", kKfdNodes, name));
    if (!pairs)
      continue;
    KfdNode node;
    node.node = std::atoi(name.c_str());
    node.gfx_target_version = pair_u64(*pairs, "gfx_target_version");
    if (node.gfx_target_version == 0)
      continue;
    if (pairs->count("drm_render_minor")) {
      node.drm_render_minor = static_cast<int>(pair_u64(*pairs, "drm_render_minor"));
    }
    node.cpu_cores_count = pair_u64(*pairs, "cpu_cores_count");
    node.simd_count = pair_u64(*pairs, "simd_count");
    node.unique_id = pair_u64(*pairs, "unique_id");
    nodes.push_back(node);
  }
  return nodes;
}

Result<std::vector<RocmSmiCard>> parse_rocm_smi_json(std::string_view text) {
  using Cards = std::vector<RocmSmiCard>;
  size_t begin = text.find('{');
  size_t end = text.rfind('}');
  if (begin == std::string_view::npos || end == std::string_view::npos || end < begin) {
    std::string first_line = trim(text.substr(0, text.find('\n')));
    return Result<Cards>(ErrorCode::kParseError,
                         fmt::format("rocm-smi printed no JSON: '{}'", first_line.substr(0, 120)));
  }
  nlohmann::json document = nlohmann::json::parse(text.substr(begin, end - begin + 1), nullptr,
                                                  /*allow_exceptions=*/false);
  if (document.is_discarded() || !document.is_object()) {
    return Result<Cards>(ErrorCode::kParseError, "rocm-smi printed malformed JSON");
  }
  Cards cards;
  for (const auto& [key, value] : document.items()) {
    if (key.rfind("card", 0) != 0 || !value.is_object())
      continue;
    RocmSmiCard card;
    card.index = std::atoi(key.c_str() + 4);
    card.vram_total = json_u64(value, "VRAM Total Memory (B)");
    card.vram_used = json_u64(value, "VRAM Total Used Memory (B)");
    if (std::optional<uint64_t> busy = json_u64(value, "GPU use (%)"); busy && *busy <= 100) {
      card.busy_percent = static_cast<double>(*busy);
    }
    if (auto it = value.find("Card Series"); it != value.end() && it->is_string()) {
      card.series = it->get<std::string>();
    }
    cards.push_back(std::move(card));
  }
  std::sort(cards.begin(), cards.end(),
            [](const RocmSmiCard& a, const RocmSmiCard& b) { return a.index < b.index; });
  return cards;
}

std::vector<GpuDevice> AmdProbe::probe(const ProbeContext& context, const HostMemory& host,
                                       std::vector<std::string>& warnings) {
  FileTree tree(context.root);
  std::vector<KfdNode> nodes = read_kfd_nodes(tree);
  std::vector<GpuDevice> devices;
  for (const DrmCard& card : list_drm_cards(tree)) {
    if (card.vendor_id != kAmdVendorId)
      continue;
    devices.push_back(build_device(tree, card, match_kfd(nodes, card), host));
  }
  bool missing_memory = std::any_of(devices.begin(), devices.end(),
                                    [](const GpuDevice& d) { return !memory_known(d); });
  if (missing_memory || (devices.empty() && !nodes.empty())) {
    fill_from_rocm_smi(context, devices, warnings);
  }
  return devices;
}

void AmdProbe::fill_from_rocm_smi(const ProbeContext& context, std::vector<GpuDevice>& devices,
                                  std::vector<std::string>& warnings) {
  if (rocm_smi_missing_)
    return;
  Result<CommandOutput> output =
      context.run_command({"rocm-smi", "--showmeminfo", "vram", "--json"}, context.command_timeout);
  if (!output) {
    if (output.status().code() == ErrorCode::kNotFound)
      rocm_smi_missing_ = true;
    warnings.push_back("rocm-smi: " + output.status().message());
    return;
  }
  Result<std::vector<RocmSmiCard>> cards = parse_rocm_smi_json(output->out);
  if (!cards) {
    warnings.push_back(cards.status().message() + "; keeping the sysfs figures");
    return;
  }
  // rocm-smi numbers the AMD GPUs it detects from 0, in the order of their DRM cards.
  for (size_t i = 0; i < cards->size(); ++i) {
    const RocmSmiCard& card = (*cards)[i];
    if (i >= devices.size()) {
      GpuDevice device;
      device.vendor = Vendor::kAmd;
      device.vendor_index = card.index;
      device.detected_by = "rocm-smi";
      device.name = card.series.empty() ? fmt::format("AMD GPU card{}", card.index) : card.series;
      devices.push_back(std::move(device));
    }
    GpuDevice& device = devices[i];
    if (!device.memory_total && card.vram_total) {
      device.memory_total = Reading<uint64_t>{*card.vram_total, "rocm-smi"};
    }
    if (!device.memory_used && card.vram_used) {
      device.memory_used = Reading<uint64_t>{*card.vram_used, "rocm-smi"};
    }
    if (!device.utilization_percent && card.busy_percent) {
      device.utilization_percent = Reading<double>{*card.busy_percent, "rocm-smi"};
    }
    complete_memory(device);
  }
}

}  // namespace ollamaflow::gpu
