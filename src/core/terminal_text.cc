#include "core/terminal_text.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace ollamaflow {

std::vector<PrintedCharacter> printable_characters(std::string_view text) {
  std::vector<PrintedCharacter> characters;
  auto escape = [&characters](std::string escaped) {
    const size_t width = escaped.size();
    characters.push_back({std::move(escaped), width});
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    const bool c1 = byte == 0xC2 && i + 1 < text.size() &&
                    static_cast<unsigned char>(text[i + 1]) >= 0x80 &&
                    static_cast<unsigned char>(text[i + 1]) <= 0x9F;
    if (byte == '\n') {
      escape("\\n");
    } else if (byte == '\r') {
      escape("\\r");
    } else if (byte == '\t') {
      escape("\\t");
    } else if (byte < 0x20 || byte == 0x7F) {
      escape(fmt::format("\\x{:02X}", byte));
    } else if (c1) {
      escape(fmt::format("\\u{:04X}", static_cast<unsigned char>(text[++i])));
    } else if ((byte & 0xC0) == 0x80 && !characters.empty()) {
      characters.back().text += text[i];  // a continuation byte of a UTF-8 sequence
    } else {
      characters.push_back({std::string(1, text[i]), 1});
    }
  }
  return characters;
}

std::string escape_control_characters(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const PrintedCharacter& character : printable_characters(text)) {
    out += character.text;
  }
  return out;
}

std::string shell_quoted(const std::string& word) {
  const bool safe = !word.empty() && std::all_of(word.begin(), word.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 ||
           std::string_view("_@%+=:,./-").find(c) != std::string_view::npos;
  });
  if (safe) {
    return word;
  }
  std::string quoted = "'";
  for (const char c : word) {
    quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  }
  return quoted + "'";
}

}  // namespace ollamaflow
