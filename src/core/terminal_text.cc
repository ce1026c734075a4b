#include "core/terminal_text.h"

#include <algorithm>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>

namespace ollamaflow {

namespace {

// Returns the terminal columns of code point `c`: 0 for combining marks and zero-width
// characters, 2 for the East Asian wide and fullwidth ranges and emoji, 1 otherwise. The ranges
// are the common blocks of Unicode's EastAsianWidth W/F and general category Mn, not the whole
// tables, so a rare character may be counted one column off.
size_t column_width(char32_t c) {
  const bool zero = (c >= 0x0300 && c <= 0x036F) || (c >= 0x0483 && c <= 0x0489) ||
                    (c >= 0x0591 && c <= 0x05BD) || (c >= 0x0610 && c <= 0x061A) ||
                    (c >= 0x064B && c <= 0x065F) || (c >= 0x1AB0 && c <= 0x1AFF) ||
                    (c >= 0x1DC0 && c <= 0x1DFF) || (c >= 0x200B && c <= 0x200F) ||
                    (c >= 0x20D0 && c <= 0x20FF) || (c >= 0xFE00 && c <= 0xFE0F) ||
                    (c >= 0xFE20 && c <= 0xFE2F);
  if (zero) {
    return 0;
  }
  const bool wide = (c >= 0x1100 && c <= 0x115F) || (c >= 0x2E80 && c <= 0x303E) ||
                    (c >= 0x3041 && c <= 0x33FF) || (c >= 0x3400 && c <= 0x4DBF) ||
                    (c >= 0x4E00 && c <= 0x9FFF) || (c >= 0xA000 && c <= 0xA4CF) ||
                    (c >= 0xAC00 && c <= 0xD7A3) || (c >= 0xF900 && c <= 0xFAFF) ||
                    (c >= 0xFE30 && c <= 0xFE4F) || (c >= 0xFF00 && c <= 0xFF60) ||
                    (c >= 0xFFE0 && c <= 0xFFE6) || (c >= 0x1F300 && c <= 0x1F64F) ||
                    (c >= 0x1F900 && c <= 0x1F9FF) || (c >= 0x20000 && c <= 0x3FFFD);
  return wide ? 2 : 1;
}

// Returns true for the code points that reorder or break a line on a terminal, so the escaping
// treats them as control characters. They are Unicode's Bidi_Control characters (U+061C, U+200E,
// U+200F, U+202A to U+202E, U+2066 to U+2069) and the separators U+2028 and U+2029.
bool is_layout_control(char32_t c) {
  return c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x2028 && c <= 0x202E) ||
         (c >= 0x2066 && c <= 0x2069);
}

// Decodes the UTF-8 sequence that starts at text[i] into `code` and returns its length, or 0
// when the bytes are not a well-formed sequence: an overlong form, such as E0 80 8A for a
// newline, a surrogate or a code point above U+10FFFF is not.
size_t decode_utf8(std::string_view text, size_t i, char32_t& code) {
  const auto lead = static_cast<unsigned char>(text[i]);
  size_t length = 0;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    code = lead & 0x1F;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    code = lead & 0x0F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    code = lead & 0x07;
  } else {
    return 0;
  }
  if (i + length > text.size()) {
    return 0;
  }
  for (size_t k = 1; k < length; ++k) {
    const auto byte = static_cast<unsigned char>(text[i + k]);
    if ((byte & 0xC0) != 0x80) {
      return 0;
    }
    code = (code << 6) | (byte & 0x3F);
  }
  char32_t shortest_min = 0x10000;  // the least code point that needs `length` bytes
  if (length == 2) {
    shortest_min = 0x80;
  } else if (length == 3) {
    shortest_min = 0x800;
  }
  if (code < shortest_min || (code >= 0xD800 && code <= 0xDFFF) || code > 0x10FFFF) {
    return 0;
  }
  return length;
}

}  // namespace

std::vector<PrintedCharacter> printable_characters(std::string_view text) {
  std::vector<PrintedCharacter> characters;
  auto escape = [&characters](std::string escaped) {
    const size_t width = escaped.size();
    characters.push_back({std::move(escaped), width});
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    char32_t code = 0;
    const size_t sequence = byte >= 0xC2 ? decode_utf8(text, i, code) : 0;
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
    } else if (sequence > 0 && is_layout_control(code)) {
      escape(fmt::format("\\u{:04X}", static_cast<uint32_t>(code)));
      i += sequence - 1;
    } else if (sequence > 0) {
      characters.push_back({std::string(text.substr(i, sequence)), column_width(code)});
      i += sequence - 1;
    } else if (byte >= 0x80) {
      // A byte outside a well-formed UTF-8 sequence: a terminal in an 8-bit mode would read
      // 0x80 to 0x9F as C1 controls, so every such byte is escaped.
      escape(fmt::format("\\x{:02X}", byte));
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

size_t printed_width(std::string_view text) {
  size_t width = 0;
  for (const PrintedCharacter& character : printable_characters(text)) {
    width += character.width;
  }
  return width;
}

std::string truncate_printable(std::string_view text, size_t max_width) {
  if (printed_width(text) <= max_width) {
    return escape_control_characters(text);
  }
  const std::vector<PrintedCharacter> characters = printable_characters(text);
  // The ellipsis takes the last column.
  const size_t kept_width = max_width > 0 ? max_width - 1 : 0;
  std::string cut;
  size_t used = 0;
  for (const PrintedCharacter& character : characters) {
    if (used + character.width > kept_width) {
      break;
    }
    cut += character.text;
    used += character.width;
  }
  return cut + "\u2026";
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
