// A check for keys that appear twice in one JSON object. RFC 8259 says the names in an object
// should be unique and leaves a repeated name to the parser. nlohmann::json keeps the last value,
// so a setting typed twice in a hand-edited file would be lost without a word.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include <nlohmann/json.hpp>

namespace ollamaflow {

struct DuplicateKey {
  std::string key;      // the key as decoded text
  size_t first_offset;  // byte offset of the first occurrence's opening quote
  size_t second_offset;
};

// Returns the first key that appears twice in one object of `text`, by the position of its
// second occurrence. `text` must be valid JSON, as json::parse() accepted it; keys are compared
// after their escapes are decoded, so "a" and "\u0061" are the same key.
std::optional<DuplicateKey> find_duplicate_key(std::string_view text);

// Returns e.g. `the key "num_ctx" twice in one object, at line 2 column 5 and line 3 column 5`.
std::string describe_duplicate_key(std::string_view text, const DuplicateKey& duplicate);

// Returns the 1-based line and column of byte `offset` (0-based) in `text`.
std::pair<size_t, size_t> line_and_column(std::string_view text, size_t offset);

// Returns the message of a nlohmann::json exception without the library's
// "[json.exception.parse_error.101] " prefix and, for a parse error, without its position.
std::string json_exception_cause(const nlohmann::json::exception& error);

// Describes why json::parse() rejected `text`: for a parse error, e.g. "parse error at line 2
// column 7: syntax error while parsing object - unexpected '}'; expected string literal", with
// the position in `text` counted as line_and_column() does; for another exception (a number too
// large for a double) only its cause.
std::string describe_json_error(std::string_view text, const nlohmann::json::exception& error);

}  // namespace ollamaflow
