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
  // Messages that list one cause per line indent each one by two spaces after the line break.
  // Such a break stays. Every other control character is escaped, so that a line break inside a
  // quoted value cannot start a line that looks like another message.
  constexpr std::string_view kCauseBreak = "\n  ";
  std::string text = "ollama-flow: ";
  for (size_t start = 0;;) {
    const size_t end = message.find(kCauseBreak, start);
    text += escape_control_characters(escape_invalid_utf8(message.substr(start, end - start)));
    if (end == std::string_view::npos) {
      break;
    }
    text += '\n';
    start = end + 1;
  }
  text += '\n';
  std::fputs(text.c_str(), stderr);
}

}  // namespace ollamaflow::cli
