// Extraction of one JSON value from a model's free-form reply.
#pragma once

#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow::llm {

// Extracts the first balanced top-level JSON object or array from a model reply.
//
// The search skips `<think>...</think>` sections, and everything before a lone `</think>` whose
// opening tag came from the chat template. It starts at the first `{` or `[`, so an opening
// Markdown fence such as "```json" is passed over. Text after the value, such as a closing
// fence or closing words, is ignored. A candidate that is not valid JSON is skipped when a later
// candidate starts after its end, so prose such as "[1]" before the value does no harm.
//
// Errors:
// - kTruncated: the value (or a `<think>` section before it) is never closed, which is what a
//   reply cut by the output token limit looks like. It is never repaired.
// - kParseError: the reply has no object or array, or the value has a JSON syntax error. Two
//   errors get their own messages: "single quotes at line L column C" for single-quoted keys
//   or strings, and "raw control character at line L column C" for one inside a string.
//
// With `lenient` set, single-quoted strings become double-quoted, raw control characters inside
// strings are escaped and trailing commas before `}` or `]` are removed; other errors remain.
// Line and column numbers count from 1 and refer to `text` as passed; columns count bytes.
//
// Thread-safe: a pure function.
Result<nlohmann::json> extract_json(std::string_view text, bool lenient = false);

}  // namespace ollamaflow::llm
