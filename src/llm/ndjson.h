// Incremental reader for newline-delimited JSON, as Ollama streams /api/chat replies.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "core/status.h"

namespace ollamaflow::llm {

// Splits a byte stream into lines, buffering a line that a read ended inside. A read may end
// anywhere, even inside a UTF-8 sequence, and may hold several lines. Lines are delivered
// without the "\n" and without a trailing "\r"; blank lines are skipped.
//
// Not thread-safe: one reader belongs to one stream. After a handler or the reader returns an
// error, discard the reader.
class NdjsonReader {
 public:
  using LineHandler = std::function<Status(std::string_view line)>;
  using ObjectHandler = std::function<Status(nlohmann::json&& object)>;

  static constexpr size_t kDefaultMaxLineBytes = 64 << 20;

  explicit NdjsonReader(size_t max_line_bytes = kDefaultMaxLineBytes)
      : max_line_bytes_(max_line_bytes) {}

  // Appends `bytes` and calls `on_line` for each line that is now complete. Stops at and
  // returns the first error from `on_line`. Returns kParseError when a line grows past the
  // maximum line size.
  Status feed(std::string_view bytes, const LineHandler& on_line);

  // Like feed(), but parses each line as JSON. A line that is not valid JSON is kParseError
  // naming the line number and the parser's message.
  Status feed_objects(std::string_view bytes, const ObjectHandler& on_object);

  // Ends the stream. Returns kTruncated when a partial line is left over, since the stream
  // ended in the middle of a line.
  Status finish() const;

  // Ends the stream of lines. A left-over line for which `complete` returns true goes to
  // `on_line`, because some servers omit the last newline; any other left-over text is
  // kTruncated.
  Status finish_lines(const std::function<bool(std::string_view line)>& complete,
                      const LineHandler& on_line);

  // Ends the stream of objects. A left-over line that is one complete JSON value is delivered,
  // because some servers omit the last newline; any other left-over text is kTruncated.
  Status finish_objects(const ObjectHandler& on_object);

  // Complete lines delivered so far, blank lines included.
  size_t lines_read() const { return lines_read_; }
  // The buffered partial line.
  std::string_view pending() const { return buffer_; }

 private:
  Status deliver(std::string_view line, const LineHandler& on_line);
  Status check_size(size_t size) const;

  size_t max_line_bytes_;
  std::string buffer_;
  size_t lines_read_ = 0;
};

// Parses one NDJSON line. `line_number` counts from 1 and only labels the error message.
Result<nlohmann::json> parse_ndjson_line(std::string_view line, size_t line_number);

}  // namespace ollamaflow::llm
