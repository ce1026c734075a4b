#include "gpu/nvidia_smi.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "gpu/file_tree.h"

namespace ollamaflow::gpu {

const std::vector<std::string> kNvidiaSmiGpuFields = {
    "index",        "uuid",        "name",        "pci.bus_id",      "driver_version",
    "memory.total", "memory.used", "memory.free", "utilization.gpu", "temperature.gpu",
    "power.draw"};

namespace {

const std::vector<std::string> kComputeAppFields = {"gpu_uuid", "pid", "used_memory"};

std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string_view::npos)
      end = text.size();
    std::string_view line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r')
      line.remove_suffix(1);
    if (!trim(line).empty())
      lines.push_back(line);
    start = end + 1;
  }
  return lines;
}

std::vector<std::string> split_commas(std::string_view line) {
  std::vector<std::string> cells;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    if (comma == std::string_view::npos) {
      cells.push_back(trim(line.substr(start)));
      return cells;
    }
    cells.push_back(trim(line.substr(start, comma - start)));
    start = comma + 1;
  }
}

// "memory.total [MiB]" -> "memory.total"; "utilization.gpu [%]" -> "utilization.gpu".
std::string header_name(const std::string& cell) {
  size_t bracket = cell.find(" [");
  return trim(bracket == std::string::npos ? cell : cell.substr(0, bracket));
}

// Reads a number with an optional unit suffix ("24576", "24576 MiB", "250.50 W").
std::optional<double> parse_number(const std::string& text) {
  std::string value = trim(text);
  size_t end = 0;
  while (end < value.size() &&
         (std::isdigit(static_cast<unsigned char>(value[end])) || value[end] == '.')) {
    ++end;
  }
  if (end == 0)
    return std::nullopt;
  std::string rest = trim(std::string_view(value).substr(end));
  if (!rest.empty() && !std::isalpha(static_cast<unsigned char>(rest[0])) && rest[0] != '%') {
    return std::nullopt;
  }
  double number = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + end, number);
  if (ec != std::errc() || ptr != value.data() + end)
    return std::nullopt;
  return number;
}

std::optional<std::string> cell(const SmiRow& row, const std::string& field) {
  auto it = row.find(field);
  if (it == row.end())
    return std::nullopt;
  return it->second;
}

// Reads a MiB figure; an unknown marker adds a note naming the field and the raw text.
ByteReading read_mib(const SmiRow& row, const std::string& field, GpuDevice& device) {
  std::optional<std::string> raw = cell(row, field);
  if (!raw)
    return std::nullopt;
  std::optional<double> mib = parse_number(*raw);
  if (!mib) {
    device.notes.push_back(fmt::format("nvidia-smi reported {} as '{}'", field, *raw));
    return std::nullopt;
  }
  return Reading<uint64_t>{static_cast<uint64_t>(*mib * static_cast<double>(kMiB)), "nvidia-smi"};
}

NumberReading read_number(const SmiRow& row, const std::string& field, double max_value) {
  std::optional<std::string> raw = cell(row, field);
  if (!raw)
    return std::nullopt;
  std::optional<double> value = parse_number(*raw);
  if (!value || *value > max_value)
    return std::nullopt;
  return Reading<double>{*value, "nvidia-smi"};
}

// Returns the text between <tag> and </tag> inside `block`, or empty.
std::string_view tag_text(std::string_view block, std::string_view tag) {
  std::string open = fmt::format("<{}>", tag);
  std::string close = fmt::format("</{}>", tag);
  size_t begin = block.find(open);
  if (begin == std::string_view::npos)
    return {};
  begin += open.size();
  size_t end = block.find(close, begin);
  if (end == std::string_view::npos)
    return {};
  return block.substr(begin, end - begin);
}

// Returns the blocks between each <tag...> and its </tag>; nesting of the same tag is not
// handled, which nvidia-smi's schema does not use for these tags.
std::vector<std::string_view> tag_blocks(std::string_view xml, std::string_view tag) {
  std::vector<std::string_view> blocks;
  std::string open = fmt::format("<{}", tag);
  std::string close = fmt::format("</{}>", tag);
  size_t position = 0;
  while (true) {
    size_t begin = xml.find(open, position);
    if (begin == std::string_view::npos)
      break;
    char next = begin + open.size() < xml.size() ? xml[begin + open.size()] : '\0';
    if (next != '>' && next != ' ') {
      position = begin + open.size();
      continue;
    }
    size_t end = xml.find(close, begin);
    if (end == std::string_view::npos)
      break;
    blocks.push_back(xml.substr(begin, end - begin));
    position = end + close.size();
  }
  return blocks;
}

