// Aligned plain-text tables for the human output of the gpu, models, plan-capacity and doctor
// commands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ollamaflow::gpu {

class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header) : header_(std::move(header)) {}

  // Adds a row; missing cells print empty and extra cells are kept.
  void add_row(std::vector<std::string> cells) { rows_.push_back(std::move(cells)); }

  // Returns the table with columns padded to their widest cell, two spaces apart, and a
  // trailing newline after each line. Width counts UTF-8 code points.
  std::string render() const;

 private:
  std::vector<std::string> header_;
  std::vector<std::vector<std::string>> rows_;
};

// Formats bytes as MiB with no decimals, e.g. "20464 MiB", and sizes from 1 byte to under
// 1 MiB as whole KiB rounded up, e.g. "12 KiB"; "unknown" for nullopt.
std::string format_mib(std::optional<uint64_t> bytes);

// Formats bytes as GiB with two decimals, e.g. "19.98 GiB".
std::string format_gib(uint64_t bytes);

}  // namespace ollamaflow::gpu
