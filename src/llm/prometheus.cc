#include "llm/prometheus.h"

#include <cctype>
#include <cerrno>
#include <cstdlib>

#include <fmt/format.h>

namespace ollamaflow::llm {
namespace {

constexpr size_t kMaxQuotedLine = 120;  // characters of a bad line quoted in the error

bool is_name_start(char c) {
  return std::isalpha(static_cast<unsigned char>(c)) != 0 || c == '_' || c == ':';
}

bool is_name_char(char c) {
  return is_name_start(c) || std::isdigit(static_cast<unsigned char>(c)) != 0;
}

std::string_view trim(std::string_view text) {
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.front())) != 0) {
    text.remove_prefix(1);
  }
  while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())) != 0) {
    text.remove_suffix(1);
  }
  return text;
}

// Returns the end of the label set that starts at text[open] == '{', skipping quoted values
// (which may contain '}', spaces and backslash escapes); npos when it is not closed.
size_t label_set_end(std::string_view text, size_t open) {
  bool quoted = false;
  for (size_t i = open + 1; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted && c == '\\') {
      ++i;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (!quoted && c == '}') {
      return i + 1;
    }
  }
  return std::string_view::npos;
}

// Parses a sample value: a decimal or exponent number, NaN, +Inf or -Inf.
std::optional<double> parse_value(std::string_view token) {
  if (token.empty()) {
    return std::nullopt;
  }
  const std::string text(token);
  errno = 0;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno == ERANGE) {
    return std::nullopt;
  }
  // strtod also reads hexadecimal numbers, which the format does not allow.
  if (text.find_first_of("xX") != std::string::npos) {
    return std::nullopt;
  }
  return value;
}

// Parses one sample line into series and value; an error message otherwise.
std::optional<std::string> parse_sample(std::string_view line, PrometheusSamples& samples) {
  size_t pos = 0;
  if (!is_name_start(line[0])) {
    return "the metric name must start with a letter, '_' or ':'";
  }
  while (pos < line.size() && is_name_char(line[pos])) {
    ++pos;
  }
  if (pos < line.size() && line[pos] == '{') {
    pos = label_set_end(line, pos);
    if (pos == std::string_view::npos) {
      return "the label set is not closed with '}'";
    }
  }
  const std::string_view series = line.substr(0, pos);
  std::string_view rest = trim(line.substr(pos));
  if (rest.size() == line.size() - pos && !rest.empty()) {
    return "a space must separate the series from its value";
  }
  const size_t space = rest.find_first_of(" \t");
  const std::string_view value_text = rest.substr(0, space);
  if (space != std::string_view::npos) {
    const std::string_view timestamp = trim(rest.substr(space));
    if (!parse_value(timestamp)) {
      return fmt::format("invalid timestamp '{}'", timestamp);
    }
  }
  const std::optional<double> value = parse_value(value_text);
  if (!value) {
    return value_text.empty() ? std::string("the value is missing")
                              : fmt::format("invalid value '{}'", value_text);
  }
  samples.insert_or_assign(std::string(series), *value);
  return std::nullopt;
}

}  // namespace

Result<PrometheusSamples> parse_prometheus_text(std::string_view text) {
  PrometheusSamples samples;
  size_t line_number = 0;
  while (!text.empty()) {
    ++line_number;
    const size_t newline = text.find('\n');
    const std::string_view raw = text.substr(0, newline);
    text = newline == std::string_view::npos ? std::string_view() : text.substr(newline + 1);
    const std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') {
      continue;
    }
    if (std::optional<std::string> error = parse_sample(line, samples)) {
      return Status(ErrorCode::kParseError,
                    fmt::format("metrics line {} is not a Prometheus sample ({}): '{}'",
                                line_number, *error, line.substr(0, kMaxQuotedLine)));
    }
  }
  return samples;
}

std::optional<double> find_sample(const PrometheusSamples& samples, std::string_view series) {
  const auto it = samples.find(series);
  if (it == samples.end()) {
    return std::nullopt;
  }
  return it->second;
}

}  // namespace ollamaflow::llm
