// A nesting check for JSON text before it is parsed. nlohmann::json parses deep nesting without
// recursion, but dumping, comparing and schema-checking a value recurse once per level. A value
// nested tens of thousands deep, from a file or a model reply, would overflow the stack.
#pragma once

#include <cstddef>
#include <optional>
#include <string_view>

namespace ollamaflow {

// The deepest nesting that configuration files, plan files and model replies may have. Real
// ones stay below 10 levels.
inline constexpr size_t kMaxJsonDepth = 128;

// Returns the offset of the first '[' or '{' that opens level `max_depth` + 1 of `text`, or
// nullopt when no array or object lies deeper. Brackets inside strings do not count. The text
// need not be valid JSON: the parser reports that afterwards.
inline std::optional<size_t> json_too_deep_offset(std::string_view text,
                                                  size_t max_depth = kMaxJsonDepth) {
  size_t depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;  // The escaped character cannot end the string.
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > max_depth) {
        return i;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return std::nullopt;
}

}  // namespace ollamaflow
