// Aligned plain-text tables for the human output of the gpu, models, plan-capacity, doctor and
// runs commands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ollamaflow::gpu {

// A table whose cells may hold text from outside: model and GPU names, paths, server replies.
// The table escapes every cell as escape_control_characters() does, so that no cell can move the
// cursor, start a new line or reverse the text direction on the terminal. Escaping a cell twice
// changes nothing, so a caller may pass cells that it already escaped or truncated with
// truncate_printable().
class TextTable {
 public:
  explicit TextTable(std::vector<std::string> header);

  // Adds a row; missing cells print empty and extra cells are kept.
  void add_row(std::vector<std::string> cells);

  // Returns the header and then each row, one line each without the newline, with columns
  // padded to their widest cell and two spaces apart. Width counts terminal columns as
  // printed_width() does.
  std::vector<std::string> render_lines() const;

  // Returns the lines of render_lines(), each followed by a newline.
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
