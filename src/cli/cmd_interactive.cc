// `ollama-flow interactive`: goals and commands in a loop, with line editing and history
// (GNU readline) when standard input is a terminal, plain line reading otherwise. With --json,
// standard output carries only JSON documents, one per line, and the prompt, the banner and the
// notes go to standard error.
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include <readline/history.h>
#include <readline/readline.h>

#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/signals.h"
#include "cli/status_text.h"
#include "core/json_text.h"
#include "core/terminal_text.h"
#include "flow/flow.h"
#include "flow/run_types.h"

namespace ollamaflow::cli {
namespace {

constexpr const char* kHelp =
    "Type a goal to plan and run it, or a command:\n"
    "  status          scaling status and metrics of the last run\n"
    "  agents          the agents of the last run\n"
    "  strategy NAME   switch the scaling strategy (GPU_MEMORY_BASED, WORKLOAD_BASED, HYBRID,\n"
    "                  CONSERVATIVE, AGGRESSIVE) for the next goals\n"
    "  history         goals run in this session, with their status\n"
    "  help            this text\n"
    "  quit            leave (also: exit, Ctrl-D)\n"
    "A line is a command only when it is the command alone (strategy takes one name), so\n"
    "\"status page for my website\" is a goal.\n";

std::filesystem::path history_path() {
  const char* data = std::getenv("XDG_DATA_HOME");
  const char* home = std::getenv("HOME");
  std::filesystem::path base = data && *data ? std::filesystem::path(data)
                               : home        ? std::filesystem::path(home) / ".local/share"
                                             : std::filesystem::temp_directory_path();
  return base / "ollama-flow" / "interactive_history";
}

// Maximum length of a line read from a pipe or file: the largest goal that fits the largest
// context (server.num_ctx 4194304 tokens at 4 bytes per token).
constexpr size_t kMaxInputLineBytes = size_t{16} << 20;
// Maximum number of bytes skipped to find the end of a line over kMaxInputLineBytes. Input
// without line breaks, such as /dev/zero, ends the session there instead of running forever.
constexpr size_t kMaxSkippedLineBytes = size_t{1} << 30;

// kTooLong: the line was over kMaxInputLineBytes and skipped up to its line break, so the
// session goes on. kEndless: no line break came within kMaxSkippedLineBytes, so the session ends.
enum class LineRead { kLine, kEnd, kTooLong, kEndless };

// Reads lines from a pipe or file through a buffer of its own. A line over kMaxInputLineBytes is
// skipped without being stored, so that no line can exhaust memory. A read error, and a signal
// such as Ctrl-C that interrupts a read, end the input as its end of file does.
class PipedLineReader {
 public:
  explicit PipedLineReader(int fd) : fd_(fd), buffer_(size_t{64} << 10) {}

  // Reads the next line without its line break into `line`. Returns kTooLong or kEndless with
  // `line` empty.
  LineRead read(std::string& line) {
    line.clear();
    for (;;) {
      if (begin_ == end_ && !fill()) {
        return line.empty() ? LineRead::kEnd : LineRead::kLine;
      }
      const char* start = buffer_.data() + begin_;
      const size_t available = end_ - begin_;
      const void* found = std::memchr(start, '\n', available);
      const size_t length = found != nullptr ? static_cast<const char*>(found) - start : available;
      if (line.size() + length > kMaxInputLineBytes) {
        const size_t read_bytes = line.size();
        std::string().swap(line);  // frees the part that was read
        return skip_rest(read_bytes);
      }
      line.append(start, length);
      begin_ += length;
      if (found != nullptr) {
        ++begin_;
        return LineRead::kLine;
      }
    }
  }

 private:
  // Drops the rest of a line over the limit, of which `read_bytes` bytes were read before.
  LineRead skip_rest(size_t read_bytes) {
    size_t skipped = read_bytes;
    for (;;) {
      if (begin_ == end_ && !fill()) {
        return LineRead::kTooLong;
      }
      const char* start = buffer_.data() + begin_;
      const size_t available = end_ - begin_;
      const void* found = std::memchr(start, '\n', available);
      if (found != nullptr) {
        begin_ += static_cast<const char*>(found) - start + 1;
        return LineRead::kTooLong;
      }
      begin_ = end_;
      skipped += available;
      if (skipped > kMaxSkippedLineBytes) {
        return LineRead::kEndless;
      }
    }
  }

  // Refills the empty buffer. Returns false at the end of the input.
  bool fill() {
    const ssize_t count = ::read(fd_, buffer_.data(), buffer_.size());
    begin_ = 0;
    end_ = count > 0 ? static_cast<size_t>(count) : 0;
    return count > 0;
  }

