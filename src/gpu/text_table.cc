#include "gpu/text_table.h"

#include <algorithm>

#include <fmt/format.h>

#include "gpu/types.h"

namespace ollamaflow::gpu {
namespace {

size_t display_width(const std::string& text) {
  size_t width = 0;
  for (unsigned char c : text) {
    if ((c & 0xC0) != 0x80)
      ++width;
  }
  return width;
}

}  // namespace

std::string TextTable::render() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& cells) {
    if (cells.size() > widths.size())
      widths.resize(cells.size(), 0);
    for (size_t i = 0; i < cells.size(); ++i) {
      widths[i] = std::max(widths[i], display_width(cells[i]));
    }
  };
  measure(header_);
  for (const auto& row : rows_)
    measure(row);

  std::string out;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      line += cell;
      if (i + 1 < widths.size())
        line += std::string(widths[i] - display_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    out += line + "\n";
  };
  emit(header_);
  for (const auto& row : rows_)
    emit(row);
  return out;
}

std::string format_mib(std::optional<uint64_t> bytes) {
  if (!bytes)
    return "unknown";
  // A small model's KV cache per slot can be a few KiB, which would round to "0 MiB".
  if (*bytes > 0 && *bytes < kMiB)
    return fmt::format("{} KiB", (*bytes + 1023) / 1024);
  return fmt::format("{:.0f} MiB", static_cast<double>(*bytes) / static_cast<double>(kMiB));
}

std::string format_gib(uint64_t bytes) {
  return fmt::format("{:.2f} GiB", static_cast<double>(bytes) / static_cast<double>(kGiB));
}

}  // namespace ollamaflow::gpu
