#include "core/json_keys.h"

#include <algorithm>
#include <map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/json_text.h"

namespace ollamaflow {
namespace {

// Returns the offset just past the string literal that opens at `open`.
size_t string_end(std::string_view text, size_t open) {
  size_t i = open + 1;
  while (i < text.size() && text[i] != '"') {
    i += text[i] == '\\' ? 2 : 1;
  }
  return i + 1;
}

size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size() &&
         (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) {
    ++i;
  }
  return i;
}

}  // namespace

std::optional<DuplicateKey> find_duplicate_key(std::string_view text) {
  // One entry per open array or object; an array's entry is nullopt. Each object maps its
  // decoded keys to their offsets.
  std::vector<std::optional<std::map<std::string, size_t>>> open;
  size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '{') {
      open.emplace_back(std::map<std::string, size_t>());
    } else if (c == '[') {
      open.emplace_back(std::nullopt);
    } else if ((c == '}' || c == ']') && !open.empty()) {
      open.pop_back();
    } else if (c == '"') {
      const size_t end = string_end(text, i);
      // In valid JSON, a string directly inside an object and followed by ':' is a key.
      if (!open.empty() && open.back() && skip_space(text, end) < text.size() &&
          text[skip_space(text, end)] == ':') {
        const nlohmann::json decoded =
            nlohmann::json::parse(text.substr(i, end - i), nullptr, false);
        const std::string key = decoded.is_string() ? decoded.get<std::string>()
                                                    : std::string(text.substr(i + 1, end - i - 2));
        const auto [found, inserted] = open.back()->emplace(key, i);
        if (!inserted) {
          return DuplicateKey{key, found->second, i};
        }
      }
      i = end;
      continue;
    }
    ++i;
  }
  return std::nullopt;
}

std::string describe_duplicate_key(std::string_view text, const DuplicateKey& duplicate) {
  const auto [first_line, first_column] = line_and_column(text, duplicate.first_offset);
  const auto [second_line, second_column] = line_and_column(text, duplicate.second_offset);
  return fmt::format("the key {} twice in one object, at line {} column {} and line {} column {}",
                     to_text(nlohmann::json(duplicate.key)), first_line, first_column, second_line,
                     second_column);
}

std::string json_exception_cause(const nlohmann::json::exception& error) {
  std::string cause = error.what();
  if (const size_t bracket = cause.find("] "); bracket != std::string::npos) {
    cause.erase(0, bracket + 2);
  }
  if (cause.rfind("parse error", 0) == 0) {
    if (const size_t colon = cause.find(": "); colon != std::string::npos) {
      cause.erase(0, colon + 2);
    }
  }
  return cause;
}

std::string describe_json_error(std::string_view text, const nlohmann::json::exception& error) {
  const auto* parse_error = dynamic_cast<const nlohmann::json::parse_error*>(&error);
  if (parse_error == nullptr) {
    return json_exception_cause(error);
  }
  // parse_error::byte is 1-based and points at the last character read, the one that failed.
  const size_t offset = parse_error->byte > 0 ? parse_error->byte - 1 : 0;
  const auto [line, column] = line_and_column(text, offset);
  return fmt::format("parse error at line {} column {}: {}", line, column,
                     json_exception_cause(error));
}

std::pair<size_t, size_t> line_and_column(std::string_view text, size_t offset) {
  offset = std::min(offset, text.size());
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return {line, offset - line_start + 1};
}

}  // namespace ollamaflow
