// One line of Ollama's streamed /api/chat reply, read without building a JSON tree.
//
// A chat stream is thousands of small objects, and the client needs a handful of their fields.
// parse_chat_chunk() walks the line once, checks that it is well-formed JSON, decodes the
// fields below and skips everything else. A line it cannot read goes through nlohmann::json
// instead, which either names the syntax error or (for a shape the fast reader does not take)
// yields the same fields, so both paths accept and reject exactly the same lines.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow::llm {

struct ChatChunk {
  // The "error" member: its text when it is a string, else its JSON text.
  std::optional<std::string> error;
  std::string content;   // message.content
  std::string thinking;  // message.thinking
  bool done = false;
  std::optional<std::string> done_reason;
  std::optional<std::string> model;
  // Counts and durations of the final chunk; 0 when absent or not of the expected type (the
  // counts must be integers, the durations numbers, in nanoseconds).
  int64_t prompt_eval_count = 0;
  int64_t eval_count = 0;
  double load_duration_ns = 0;
  double prompt_eval_duration_ns = 0;
  double eval_duration_ns = 0;
  double total_duration_ns = 0;

  friend bool operator==(const ChatChunk&, const ChatChunk&) = default;
};

// Parses one stream line. `line_number` counts from 1 and only labels error messages. Returns
// kParseError when the line is not valid JSON, is not an object, or has "done",
// "done_reason", "message.content" or "message.thinking" of the wrong type. Members are read
// by their last occurrence, as nlohmann::json keeps them.
Result<ChatChunk> parse_chat_chunk(std::string_view line, size_t line_number);

// The same fields from an already parsed object, with the same type rules.
Result<ChatChunk> chat_chunk_from_json(const nlohmann::json& object, size_t line_number);

}  // namespace ollamaflow::llm
