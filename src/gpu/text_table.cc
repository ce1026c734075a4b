#include "gpu/text_table.h"

#include <algorithm>

#include <fmt/format.h>

#include "core/terminal_text.h"
#include "gpu/types.h"

namespace ollamaflow::gpu {
namespace {

std::vector<std::string> escaped_cells(std::vector<std::string> cells) {
  for (std::string& cell : cells) {
    cell = escape_control_characters(cell);
  }
  return cells;
}

}  // namespace

TextTable::TextTable(std::vector<std::string> header) : header_(escaped_cells(std::move(header))) {}

void TextTable::add_row(std::vector<std::string> cells) {
  rows_.push_back(escaped_cells(std::move(cells)));
}

std::vector<std::string> TextTable::render_lines() const {
  std::vector<size_t> widths(header_.size(), 0);
  auto measure = [&widths](const std::vector<std::string>& cells) {
    if (cells.size() > widths.size())
      widths.resize(cells.size(), 0);
    for (size_t i = 0; i < cells.size(); ++i) {
      widths[i] = std::max(widths[i], printed_width(cells[i]));
    }
  };
  measure(header_);
  for (const auto& row : rows_)
    measure(row);

  std::vector<std::string> lines;
  auto emit = [&](const std::vector<std::string>& cells) {
    std::string line;
    for (size_t i = 0; i < widths.size(); ++i) {
      std::string cell = i < cells.size() ? cells[i] : "";
      line += cell;
      if (i + 1 < widths.size())
        line += std::string(widths[i] - printed_width(cell) + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ')
      line.pop_back();
    lines.push_back(std::move(line));
  };
  emit(header_);
  for (const auto& row : rows_)
    emit(row);
  return lines;
}

std::string TextTable::render() const {
  std::string out;
  for (const std::string& line : render_lines()) {
    out += line + "\n";
  }
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
