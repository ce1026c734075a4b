// The texts of the simulated backend: goals, free-text replies and file contents.
#include "llm/sim_output.h"

#include <algorithm>

#include <fmt/format.h>

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr size_t kMaxGoalBytes = 120;
constexpr std::string_view kNoModel = "no model was run";

// Cuts `text` to at most `max_bytes` without splitting a UTF-8 sequence.
std::string shorten_utf8(std::string text, size_t max_bytes) {
  if (text.size() <= max_bytes) {
    return text;
  }
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return text.substr(0, end);
}

std::string extension_of(const std::string& path) {
  const size_t slash = path.rfind('/');
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos || (slash != std::string::npos && dot < slash) || dot == 0 ||
      (slash != std::string::npos && dot == slash + 1)) {
    return "";
  }
  std::string ext = path.substr(dot);
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

bool one_of(const std::string& value, std::initializer_list<std::string_view> choices) {
  return std::find(choices.begin(), choices.end(), value) != choices.end();
}

}  // namespace

std::string goal_of(const ChatRequest& request) {
  std::string fallback;
  for (const ChatMessage& message : request.messages) {
    if (message.role != "user") {
      continue;
    }
    const std::string first_line = message.content.substr(0, message.content.find('\n'));
    if (first_line.rfind("Goal: ", 0) == 0) {
      return shorten_utf8(first_line.substr(6), kMaxGoalBytes);
    }
    fallback = first_line;
  }
  return shorten_utf8(fallback, kMaxGoalBytes);
}

std::string simulated_text(const std::string& goal) {
  if (goal.empty()) {
    return fmt::format(
        "Simulated reply: the ollama-flow simulated backend produced this text and "
        "{}.",
        kNoModel);
  }
  return fmt::format(
      "Simulated reply for \"{}\": the ollama-flow simulated backend produced this "
      "text and {}.",
      goal, kNoModel);
}

std::string simulated_file_content(const std::string& path) {
  const std::string text = fmt::format(
      "Simulated content for {}: the ollama-flow simulated backend wrote this file and {}.", path,
      kNoModel);
  const std::string ext = extension_of(path);
  if (one_of(ext, {".py", ".sh", ".rb", ".pl", ".r", ".yaml", ".yml", ".toml", ".cfg", ".ini",
                   ".conf", ".env"})) {
    return "# " + text + "\n";
  }
  if (one_of(ext, {".c", ".cc", ".cpp", ".cxx", ".h", ".hpp", ".js", ".jsx", ".ts", ".tsx", ".java",
                   ".go", ".rs", ".kt", ".swift", ".cs", ".scala", ".php", ".dart"})) {
    return "// " + text + "\n";
  }
  if (one_of(ext, {".sql", ".lua", ".hs"})) {
    return "-- " + text + "\n";
  }
  if (one_of(ext, {".html", ".htm", ".xml", ".svg", ".vue"})) {
    return "<!-- " + text + " -->\n";
  }
  if (one_of(ext, {".css", ".scss", ".less"})) {
    return "/* " + text + " */\n";
  }
  if (ext == ".md") {
    return "# Simulated file\n\n" + text + "\n";
  }
  if (ext == ".json") {
    return json({{"simulated", true}, {"path", path}, {"note", text}}).dump(2) + "\n";
  }
  return text + "\n";
}

}  // namespace ollamaflow::llm
