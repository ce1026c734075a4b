#include "llm/server_errors.h"

#include <algorithm>
#include <cctype>
#include <regex>

#include <fmt/format.h>

#include "llm/http.h"

namespace ollamaflow::llm {
namespace {

std::string lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

bool mentions_context_overflow(std::string_view message) {
  const std::string text = lower(message);
  if (contains(text, "exceed_context_size") || contains(text, "context window")) {
    return true;
  }
  const bool context = contains(text, "context");
  return context && (contains(text, "exceed") || contains(text, "too long") ||
                     contains(text, "too large") || contains(text, "overflow"));
}

bool mentions_unsupported_schema(std::string_view message) {
  const std::string text = lower(message);
  return contains(text, "grammar error") || contains(text, "not supported by xgrammar") ||
         contains(text, "unimplemented keys") || contains(text, "failed to parse grammar") ||
         contains(text, "json_schema_to_grammar");
}

std::vector<std::string> unsupported_keywords_in(std::string_view message) {
  std::vector<std::string> keywords;
  const std::string text(message);
  static const std::regex kKeys(R"(Unimplemented keys:\s*\[([^\]]*)\])", std::regex::icase);
  static const std::regex kQuoted(R"re("([A-Za-z$]+)")re");
  std::smatch keys;
  if (std::regex_search(text, keys, kKeys)) {
    const std::string list = keys[1].str();
    for (auto it = std::sregex_iterator(list.begin(), list.end(), kQuoted);
         it != std::sregex_iterator(); ++it) {
      keywords.push_back((*it)[1].str());
    }
  }
  static const std::regex kFormat(R"(Unknown format)", std::regex::icase);
  if (std::regex_search(text, kFormat)) {
    keywords.push_back("format");
  }
  return keywords;
}

Status chat_http_error(int http_status, const std::string& server_text, const std::string& url) {
  const std::string detail = fmt::format("{} returned HTTP {}: {}", url, http_status, server_text);
  if (mentions_context_overflow(server_text)) {
    return Status(ErrorCode::kContextOverflow, detail + " (shorten the prompt or raise num_ctx)");
  }
  if (mentions_unsupported_schema(server_text)) {
    return Status(ErrorCode::kSchemaUnsupported,
                  detail + " (the server cannot compile the JSON schema into a grammar)");
  }
  return Status(error_code_for_http_status(http_status), detail);
}

Status stream_error(const std::string& server_text, const std::string& type, int code,
                    const std::string& url) {
  const std::string detail = fmt::format("{} reported an error inside the stream: {}", url,
                                         server_text.empty() ? type : server_text);
  if (mentions_context_overflow(server_text) || mentions_context_overflow(type)) {
    return Status(ErrorCode::kContextOverflow, detail + " (shorten the prompt or raise num_ctx)");
  }
  if (type == "GatewayTimeout" || code == 504 || code == 408) {
    return Status(ErrorCode::kTimeout, detail);
  }
  if (mentions_unsupported_schema(server_text)) {
    return Status(ErrorCode::kSchemaUnsupported, detail);
  }
  return Status(ErrorCode::kServerError, detail);
}

}  // namespace ollamaflow::llm
