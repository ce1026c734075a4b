#include "cli/errors.h"

#include <cstdio>
#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/terminal_text.h"
#include "core/utf8.h"

namespace ollamaflow::cli {
namespace {

// Returns `text` with each byte that starts no valid UTF-8 sequence written as \xNN, so that a
// terminal never receives a broken sequence.
std::string escape_invalid_utf8(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  while (!text.empty()) {
    const std::optional<size_t> bad = invalid_utf8_offset(text);
    if (!bad) {
      out += text;
      break;
    }
    out += text.substr(0, *bad);
    out += fmt::format("\\x{:02X}", static_cast<unsigned char>(text[*bad]));
    text.remove_prefix(*bad + 1);
  }
  return out;
}

}  // namespace

void print_error(std::string_view message) {
  const std::string line =
      "ollama-flow: " + escape_control_characters(escape_invalid_utf8(message)) + "\n";
  std::fputs(line.c_str(), stderr);
}

}  // namespace ollamaflow::cli