uint64_t mib_text_to_bytes(std::string_view text) {
  std::optional<double> mib = parse_number(std::string(text));
  return mib ? static_cast<uint64_t>(*mib * static_cast<double>(kMiB)) : 0;
}

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

Result<std::vector<SmiRow>> parse_smi_csv(std::string_view text,
                                          const std::vector<std::string>& fields) {
  std::vector<std::string_view> lines = split_lines(text);
  std::vector<std::string> names = fields;
  size_t first = 0;
  if (names.empty()) {
    if (lines.empty())
      return std::vector<SmiRow>{};
    for (const auto& name : split_commas(lines[0]))
      names.push_back(header_name(name));
    first = 1;
  }
  auto free_text = std::find_if(names.begin(), names.end(), [](const std::string& name) {
    return name == "name" || name == "process_name";
  });
  std::vector<SmiRow> rows;
  for (size_t i = first; i < lines.size(); ++i) {
    std::vector<std::string> cells = split_commas(lines[i]);
    if (cells.size() < names.size()) {
      return Result<std::vector<SmiRow>>(
          ErrorCode::kParseError,
          fmt::format("nvidia-smi output line {} has {} fields, expected {}: '{}'", i + 1,
                      cells.size(), names.size(), std::string(lines[i].substr(0, 120))));
    }
    if (cells.size() > names.size() && free_text != names.end()) {
      // Rejoin the cells a comma inside the free-text column split apart.
      size_t at = static_cast<size_t>(free_text - names.begin());
      size_t extra = cells.size() - names.size();
      for (size_t k = 1; k <= extra; ++k)
        cells[at] += ", " + cells[at + k];
      cells.erase(cells.begin() + static_cast<long>(at) + 1,
                  cells.begin() + static_cast<long>(at + extra) + 1);
    }
    SmiRow row;
    for (size_t k = 0; k < names.size(); ++k)
      row[names[k]] = cells[k];
    rows.push_back(std::move(row));
  }
  return rows;
}

std::vector<GpuDevice> devices_from_smi_rows(const std::vector<SmiRow>& rows) {
  std::vector<GpuDevice> devices;
  for (size_t i = 0; i < rows.size(); ++i) {
    const SmiRow& row = rows[i];
    GpuDevice device;
    device.vendor = Vendor::kNvidia;
    device.detected_by = "nvidia-smi";
    std::optional<double> index = parse_number(cell(row, "index").value_or(""));
    device.vendor_index = index ? static_cast<int>(*index) : static_cast<int>(i);
    device.name = cell(row, "name").value_or("");
    device.uuid = cell(row, "uuid").value_or("");
    device.bus_id = cell(row, "pci.bus_id").value_or("");
    device.driver = cell(row, "driver_version").value_or("");
    device.memory_total = read_mib(row, "memory.total", device);
    device.memory_used = read_mib(row, "memory.used", device);
    device.memory_free = read_mib(row, "memory.free", device);
    complete_memory(device);
    device.utilization_percent = read_number(row, "utilization.gpu", 100);
    device.temperature_c = read_number(row, "temperature.gpu", 200);
    device.power_w = read_number(row, "power.draw", 5000);
    devices.push_back(std::move(device));
  }
  return devices;
}

std::vector<MigMemory> parse_smi_mig_xml(std::string_view xml) {
  std::vector<MigMemory> result;
  for (std::string_view gpu : tag_blocks(xml, "gpu")) {
    MigMemory memory;
    size_t id_at = gpu.find("id=\"");
    if (id_at != std::string_view::npos) {
      size_t end = gpu.find('"', id_at + 4);
      if (end != std::string_view::npos)
        memory.gpu_bus_id = gpu.substr(id_at + 4, end - id_at - 4);
    }
    std::string_view slices = tag_text(gpu, "mig_devices");
    for (std::string_view slice : tag_blocks(slices, "mig_device")) {
      std::string_view fb = tag_text(slice, "fb_memory_usage");
      if (fb.empty())
        continue;
      memory.total_bytes += mib_text_to_bytes(tag_text(fb, "total"));
      memory.used_bytes += mib_text_to_bytes(tag_text(fb, "used"));
      memory.free_bytes += mib_text_to_bytes(tag_text(fb, "free"));
      ++memory.slice_count;
    }
    // The GPU's own <uuid> follows its <mig_devices> section.
    size_t after =
        slices.empty() ? 0 : static_cast<size_t>(slices.data() - gpu.data()) + slices.size();
    memory.gpu_uuid = trim(tag_text(gpu.substr(after), "uuid"));
    if (memory.slice_count > 0 && memory.total_bytes > 0)
      result.push_back(memory);
  }
  return result;
}

