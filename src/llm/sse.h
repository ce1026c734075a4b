// Incremental parser for server-sent events (text/event-stream), as OpenAI-compatible servers
// stream /v1/chat/completions replies.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/status.h"

namespace ollamaflow::llm {

// One dispatched event.
struct SseEvent {
  std::string type = "message";  // the "event:" field, "message" when absent
  std::string data;              // "data:" lines joined with "\n"
  std::string id;                // the last "id:" seen so far in the stream
  std::optional<int> retry_ms;   // the "retry:" field of this event, when valid
  // The dialect the event came in: kField for the standard fields, kErrorField for a bare
  // "error: {...}" line, kRawJson for a JSON line sent without "data:".
  enum class Source { kField, kErrorField, kRawJson };
  Source source = Source::kField;

  // Returns true for the "[DONE]" sentinel that ends OpenAI-style streams.
  bool is_done() const { return data == "[DONE]"; }
};

// Parses the event stream format of the HTML standard (section 9.2, "Server-sent events").
// Lines end in CRLF, LF or CR, and a line starting with ':' is a comment. A field line is
// "name: value" with one optional space after the colon. "data" lines accumulate until a blank
// line dispatches the event, and an event without data is not dispatched. A leading UTF-8 byte
// order mark is skipped. A read may end anywhere, even between CR and LF.
//
// Two non-standard dialects seen from real servers are also accepted:
// - "error: {...}": an "error" field (llama-server builds of 2025 sent this). It dispatches an
//   event of type "error" with the value as data; the standard would drop the line.
// - A line starting with '{' or '[': JSON forwarded without "data:" (by proxies that copy a
//   backend's error body). It dispatches at once as a "message" event with that line as data.
//   NOTE: such a body must fit on one line; a pretty-printed one is not reassembled.
//
// Not thread-safe: one parser belongs to one stream. After a handler returns an error, discard
// the parser.
class SseParser {
 public:
  using EventHandler = std::function<Status(const SseEvent& event)>;

  static constexpr size_t kDefaultMaxLineBytes = 64 << 20;

  explicit SseParser(size_t max_line_bytes = kDefaultMaxLineBytes)
      : max_line_bytes_(max_line_bytes) {}

  // Appends `bytes` and calls `on_event` for each event that is now complete. Stops at and
  // returns the first error from `on_event`; returns kParseError for a line over the maximum.
  Status feed(std::string_view bytes, const EventHandler& on_event);

  // Ends the stream. Unlike the standard, which drops an event that no blank line ended, this
  // dispatches it, because servers that close right after the last data line would lose it.
  Status finish(const EventHandler& on_event);

  // Comment lines seen so far (keep-alive pings).
  size_t comments() const { return comments_; }

 private:
  Status process_line(std::string_view line, const EventHandler& on_event);
  Status process_field(std::string_view name, std::string_view value);
  Status dispatch(const EventHandler& on_event);

  size_t max_line_bytes_;
  std::string line_;
  bool after_cr_ = false;         // the last byte was CR, so a leading LF ends nothing
  size_t bom_bytes_checked_ = 0;  // bytes of the stream start compared with the byte order mark
  SseEvent pending_;
  bool has_data_ = false;
  std::string last_id_;
  size_t comments_ = 0;
};

}  // namespace ollamaflow::llm
