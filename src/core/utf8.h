// UTF-8 validation for text that goes into JSON: nlohmann::json::dump() throws on invalid UTF-8.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ollamaflow {

// Returns the offset of the first byte that does not start a valid UTF-8 sequence (RFC 3629: no
// overlong forms, no surrogates, nothing above U+10FFFF), or nullopt when all of `text` is valid.
inline std::optional<size_t> invalid_utf8_offset(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    const auto lead = static_cast<unsigned char>(text[i]);
    size_t length = 0;
    unsigned char low = 0x80;  // allowed range of the second byte
    unsigned char high = 0xBF;
    if (lead < 0x80) {
      length = 1;
    } else if (lead >= 0xC2 && lead <= 0xDF) {
      length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
      length = 3;
      low = lead == 0xE0 ? 0xA0 : 0x80;   // 0xE0 below 0xA0 would be overlong
      high = lead == 0xED ? 0x9F : 0xBF;  // 0xED above 0x9F would be a surrogate
    } else if (lead >= 0xF0 && lead <= 0xF4) {
      length = 4;
      low = lead == 0xF0 ? 0x90 : 0x80;   // 0xF0 below 0x90 would be overlong
      high = lead == 0xF4 ? 0x8F : 0xBF;  // 0xF4 above 0x8F would pass U+10FFFF
    } else {
      return i;
    }
    if (i + length > text.size()) {
      return i;
    }
    for (size_t k = 1; k < length; ++k) {
      const auto byte = static_cast<unsigned char>(text[i + k]);
      const unsigned char min = k == 1 ? low : 0x80;
      const unsigned char max = k == 1 ? high : 0xBF;
      if (byte < min || byte > max) {
        return i;
      }
    }
    i += length;
  }
  return std::nullopt;
}

}  // namespace ollamaflow