std::map<std::string, uint64_t> sum_compute_app_memory(const std::vector<SmiRow>& rows) {
  std::map<std::string, uint64_t> sums;
  for (const SmiRow& row : rows) {
    std::string uuid = cell(row, "gpu_uuid").value_or("");
    std::optional<double> mib = parse_number(cell(row, "used_memory").value_or(""));
    if (uuid.empty() || !mib)
      continue;
    sums[uuid] += static_cast<uint64_t>(*mib * static_cast<double>(kMiB));
  }
  return sums;
}

Result<std::string> NvidiaSmiProbe::run(const ProbeContext& context,
                                        const std::vector<std::string>& args) {
  if (missing_) {
    return Result<std::string>(ErrorCode::kNotFound, "nvidia-smi not found on PATH");
  }
  std::vector<std::string> argv = {"nvidia-smi"};
  argv.insert(argv.end(), args.begin(), args.end());
  Result<CommandOutput> output = context.run_command(argv, context.command_timeout);
  if (!output) {
    if (output.status().code() == ErrorCode::kNotFound)
      missing_ = true;
    return output.status();
  }
  if (output->exit_code != 0) {
    std::string message = trim(output->out.empty() ? output->err : output->out);
    return Result<std::string>(ErrorCode::kUnavailable,
                               fmt::format("nvidia-smi exited with status {}: {}",
                                           output->exit_code, message.substr(0, 200)));
  }
  return std::move(output->out);
}

Result<std::vector<GpuDevice>> NvidiaSmiProbe::probe(const ProbeContext& context) {
  std::string query = "--query-gpu=";
  for (size_t i = 0; i < kNvidiaSmiGpuFields.size(); ++i) {
    query += (i ? "," : "") + kNvidiaSmiGpuFields[i];
  }
  Result<std::string> text = run(context, {query, "--format=csv,noheader,nounits"});
  if (!text)
    return text.status();
  Result<std::vector<SmiRow>> rows = parse_smi_csv(*text, kNvidiaSmiGpuFields);
  if (!rows)
    return rows.status();
  return devices_from_smi_rows(*rows);
}

void NvidiaSmiProbe::fill_unknown_memory(const ProbeContext& context,
                                         std::vector<GpuDevice>& devices) {
  auto unknown = [](const GpuDevice& d) { return d.vendor == Vendor::kNvidia && !memory_known(d); };
  if (std::none_of(devices.begin(), devices.end(), unknown))
    return;

  if (Result<std::string> xml = run(context, {"-q", "-x"})) {
    for (const MigMemory& mig : parse_smi_mig_xml(*xml)) {
      for (GpuDevice& device : devices) {
        bool same = (!device.uuid.empty() && device.uuid == mig.gpu_uuid) ||
                    (!device.bus_id.empty() && lower(device.bus_id) == lower(mig.gpu_bus_id));
        if (!unknown(device) || !same)
          continue;
        std::string source = fmt::format("nvidia-smi -q -x ({} MIG slices)", mig.slice_count);
        device.memory_total = Reading<uint64_t>{mig.total_bytes, source};
        device.memory_used = Reading<uint64_t>{mig.used_bytes, source};
        device.memory_free = Reading<uint64_t>{mig.free_bytes, source};
        complete_memory(device);
      }
    }
  }
  if (std::none_of(devices.begin(), devices.end(), unknown))
    return;

  Result<std::string> apps = run(
      context, {"--query-compute-apps=gpu_uuid,pid,used_memory", "--format=csv,noheader,nounits"});
  if (!apps)
    return;
  Result<std::vector<SmiRow>> rows = parse_smi_csv(*apps, kComputeAppFields);
  if (!rows)
    return;
  std::map<std::string, uint64_t> sums = sum_compute_app_memory(*rows);
  for (GpuDevice& device : devices) {
    if (!unknown(device) || device.memory_used || device.uuid.empty())
      continue;
    auto it = sums.find(device.uuid);
    uint64_t used = it == sums.end() ? 0 : it->second;
    device.memory_used = Reading<uint64_t>{used, "nvidia-smi --query-compute-apps (sum)"};
    complete_memory(device);
  }
}

}  // namespace ollamaflow::gpu
