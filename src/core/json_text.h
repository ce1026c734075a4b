// JSON to text for output and files. Model replies and file contents can hold invalid UTF-8;
// nlohmann::json::dump() throws on it, so every dump of such data goes through to_text(), which
// replaces invalid bytes with U+FFFD.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

namespace ollamaflow {

// Returns `value` as JSON text; `indent` < 0 means one line.
inline std::string to_text(const nlohmann::json& value, int indent = -1) {
  return value.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace ollamaflow
