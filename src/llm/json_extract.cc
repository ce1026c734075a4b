#include "llm/json_extract.h"

#include <optional>
#include <string>

#include <fmt/format.h>

#include "core/json_depth.h"
#include "core/json_keys.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr size_t kNone = std::string_view::npos;
constexpr std::string_view kThinkOpen = "<think>";
constexpr std::string_view kThinkClose = "</think>";

// "line L column C" of a byte offset, both counted from 1.
std::string describe_position(std::string_view text, size_t offset) {
  size_t line = 1;
  size_t line_start = 0;
  for (size_t i = 0; i < offset && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      line_start = i + 1;
    }
  }
  return fmt::format("line {} column {}", line, offset - line_start + 1);
}

std::string preview(std::string_view text) {
  constexpr size_t kMaxPreview = 80;
  std::string shown(text.substr(0, kMaxPreview));
  for (char& c : shown) {
    if (static_cast<unsigned char>(c) < 0x20) {
      c = ' ';
    }
  }
  return text.size() > kMaxPreview ? shown + "..." : shown;
}

// A single quote opens a string only where a JSON string may start, so that an apostrophe in
// prose ("here's") stays a literal character.
bool opens_value(char last_significant) {
  return last_significant == '{' || last_significant == '[' || last_significant == ',' ||
         last_significant == ':';
}

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

// The end of one candidate value and the problems found in it. Offsets index the whole reply.
struct Scan {
  size_t end = 0;  // one past the last byte of the value
  size_t single_quote = kNone;
  size_t control_char = kNone;
  size_t mismatch = kNone;  // a closing bracket that does not match the open one
  bool truncated = false;
  bool in_string_at_end = false;
  size_t open_brackets_at_end = 0;
};

Scan scan_value(std::string_view text, size_t start) {
  Scan scan;
  std::string closers;
  char quote = 0;
  bool escape = false;
  char last_significant = 0;
  for (size_t i = start; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (escape) {
        escape = false;
      } else if (c == '\\') {
        escape = true;
      } else if (c == quote) {
        quote = 0;
        last_significant = c;
      } else if (static_cast<unsigned char>(c) < 0x20 && scan.control_char == kNone) {
        scan.control_char = i;
      }
      continue;
    }
    if (c == '"') {
      quote = c;
    } else if (c == '\'' && opens_value(last_significant)) {
      quote = c;
      if (scan.single_quote == kNone) {
        scan.single_quote = i;
      }
    } else if (c == '{' || c == '[') {
      closers.push_back(c == '{' ? '}' : ']');
    } else if (c == '}' || c == ']') {
      scan.end = i + 1;
      if (c != closers.back()) {
        scan.mismatch = i;
        return scan;
      }
      closers.pop_back();
      if (closers.empty()) {
        return scan;
      }
    }
    if (!is_space(c)) {
      last_significant = c;
    }
  }
  scan.end = text.size();
  scan.truncated = true;
  scan.in_string_at_end = quote != 0;
  scan.open_brackets_at_end = closers.size();
  return scan;
}

void append_escaped_control(std::string& out, char c) {
  switch (c) {
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    default:
      out += fmt::format("\\u{:04x}", static_cast<unsigned char>(c));
      break;
  }
}

bool comma_before_closer(std::string_view value, size_t comma) {
  size_t next = comma + 1;
  while (next < value.size() && is_space(value[next])) {
    ++next;
  }
  return next < value.size() && (value[next] == '}' || value[next] == ']');
}

// Appends one string character of a value being repaired. `quote` is the string's delimiter.
void append_string_char(std::string& out, std::string_view value, size_t& i, char quote) {
  const char c = value[i];
  if (c == '\\' && i + 1 < value.size()) {
    const char next = value[++i];
    if (next == '\'' && quote == '\'') {
      out += '\'';
    } else {
      out += c;
      out += next;
    }
  } else if (static_cast<unsigned char>(c) < 0x20) {
    append_escaped_control(out, c);
  } else if (c == '"' && quote == '\'') {
    out += "\\\"";
  } else {
    out += c;
  }
}

// Rewrites a balanced value: single-quoted strings become double-quoted, raw control
// characters inside strings are escaped and trailing commas are removed.
std::string repair_value(std::string_view value) {
  std::string out;
  out.reserve(value.size() + 16);
  char quote = 0;
  char last_significant = 0;
  for (size_t i = 0; i < value.size(); ++i) {
    const char c = value[i];
    if (quote != 0) {
      if (c == quote) {
        out += '"';
        quote = 0;
        last_significant = '"';
      } else {
        append_string_char(out, value, i, quote);
      }
      continue;
    }
    if (c == '"' || (c == '\'' && opens_value(last_significant))) {
      quote = c;
      out += '"';
    } else if (c == ',' && comma_before_closer(value, i)) {
      continue;
    } else {
      out += c;
    }
    if (!is_space(c)) {
      last_significant = c;
    }
  }
  return out;
}

