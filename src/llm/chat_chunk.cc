#include "llm/chat_chunk.h"

#include <fmt/format.h>

#include "llm/json_scan.h"
#include "llm/ndjson.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

Status wrong_type(size_t line_number, std::string_view field, std::string_view expected) {
  return Status(ErrorCode::kParseError,
                fmt::format("stream line {}: \"{}\" is not {}: the server does not speak "
                            "Ollama's /api/chat protocol",
                            line_number, field, expected));
}

// Reads a number member into `integer` (counts) or `real` (durations); a value of another type
// counts as absent, as in chat_chunk_from_json.
bool number_member(JsonScanner& scanner, int64_t* integer, double* real) {
  if (integer != nullptr)
    *integer = 0;
  if (real != nullptr)
    *real = 0;
  const char next = scanner.peek();
  if (next != '-' && (next < '0' || next > '9')) {
    return scanner.skip_value();
  }
  double value = 0;
  int64_t whole = 0;
  bool is_integer = false;
  if (!scanner.read_number(&value, &whole, &is_integer))
    return false;
  if (integer != nullptr && is_integer)
    *integer = whole;
  if (real != nullptr)
    *real = value;
  return true;
}

double* duration_field(const std::string& key, ChatChunk& chunk) {
  if (key == "load_duration")
    return &chunk.load_duration_ns;
  if (key == "prompt_eval_duration")
    return &chunk.prompt_eval_duration_ns;
  if (key == "eval_duration")
    return &chunk.eval_duration_ns;
  if (key == "total_duration")
    return &chunk.total_duration_ns;
  return nullptr;
}

// Reads the "message" object. Returns false for anything the fast path leaves to the full
// parser: a syntax error, or a field of the wrong type (where a later duplicate could still
// make the line valid).
bool scan_message(JsonScanner& scanner, ChatChunk& chunk) {
  // A later "message" replaces an earlier one, as the tree parser keeps the last member.
  chunk.content.clear();
  chunk.thinking.clear();
  if (!scanner.consume('{')) {
    return scanner.skip_value();
  }
  bool first = true;
  std::string key;
  while (scanner.next_member(&first, &key)) {
    if (key == "content" || key == "thinking") {
      std::string& field = key == "content" ? chunk.content : chunk.thinking;
      field.clear();
      if (scanner.peek() != '"' || !scanner.read_string(&field))
        return false;
    } else if (!scanner.skip_value()) {
      return false;
    }
  }
  return !scanner.failed();
}

// Reads one top-level member; false hands the line to the full parser.
bool scan_member(JsonScanner& scanner, const std::string& key, ChatChunk& chunk) {
  const char next = scanner.peek();
  if (key == "message")
    return scan_message(scanner, chunk);
  if (key == "done")
    return (next == 't' || next == 'f') && scanner.read_bool(&chunk.done);
  if (key == "done_reason" || key == "error") {
    std::optional<std::string>& field = key == "error" ? chunk.error : chunk.done_reason;
    field.emplace();
    return next == '"' && scanner.read_string(&*field);
  }
  if (key == "model") {
    if (next != '"') {
      chunk.model.reset();
      return scanner.skip_value();
    }
    chunk.model.emplace();
    return scanner.read_string(&*chunk.model);
  }
  if (key == "prompt_eval_count")
    return number_member(scanner, &chunk.prompt_eval_count, nullptr);
  if (key == "eval_count")
    return number_member(scanner, &chunk.eval_count, nullptr);
  if (double* duration = duration_field(key, chunk)) {
    return number_member(scanner, nullptr, duration);
  }
  return scanner.skip_value();
}

// The fast path: true when the line is one well-formed object whose fields all have the
// expected types.
bool scan_chunk(std::string_view line, ChatChunk& chunk) {
  JsonScanner scanner(line);
  if (!scanner.consume('{')) {
    return false;
  }
  bool first = true;
  std::string key;
  while (scanner.next_member(&first, &key)) {
    if (!scan_member(scanner, key, chunk))
      return false;
  }
  return !scanner.failed() && scanner.at_end();
}

std::optional<std::string> optional_string(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_string())
    return std::nullopt;
  return it->get<std::string>();
}

int64_t integer_of(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end())
    return 0;
  if (it->is_number_integer() && !it->is_number_unsigned())
    return it->get<int64_t>();
  if (it->is_number_unsigned() && it->get<uint64_t>() <= uint64_t(INT64_MAX)) {
    return static_cast<int64_t>(it->get<uint64_t>());
  }
  return 0;
}

double number_of(const json& object, const char* key) {
  const auto it = object.find(key);
  return it != object.end() && it->is_number() ? it->get<double>() : 0;
}

}  // namespace

Result<ChatChunk> chat_chunk_from_json(const json& object, size_t line_number) {
  if (!object.is_object()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("stream line {} is JSON but not an object: the server does not "
                              "speak Ollama's /api/chat protocol",
                              line_number));
  }
  ChatChunk chunk;
  if (const auto error = object.find("error"); error != object.end()) {
    chunk.error = error->is_string() ? error->get<std::string>() : error->dump();
  }
  if (const auto message = object.find("message");
      message != object.end() && message->is_object()) {
    for (const char* field : {"content", "thinking"}) {
      const auto it = message->find(field);
      if (it == message->end())
        continue;
      if (!it->is_string())
        return wrong_type(line_number, fmt::format("message.{}", field), "a string");
      (std::string_view(field) == "content" ? chunk.content : chunk.thinking) =
          it->get<std::string>();
    }
  }
  if (const auto done = object.find("done"); done != object.end()) {
    if (!done->is_boolean())
      return wrong_type(line_number, "done", "true or false");
    chunk.done = done->get<bool>();
  }
  if (const auto reason = object.find("done_reason"); reason != object.end()) {
    if (!reason->is_string())
      return wrong_type(line_number, "done_reason", "a string");
    chunk.done_reason = reason->get<std::string>();
  }
  chunk.model = optional_string(object, "model");
  chunk.prompt_eval_count = integer_of(object, "prompt_eval_count");
  chunk.eval_count = integer_of(object, "eval_count");
  chunk.load_duration_ns = number_of(object, "load_duration");
  chunk.prompt_eval_duration_ns = number_of(object, "prompt_eval_duration");
  chunk.eval_duration_ns = number_of(object, "eval_duration");
  chunk.total_duration_ns = number_of(object, "total_duration");
  return chunk;
}

Result<ChatChunk> parse_chat_chunk(std::string_view line, size_t line_number) {
  ChatChunk chunk;
  if (scan_chunk(line, chunk)) {
    return chunk;
  }
  // Rare: a syntax error, an unusual shape or a wrong type. The tree parser gives the exact
  // result and its message.
  Result<json> object = parse_ndjson_line(line, line_number);
  if (!object.is_ok()) {
    return object.status();
  }
  return chat_chunk_from_json(*object, line_number);
}

}  // namespace ollamaflow::llm
