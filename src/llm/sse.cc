#include "llm/sse.h"

#include <charconv>

#include <fmt/format.h>

namespace ollamaflow::llm {

namespace {

constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

}  // namespace

Status SseParser::feed(std::string_view bytes, const EventHandler& on_event) {
  // The byte order mark may itself be split over reads, so it is matched one byte at a time.
  while (bom_bytes_checked_ < kByteOrderMark.size() && !bytes.empty()) {
    if (bytes.front() != kByteOrderMark[bom_bytes_checked_]) {
      if (bom_bytes_checked_ > 0) {
        line_.append(kByteOrderMark.substr(0, bom_bytes_checked_));
      }
      bom_bytes_checked_ = kByteOrderMark.size();
      break;
    }
    bytes.remove_prefix(1);
    ++bom_bytes_checked_;
  }
  size_t pos = 0;
  if (after_cr_ && !bytes.empty() && bytes.front() == '\n') {
    pos = 1;
  }
  after_cr_ = false;
  while (pos < bytes.size()) {
    const size_t end = bytes.find_first_of("\r\n", pos);
    if (end == std::string_view::npos) {
      break;
    }
    Status status;
    if (line_.empty()) {
      status = process_line(bytes.substr(pos, end - pos), on_event);
    } else {
      line_.append(bytes.substr(pos, end - pos));
      status = process_line(line_, on_event);
      line_.clear();
    }
    if (!status.is_ok()) {
      return status;
    }
    pos = end + 1;
    if (bytes[end] == '\r') {
      if (pos == bytes.size()) {
        after_cr_ = true;
      } else if (bytes[pos] == '\n') {
        ++pos;
      }
    }
  }
  line_.append(bytes.substr(pos));
  if (line_.size() > max_line_bytes_) {
    return Status(ErrorCode::kParseError,
                  fmt::format("event stream line is longer than {} bytes without a line end: "
                              "the server does not send server-sent events",
                              max_line_bytes_));
  }
  return Status::ok();
}

Status SseParser::finish(const EventHandler& on_event) {
  if (!line_.empty()) {
    std::string last;
    last.swap(line_);
    if (Status status = process_line(last, on_event); !status.is_ok()) {
      return status;
    }
  }
  return dispatch(on_event);
}

Status SseParser::process_line(std::string_view line, const EventHandler& on_event) {
  if (line.empty()) {
    return dispatch(on_event);
  }
  if (line.front() == ':') {
    ++comments_;
    return Status::ok();
  }
  if (line.front() == '{' || line.front() == '[') {
    if (Status status = dispatch(on_event); !status.is_ok()) {
      return status;
    }
    pending_.data = std::string(line);
    pending_.source = SseEvent::Source::kRawJson;
    has_data_ = true;
    return dispatch(on_event);
  }
  const size_t colon = line.find(':');
  std::string_view name = line.substr(0, colon);
  std::string_view value;
  if (colon != std::string_view::npos) {
    value = line.substr(colon + 1);
    if (!value.empty() && value.front() == ' ') {
      value.remove_prefix(1);
    }
  }
  return process_field(name, value);
}

Status SseParser::process_field(std::string_view name, std::string_view value) {
  if (name == "data" || name == "error") {
    if (has_data_) {
      pending_.data += '\n';
    }
    pending_.data.append(value);
    has_data_ = true;
    if (name == "error") {
      pending_.type = "error";
      pending_.source = SseEvent::Source::kErrorField;
    }
  } else if (name == "event") {
    pending_.type = std::string(value);
  } else if (name == "id") {
    if (value.find('\0') == std::string_view::npos) {
      last_id_ = std::string(value);
    }
  } else if (name == "retry") {
    int retry = 0;
    const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), retry);
    if (error == std::errc() && end == value.data() + value.size() && !value.empty()) {
      pending_.retry_ms = retry;
    }
  }
  // The standard ignores every other field name.
  return Status::ok();
}

Status SseParser::dispatch(const EventHandler& on_event) {
  if (!has_data_) {
    // A blank line without data resets the event type, as the standard requires.
    pending_ = SseEvent();
    return Status::ok();
  }
  SseEvent event = std::move(pending_);
  pending_ = SseEvent();
  has_data_ = false;
  event.id = last_id_;
  if (event.type.empty()) {
    event.type = "message";
  }
  return on_event(event);
}

}  // namespace ollamaflow::llm
