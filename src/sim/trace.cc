#include "sim/trace.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "core/file_read.h"

namespace ollamaflow::sim {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front()))) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back()))) {
    text.remove_suffix(1);
  }
  return text;
}

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t begin = 0;
  for (;;) {
    const size_t comma = line.find(',', begin);
    fields.push_back(trim(line.substr(begin, comma - begin)));
    if (comma == std::string_view::npos) {
      return fields;
    }
    begin = comma + 1;
  }
}

bool parse_double(std::string_view text, double& value) {
  // std::from_chars for double is available in GCC 11 and later.
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value);
}

bool parse_int(std::string_view text, int& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && value >= 0;
}

int days_from_civil(int year, int month, int day) {
  // Days since 1970-01-01 in the proleptic Gregorian calendar (Howard Hinnant's algorithm).
  year -= month <= 2 ? 1 : 0;
  const int era = (year >= 0 ? year : year - 399) / 400;
  const int yoe = year - era * 400;
  const int doy = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1;
  const int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

// The fields of a timestamp "YYYY-MM-DD HH:MM:SS[.fraction]", not yet checked against the
// calendar.
struct TimestampFields {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;
  int minute = 0;
  double second = 0;
};

// Splits `text` into the fields of a timestamp. Returns false when it does not have that layout.
// A date such as February 30 passes here and fails calendar_problem().
bool split_timestamp(std::string_view text, TimestampFields& fields) {
  if (text.size() < 19 || text[4] != '-' || text[7] != '-' ||
      (text[10] != ' ' && text[10] != 'T') || text[13] != ':' || text[16] != ':') {
    return false;
  }
  return parse_int(text.substr(0, 4), fields.year) && parse_int(text.substr(5, 2), fields.month) &&
         parse_int(text.substr(8, 2), fields.day) && parse_int(text.substr(11, 2), fields.hour) &&
         parse_int(text.substr(14, 2), fields.minute) &&
         parse_double(text.substr(17), fields.second);
}

bool is_leap_year(int year) {
  return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
}

// Returns the days of `month` (1 to 12) in the proleptic Gregorian calendar.
int days_in_month(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && is_leap_year(year) ? 29 : kDays[month - 1];
}

// Returns why `fields` name no moment in the calendar, such as "February 2023 has 28 days", or
// nullopt when they do. A second of 60 is accepted for a leap second.
std::optional<std::string> calendar_problem(const TimestampFields& fields) {
  static constexpr std::string_view kMonthNames[] = {
      "January", "February", "March",     "April",   "May",      "June",
      "July",    "August",   "September", "October", "November", "December"};
  if (fields.month < 1 || fields.month > 12) {
    return fmt::format("month {} is outside 1 to 12", fields.month);
  }
  const int days = days_in_month(fields.year, fields.month);
  if (fields.day > days) {
    return fmt::format("{} {} has {} days", kMonthNames[fields.month - 1], fields.year, days);
  }
  if (fields.day < 1) {
    return fmt::format("day {} is outside 1 to {}", fields.day, days);
  }
  if (fields.hour > 23) {
    return fmt::format("hour {} is outside 0 to 23", fields.hour);
  }
  if (fields.minute > 59) {
    return fmt::format("minute {} is outside 0 to 59", fields.minute);
  }
  if (fields.second >= 61) {
    return fmt::format("second {:g} is not below 61", fields.second);
  }
  return std::nullopt;
}

// Returns the seconds since 1970 (UTC, no zone handling) of a timestamp that passed
// calendar_problem().
double seconds_since_epoch(const TimestampFields& fields) {
  return days_from_civil(fields.year, fields.month, fields.day) * 86400.0 + fields.hour * 3600.0 +
         fields.minute * 60.0 + fields.second;
}

// Maximum bytes of file text that an error message shows.
constexpr size_t kMaxExcerpt = 40;

// Returns `text` cut to kMaxExcerpt bytes, in double quotes, with quotes, backslashes and bytes
// outside printable ASCII escaped (\xNN), so that a binary file cannot garble the terminal.
std::string excerpt(std::string_view text) {
  std::string out = "\"";
  for (size_t i = 0; i < text.size() && i < kMaxExcerpt; ++i) {
    const unsigned char c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  out += '"';
  if (text.size() > kMaxExcerpt) {
    out += fmt::format(" (first {} of {} bytes)", kMaxExcerpt, text.size());
  }
  return out;
}

enum class Format { kSeconds, kAzure };

Result<Format> header_format(std::string_view header, const std::string& name) {
  const std::vector<std::string_view> fields = split(header);
  std::vector<std::string> names;
  for (std::string_view field : fields) {
    names.push_back(lower(field));
  }
  if (names == std::vector<std::string>{"arrival_s", "prompt_tokens", "output_tokens"}) {
    return Format::kSeconds;
  }
  if (names == std::vector<std::string>{"timestamp", "contexttokens", "generatedtokens"}) {
    return Format::kAzure;
  }
  return Status(ErrorCode::kParseError, fmt::format("trace {}: line 1: unknown header {}: expected "
                                                    "\"arrival_s,prompt_tokens,output_tokens\" or "
                                                    "\"TIMESTAMP,ContextTokens,GeneratedTokens\"",
                                                    name, excerpt(header)));
}

Status row_error(const std::string& name, size_t line, int column, std::string_view value,
                 std::string_view expected) {
  return Status(ErrorCode::kParseError,
                fmt::format("trace {}: line {} column {}: invalid value {}: expected {}", name,
                            line, column, excerpt(value), expected));
}

// Reads the arrival time in column 1 of a row into `arrival_s`. Returns kParseError naming the
// line and the value for a value that is not a number of seconds or not a timestamp, and for a
// timestamp outside the calendar, such as February 30.
Status read_arrival(std::string_view text, Format format, const std::string& name, size_t line,
                    double& arrival_s) {
  if (format == Format::kSeconds) {
    return parse_double(text, arrival_s) ? Status::ok() : row_error(name, line, 1, text, "seconds");
  }
  TimestampFields fields;
  if (!split_timestamp(text, fields)) {
    return row_error(name, line, 1, text, "YYYY-MM-DD HH:MM:SS.fraction");
  }
  if (std::optional<std::string> problem = calendar_problem(fields)) {
    return Status(ErrorCode::kParseError,
                  fmt::format("trace {}: line {} column 1: TIMESTAMP {} is not a valid time, "
                              "because {}: correct or drop that row",
                              name, line, excerpt(text), *problem));
  }
  arrival_s = seconds_since_epoch(fields);
  return Status::ok();
}

// Largest prompt of one trace request: the largest context (server.num_ctx) that a run accepts.
constexpr int64_t kMaxPromptTokens = 4194304;
// Largest output of one trace request: the largest output limit (server.num_predict) that a run
// accepts.
constexpr int64_t kMaxOutputTokens = 1048576;

// Reads the token count in column `column` (1-based) of a row into `tokens`. Returns kParseError
// naming the line, the column, the value and the limit for a value that is not a whole number
// from 0 to `max_tokens`.
Status read_tokens(std::string_view text, const std::string& name, size_t line, int column,
                   std::string_view column_name, int64_t max_tokens, int& tokens) {
  int64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  const bool whole_number = error == std::errc() && end == text.data() + text.size();
  if (whole_number && value > max_tokens) {
    return Status(ErrorCode::kParseError,
                  fmt::format("trace {}: line {} column {}: {} {} is above the limit of {} "
                              "tokens per request: fix or drop that row",
                              name, line, column, column_name, value, max_tokens));
  }
  if (!whole_number || value < 0) {
    return row_error(name, line, column, text,
                     fmt::format("a token count from 0 to {}", max_tokens));
  }
  tokens = static_cast<int>(value);
  return Status::ok();
}

// Largest trace file. Week-long public traces, such as the Azure LLM inference traces, take
// hundreds of MiB.
constexpr uint64_t kMaxTraceBytes = uint64_t{1} << 30;
// Maximum length of a trace line in bytes. A row contains a time and two token counts, so a
// longer line means that the file is not a trace.
constexpr size_t kMaxLineBytes = 4096;
// UTF-8 byte order mark, which some spreadsheet programs write at the start of a CSV file.
constexpr std::string_view kByteOrderMark = "\xEF\xBB\xBF";

// Reads the lines of a trace from a stream, at most kMaxLineBytes per line and `max_bytes` in
// all, so that a file without line breaks or an endless device cannot exhaust memory.
class LineReader {
 public:
  LineReader(std::istream& input, const std::string& name, uint64_t max_bytes)
      : input_(*input.rdbuf()), name_(name), max_bytes_(max_bytes) {}

  // Reads the next line into `line`, without its line break. Returns false at the end of the
  // input, and kParseError for a line or an input over its limit.
  Result<bool> next(std::string& line) {
    line.clear();
    ++number_;
    for (;;) {
      const int c = input_.sbumpc();
      if (c == std::char_traits<char>::eof()) {
        return !line.empty();
      }
      if (++bytes_ > max_bytes_) {
        return Status(ErrorCode::kParseError,
                      fmt::format("trace {} gives more than the limit of {}: pass a regular "
                                  "file of at most that size",
                                  name_, format_byte_size(max_bytes_)));
      }
      if (c == '\n') {
        return true;
      }
      if (line.size() == kMaxLineBytes) {
        return Status(ErrorCode::kParseError,
                      fmt::format("trace {}: line {} is longer than the limit of {} bytes: a row "
                                  "contains a time and two token counts, so check that the file is "
                                  "a CSV trace",
                                  name_, number_, kMaxLineBytes));
      }
      line += static_cast<char>(c);
    }
  }

 private:
  std::streambuf& input_;
  const std::string& name_;
  uint64_t max_bytes_;
  uint64_t bytes_ = 0;
  size_t number_ = 0;
};

// Parses the trace that `input` gives, as parse_trace_csv() describes.
Result<Trace> parse_trace_stream(std::istream& input, const std::string& name, double rate_scale,
                                 double duration_s, uint64_t max_bytes) {
  if (!(rate_scale > 0) || !std::isfinite(rate_scale)) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("rate scale {} is invalid: use a positive number", rate_scale));
  }
  LineReader lines(input, name, max_bytes);
  std::string line;
  Result<bool> header = lines.next(line);
  if (!header) {
    return header.status();
  }
  if (!*header) {
    return Status(ErrorCode::kParseError, fmt::format("trace {} is empty: add a header row", name));
  }
  if (std::string_view(line).substr(0, kByteOrderMark.size()) == kByteOrderMark) {
    line.erase(0, kByteOrderMark.size());
  }
  Result<Format> format = header_format(trim(line), name);
  if (!format) {
    return format.status();
  }
  Trace trace;
  trace.name = name;
  size_t line_number = 1;
  size_t unsorted_rows = 0;
  size_t first_unsorted_line = 0;
  for (;;) {
    Result<bool> more = lines.next(line);
    if (!more) {
      return more.status();
    }
    if (!*more) {
      break;
    }
    ++line_number;
    if (trim(line).empty()) {
      continue;
    }
    const std::vector<std::string_view> fields = split(line);
    if (fields.size() != 3) {
      return Status(ErrorCode::kParseError,
                    fmt::format("trace {}: line {}: {} field{}, expected 3", name, line_number,
                                fields.size(), fields.size() == 1 ? "" : "s"));
    }
    Request request;
    if (Status arrival = read_arrival(fields[0], *format, name, line_number, request.arrival_s);
        !arrival) {
      return arrival;
    }
    const bool azure = *format == Format::kAzure;
    if (Status prompt =
            read_tokens(fields[1], name, line_number, 2, azure ? "ContextTokens" : "prompt_tokens",
                        kMaxPromptTokens, request.prompt_tokens);
        !prompt) {
      return prompt;
    }
    if (Status output = read_tokens(fields[2], name, line_number, 3,
                                    azure ? "GeneratedTokens" : "output_tokens", kMaxOutputTokens,
                                    request.output_tokens);
        !output) {
      return output;
    }
    if (!trace.requests.empty() && request.arrival_s < trace.requests.back().arrival_s) {
      ++unsorted_rows;
      first_unsorted_line = first_unsorted_line == 0 ? line_number : first_unsorted_line;
    }
    if (trace.requests.size() == kMaxTraceRequests) {
      return Status(ErrorCode::kParseError,
                    fmt::format("trace {}: line {}: more than the limit of {} requests: cut the "
                                "trace to the span to simulate",
                                name, line_number, kMaxTraceRequests));
    }
    trace.requests.push_back(request);
  }
  if (trace.requests.empty()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("trace {} has no requests: add rows after the header", name));
  }
  std::stable_sort(trace.requests.begin(), trace.requests.end(),
                   [](const Request& a, const Request& b) { return a.arrival_s < b.arrival_s; });
  const double first = trace.requests.front().arrival_s;
  for (Request& request : trace.requests) {
    request.arrival_s = (request.arrival_s - first) / rate_scale;
  }
  size_t after_duration = 0;
  if (duration_s > 0) {
    const auto end = std::lower_bound(
        trace.requests.begin(), trace.requests.end(), duration_s,
        [](const Request& request, double limit) { return request.arrival_s < limit; });
    after_duration = static_cast<size_t>(trace.requests.end() - end);
    trace.requests.erase(end, trace.requests.end());
    trace.duration_s = duration_s;
  } else {
    trace.duration_s = trace.requests.back().arrival_s + 1;
  }
  trace.description =
      fmt::format("{}: {} request{}, arrival rate scaled by {}", name, trace.requests.size(),
                  trace.requests.size() == 1 ? "" : "s", rate_scale);
  if (after_duration > 0) {
    trace.description += fmt::format("; {} row{} at or after --duration {:g} s left out",
                                     after_duration, after_duration == 1 ? "" : "s", duration_s);
  }
  if (unsorted_rows > 0) {
    trace.description += fmt::format(
        "; sorted by arrival time, because {} row{} arrived earlier than the row above, the "
        "first at line {}",
        unsorted_rows, unsorted_rows == 1 ? "" : "s", first_unsorted_line);
  }
  return trace;
}

}  // namespace