// Returns the offset where the search for a value starts: after any `<think>` sections that
// come before the first bracket, and after a lone `</think>`.
Result<size_t> skip_thinking(std::string_view text) {
  size_t pos = 0;
  const size_t first_open = text.find(kThinkOpen);
  const size_t first_close = text.find(kThinkClose);
  if (first_close != kNone && (first_open == kNone || first_close < first_open)) {
    pos = first_close + kThinkClose.size();
  }
  while (true) {
    const size_t bracket = text.find_first_of("{[", pos);
    const size_t think = text.find(kThinkOpen, pos);
    if (think == kNone || (bracket != kNone && bracket < think)) {
      return pos;
    }
    const size_t close = text.find(kThinkClose, think);
    if (close == kNone) {
      return Status(ErrorCode::kTruncated,
                    fmt::format("the reply ends inside the <think> section opened at {}: the "
                                "output was probably cut by the token limit; raise num_predict",
                                describe_position(text, think)));
    }
    pos = close + kThinkClose.size();
  }
}

Status describe_scan_error(std::string_view text, size_t start, const Scan& scan, bool lenient) {
  if (scan.mismatch != kNone) {
    return Status(
        ErrorCode::kParseError,
        fmt::format("mismatched '{}' at {} in the JSON value starting at {}", text[scan.mismatch],
                    describe_position(text, scan.mismatch), describe_position(text, start)));
  }
  if (scan.truncated) {
    const std::string where = scan.in_string_at_end ? std::string("inside a string")
                                                    : fmt::format("with {} bracket(s) still open",
                                                                  scan.open_brackets_at_end);
    return Status(ErrorCode::kTruncated,
                  fmt::format("the JSON value starting at {} is not closed: the reply ends {}; "
                              "the output was probably cut by the token limit, so raise "
                              "num_predict or request less output",
                              describe_position(text, start), where));
  }
  if (lenient) {
    return Status::ok();
  }
  if (scan.single_quote != kNone && scan.single_quote < scan.control_char) {
    return Status(ErrorCode::kParseError,
                  fmt::format("single quotes at {}: JSON keys and strings need double quotes "
                              "(lenient parsing repairs this)",
                              describe_position(text, scan.single_quote)));
  }
  if (scan.control_char != kNone) {
    return Status(ErrorCode::kParseError,
                  fmt::format("raw control character at {} (U+{:04X}) inside a string: JSON "
                              "needs it escaped, e.g. \\n (lenient parsing repairs this)",
                              describe_position(text, scan.control_char),
                              static_cast<unsigned char>(text[scan.control_char])));
  }
  return Status::ok();
}

// Drops the "[json.exception...] parse error at line 1, column 5: " prefix of a message.
std::string parse_error_detail(const json::parse_error& error) {
  const std::string what = error.what();
  const size_t colon = what.find(": ");
  return colon == std::string::npos ? what : what.substr(colon + 2);
}

Result<json> parse_candidate(std::string_view text, size_t start, const Scan& scan, bool lenient) {
  if (Status status = describe_scan_error(text, start, scan, lenient); !status.is_ok()) {
    return status;
  }
  const std::string_view value = text.substr(start, scan.end - start);
  if (const std::optional<size_t> deep = json_too_deep_offset(value)) {
    return Status(ErrorCode::kParseError,
                  fmt::format("the JSON value nests deeper than {} levels at {}; reply with the "
                              "object the schema describes",
                              kMaxJsonDepth, describe_position(text, start + *deep)));
  }
  const bool repaired = lenient;
  const std::string input = repaired ? repair_value(value) : std::string(value);
  try {
    return json::parse(input);
  } catch (const json::parse_error& error) {
    // error.byte counts from 1 and indexes `input`, which matches `text` unless repaired.
    const size_t offset = start + (error.byte > 0 ? error.byte - 1 : 0);
    const std::string where = repaired ? fmt::format(
                                             "after lenient repair of the value "
                                             "starting at {}",
                                             describe_position(text, start))
                                       : fmt::format("at {}", describe_position(text, offset));
    return Status(ErrorCode::kParseError,
                  fmt::format("invalid JSON {}: {}", where, parse_error_detail(error)));
  } catch (const json::exception& error) {
    // out_of_range: a number too large for a double, such as 1e999.
    return Status(ErrorCode::kParseError,
                  fmt::format("invalid JSON in the value starting at {}: {}",
                              describe_position(text, start), json_exception_cause(error)));
  }
}

}  // namespace

Result<json> extract_json(std::string_view text, bool lenient) {
  Result<size_t> search_start = skip_thinking(text);
  if (!search_start.is_ok()) {
    return search_start.status();
  }
  Status first_error;
  size_t pos = *search_start;
  while (true) {
    const size_t candidate = text.find_first_of("{[", pos);
    if (candidate == kNone) {
      break;
    }
    const Scan scan = scan_value(text, candidate);
    Result<json> parsed = parse_candidate(text, candidate, scan, lenient);
    const ErrorCode code = parsed.status().code();
    // A truncated or mismatched value ends the search, because a later candidate would be a
    // fragment nested inside it.
    if (parsed.is_ok() || code == ErrorCode::kTruncated || scan.mismatch != kNone) {
      return parsed;
    }
    if (first_error.is_ok()) {
      first_error = parsed.status();
    }
    pos = scan.end;
  }
  if (!first_error.is_ok()) {
    return first_error;
  }
  if (text.find_first_not_of(" \t\r\n", *search_start) == kNone) {
    return Status(ErrorCode::kParseError, "the reply is empty: expected a JSON object or array");
  }
  return Status(ErrorCode::kParseError, fmt::format("no JSON object or array in the reply: \"{}\"",
                                                    preview(text.substr(*search_start))));
}

}  // namespace ollamaflow::llm