  const int fd_;
  std::vector<char> buffer_;
  size_t begin_ = 0;
  size_t end_ = 0;
};

// Reads one line from the terminal (with readline) or from piped input, after writing the prompt
// to `prompt_stream`. `piped` is null when standard input is a terminal.
LineRead read_line(PipedLineReader* piped, std::ostream& prompt_stream, std::string& line) {
  if (piped == nullptr) {
    char* raw = readline("ollama-flow> ");
    if (raw == nullptr) {
      return LineRead::kEnd;
    }
    line = raw;
    free(raw);
    if (line.size() > kMaxInputLineBytes) {
      line.clear();
      return LineRead::kTooLong;
    }
    if (!line.empty()) {
      add_history(line.c_str());
    }
    return LineRead::kLine;
  }
  prompt_stream << "ollama-flow> " << std::flush;
  return piped->read(line);
}

std::string trim(const std::string& text) {
  const size_t begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) {
    return "";
  }
  const size_t end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

// One goal run in this session. A goal that failed before its run started has no run id, and its
// status is "error".
struct HistoryEntry {
  std::string goal;
  std::string run_id;
  std::string status;
};

struct Session {
  Config config;
  RunOptions options;
  flow::RunMonitor monitor;
  std::vector<HistoryEntry> history;
  // Standard error with --json, so that standard output carries only JSON documents, else
  // standard output.
  std::ostream& notes;
  // True when the last goal ran on the simulated backend. Before the first goal, true only for
  // --backend sim, because a fallback from an unreachable server shows only when a goal runs.
  bool last_simulated = false;
};

// Writes one JSON document on one line of standard output.
void print_document(const nlohmann::json& document) {
  std::cout << to_text(document) << "\n" << std::flush;
}

void run_one_goal(Session& session, const std::string& goal) {
  flow::RunRequest request;
  request.goal = goal;
  request.backend_chosen = session.options.backend_chosen;
  request.notes = session.options.notes;
  request.on_footprint = set_run_exit_notice;
  CancelTokenPtr cancel = renew_interrupt_token();
  Result<flow::RunReport> report =
      flow::run_goal(session.config, request, cancel, system_clock(), &session.monitor);
  if (!report) {
    print_error(report.status().message());
    if (session.options.json) {
      print_document({{"goal", goal}, {"error", report.status().message()}});
    }
    session.history.push_back({goal, "", "error"});
    return;
  }
  if (session.options.json) {
    print_document(flow::report_to_json(*report));
  } else {
    std::cout << flow::format_report(*report);
  }
  session.history.push_back({goal, report->run_id, report->status});
  session.last_simulated = report->simulated;
}

// Prints the goals of this session: in text, each goal escaped and cut as the runs listing cuts
// it, because a goal may contain control characters and be megabytes long.
void print_history(const Session& session) {
  if (session.options.json) {
    nlohmann::json goals = nlohmann::json::array();
    for (const HistoryEntry& entry : session.history) {
      goals.push_back({{"goal", entry.goal},
                       {"run_id", entry.run_id.empty() ? nlohmann::json(nullptr)
                                                       : nlohmann::json(entry.run_id)},
                       {"status", entry.status}});
    }
    print_document({{"history", goals}});
    return;
  }
  if (session.history.empty()) {
    std::cout << "no goals yet in this session\n";
  }
  for (size_t i = 0; i < session.history.size(); ++i) {
    const HistoryEntry& entry = session.history[i];
    std::cout << "  " << i + 1 << ". " << truncate_printable(entry.goal, kMaxListedGoalWidth)
              << "  [" << (entry.run_id.empty() ? "" : entry.run_id + " ") << entry.status << "]\n";
  }
}

void set_strategy(Session& session, const std::string& name) {
  std::string upper = name;
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  for (const std::string& known : strategy_names()) {
    if (known == upper) {
      session.config.strategy = upper;
      session.config.sources["auto_scaling.strategy"] = "interactive";
      session.notes << "strategy set to " << upper
                    << (session.config.auto_scaling ? ""
                                                    : " (auto-scaling is off: start with "
                                                      "--auto-scaling to use it)")
                    << "\n";
      return;
    }
  }
  session.notes << "unknown strategy '" << truncate_printable(name, kMaxListedGoalWidth)
                << "': use GPU_MEMORY_BASED, WORKLOAD_BASED, HYBRID, CONSERVATIVE or AGGRESSIVE\n";
}

// Handles one input line; returns false when the session should end.
bool handle_line(Session& session, const std::string& input) {
  const std::string line = trim(input);
  std::istringstream words(line);
  std::vector<std::string> parts;
  for (std::string word; words >> word;) {
    parts.push_back(word);
  }
  if (parts.empty()) {
    return true;
  }
  // A goal may start with a command word ("status page for my website"). Only a line that is
  // the command alone is a command, and `strategy` takes one name.
  const std::string& command = parts.front();
  const bool strategy_command = command == "strategy" && parts.size() <= 2;
  if (parts.size() > 1 && !strategy_command) {
    run_one_goal(session, line);
    return true;
  }
  if (command == "quit" || command == "exit") {
    return false;
  }
  if (command == "help") {
    session.notes << kHelp;
  } else if (command == "status") {
    if (session.options.json) {
      nlohmann::json status = {{"strategy", session.config.strategy},
                               {"auto_scaling", session.config.auto_scaling},
                               {"simulated", session.last_simulated},
                               {"scaling", session.monitor.scaling_status()},
                               {"metrics", session.monitor.metrics()}};
      print_document(status);
    } else if (session.history.empty()) {
      std::cout << "Strategy " << session.config.strategy << " for the next goals, auto-scaling "
                << (session.config.auto_scaling ? "on" : "off")
                << "; no goal has run in this session yet\n";
    } else {
      std::cout << "Strategy " << session.config.strategy << " for the next goals, auto-scaling "
                << (session.config.auto_scaling ? "on" : "off") << "; the last run"
                << (session.last_simulated ? " (SIMULATED: on the simulated backend)" : "")
                << ":\n";
      print_scaling(session.monitor.scaling_status(), session.monitor.agents());
      print_metrics(session.monitor.metrics());
    }
  } else if (command == "agents") {
    if (session.options.json) {
      print_document(session.monitor.agents());
    } else {
      if (session.last_simulated) {
        std::cout << (session.history.empty()
                          ? "SIMULATED: the goals of this session run on the simulated backend\n"
                          : "SIMULATED: the last run used the simulated backend\n");
      }
      print_agents(session.monitor.agents());
    }
  } else if (strategy_command) {
    const std::string name = parts.size() == 2 ? parts[1] : "";
    if (name.empty() && session.options.json) {
      print_document(
          {{"strategy", session.config.strategy}, {"auto_scaling", session.config.auto_scaling}});
    } else if (name.empty()) {
      std::cout << "current strategy: " << session.config.strategy << "\n";
    } else {
      set_strategy(session, name);
    }
  } else if (command == "history") {
    print_history(session);
  } else {
    run_one_goal(session, line);
  }
  return true;
}

// Returns the backend part of the banner. As in `run`, only the default server, named by no
// flag, environment variable or configuration file, falls back to the simulated backend when it
// does not respond, so the banner states that fallback for it.
std::string backend_banner(const Config& config, const RunOptions& options) {
  if (config.server.backend == "sim") {
    return "Backend sim (simulated)";
  }
  auto named = [&config](const std::string& key) {
    const auto it = config.sources.find(key);
    return it != config.sources.end() && it->second != "default";
  };
  const bool chosen = options.backend_chosen || named("server.host") || named("server.backend");
  return "Backend " + config.server.backend + " at " +
         escape_control_characters(config.server.host) +
         (chosen ? "" : " (each goal runs on the simulated backend when it does not respond)");
}

// Reports a line over kMaxInputLineBytes, which was skipped: on standard error, and with --json
// also as a document, so that each goal line still has its own document on standard output.
void reject_long_line(const Session& session, size_t line_number) {
  const std::string message = fmt::format(
      "input line {} is longer than the limit of {} MiB and was skipped: a goal must fit in one "
      "request's context, so shorten it or check what is piped into interactive",
      line_number, kMaxInputLineBytes >> 20);
  print_error(message);
  if (session.options.json) {
    print_document({{"line", line_number}, {"error", message}});
  }
}

}  // namespace

int cmd_interactive(const Config& config, const RunOptions& options) {
  std::ostream& notes = options.json ? std::cerr : std::cout;
  Session session{config, options, {}, {}, notes, config.server.backend == "sim"};
  const bool terminal = isatty(STDIN_FILENO) != 0;
  const std::string history_file = history_path().string();
  if (terminal) {
    std::error_code ignored;
    std::filesystem::create_directories(history_path().parent_path(), ignored);
    read_history(history_file.c_str());
    if (options.json) {
      rl_outstream = stderr;  // readline writes the prompt and the echoed line there
    }
  }
  install_interrupt_handler();
  notes << "ollama-flow interactive: type a goal, or help. " << backend_banner(config, options)
        << ", strategy " << config.strategy
        << (config.auto_scaling ? " (auto-scaling on)" : " (auto-scaling off)") << "\n";
  std::optional<PipedLineReader> piped;
  if (!terminal) {
    piped.emplace(STDIN_FILENO);
  }
  std::string line;
  LineRead read = LineRead::kLine;
  size_t line_number = 0;
  bool rejected_line = false;
  while ((read = read_line(piped ? &*piped : nullptr, notes, line)) != LineRead::kEnd) {
    ++line_number;
    if (read == LineRead::kEndless) {
      break;
    }
    if (read == LineRead::kTooLong) {
      reject_long_line(session, line_number);
      rejected_line = true;
      continue;
    }
    if (!handle_line(session, line)) {
      break;
    }
  }
  if (terminal) {
    write_history(history_file.c_str());
  }
  notes << "\n";
  if (read == LineRead::kEndless) {
    print_error(fmt::format(
        "input line {} has no line break within {} GiB, so the session ends: check what is "
        "piped into interactive",
        line_number, kMaxSkippedLineBytes >> 30));
    return 2;
  }
  // Like a usage error, a rejected line makes the exit code 2, so that a script notices it.
  if (rejected_line) {
    return 2;
  }
  return 0;
}

}  // namespace ollamaflow::cli