Result<Trace> parse_trace_csv(std::string_view text, const std::string& name, double rate_scale,
                              double duration_s) {
  std::istringstream input{std::string(text)};
  return parse_trace_stream(input, name, rate_scale, duration_s, kMaxTraceBytes);
}

Result<Trace> load_trace_csv(const std::string& path, double rate_scale, double duration_s) {
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (status.type() == std::filesystem::file_type::directory) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("trace {} is a folder, expected a CSV file: pass the path of a "
                              "trace file",
                              path));
  }
  const bool regular = status.type() == std::filesystem::file_type::regular;
  if (regular) {
    const uintmax_t size = std::filesystem::file_size(path, error);
    if (!error && size > kMaxTraceBytes) {
      return Status(ErrorCode::kInvalidArgument,
                    fmt::format("trace file {} is {}, more than the limit of {}: cut it to the "
                                "span to simulate",
                                path, format_byte_size(size), format_byte_size(kMaxTraceBytes)));
    }
  }
  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Status(ErrorCode::kNotFound,
                  fmt::format("trace file {} not found or not readable: check the path", path));
  }
  const size_t slash = path.find_last_of('/');
  const std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
  Result<Trace> trace = parse_trace_stream(file, name, rate_scale, duration_s, kMaxTraceBytes);
  if (trace) {
    return trace;
  }
  // The file name describes a loaded trace, but an error names the path as given, which is what
  // the user has to fix: "trace /dev/zero: line 1 ..." rather than "trace zero: line 1 ...".
  std::string message = trace.status().message();
  const std::string named = "trace " + name;
  if (message.rfind(named, 0) == 0) {
    message = "trace " + path + message.substr(named.size());
  }
  if (!regular && trace.status().code() == ErrorCode::kParseError) {
    // A FIFO or a device such as /dev/zero is rarely a trace, so the message names the file type.
    message += " (" + path + " is not a regular file)";
  }
  return Status(trace.status().code(), message);
}

}  // namespace ollamaflow::sim
