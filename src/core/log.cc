#include "core/log.h"

#include <ctime>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>

#include <fmt/chrono.h>
#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <nlohmann/json.hpp>

#include "core/clock.h"
#include "core/terminal_text.h"

namespace ollamaflow {

// The simulation that SimulatedLogTime installed: its label and its clock in seconds.
struct SimulatedTimeSource {
  std::string label;
  std::function<double()> seconds;
};

namespace {

// Guards `simulated_time`, the source of the innermost SimulatedLogTime, or null when none lives.
std::mutex simulated_time_mutex;
std::shared_ptr<const SimulatedTimeSource> simulated_time;

std::shared_ptr<const SimulatedTimeSource> current_simulated_time() {
  std::lock_guard lock(simulated_time_mutex);
  return simulated_time;
}

// Formats one record as a JSON object: time (or the simulation and its time), level, component,
// message.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json record = nlohmann::json::object();
    if (const std::shared_ptr<const SimulatedTimeSource> simulated = current_simulated_time()) {
      record["sim"] = simulated->label;
      record["sim_time_s"] = simulated->seconds();
    } else {
      record["time"] = format_iso8601(msg.time);
    }
    record["level"] = std::string(spdlog::level::to_string_view(msg.level).data(),
                                  spdlog::level::to_string_view(msg.level).size());
    record["component"] = std::string(msg.logger_name.data(), msg.logger_name.size());
    record["message"] = std::string(msg.payload.data(), msg.payload.size());
    const std::string line = record.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(line.data(), line.data() + line.size());
    dest.push_back('\n');
  }

  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// Writes the message with its control characters escaped, so that text from a goal or a model
// reply cannot add lines to the log or send escape sequences to the terminal.
class EscapedMessage final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    const std::string text =
        escape_control_characters(std::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<EscapedMessage>();
  }
};

// Writes the local time of the record with milliseconds, such as 2026-12-04T15:51:07.123, or
// while a SimulatedLogTime lives its label and virtual time, such as sim=HYBRID t=125.300s.
class LineTime final : public spdlog::custom_flag_formatter {
 public:
  // The pattern formatter fills `std::tm` only for patterns with its own time flags, so the time
  // is converted here.
  void format(const spdlog::details::log_msg& msg, const std::tm& /*unfilled*/,
              spdlog::memory_buf_t& dest) override {
    std::string text;
    if (const std::shared_ptr<const SimulatedTimeSource> simulated = current_simulated_time()) {
      text = fmt::format("sim={} t={:.3f}s", escape_control_characters(simulated->label),
                         simulated->seconds());
    } else {
      const std::time_t seconds = std::chrono::system_clock::to_time_t(msg.time);
      std::tm local_time{};
      localtime_r(&seconds, &local_time);
      const auto milliseconds =
          std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch()) % 1000;
      text = fmt::format("{:%Y-%m-%dT%H:%M:%S}.{:03}", local_time, milliseconds.count());
    }
    dest.append(text.data(), text.data() + text.size());
  }

  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<LineTime>();
  }
};

struct LogState {
  // Guards every member. get_logger takes it shared, so that threads that look up a logger on
  // every call do not queue behind each other.
  std::shared_mutex mutex;
  spdlog::sink_ptr sink;
  spdlog::level::level_enum level = spdlog::level::info;
  bool json = false;
  // The loggers that get_logger returned, by component.
  std::unordered_map<std::string, std::shared_ptr<spdlog::logger>> loggers;
};

LogState& state() {
  static LogState instance;
  return instance;
}

void apply_format(spdlog::logger& logger, bool json) {
  logger.set_formatter(make_log_formatter(json));
}

spdlog::sink_ptr shared_sink() {
  LogState& s = state();
  if (!s.sink) {
    s.sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  }
  return s.sink;
}

}  // namespace

std::unique_ptr<spdlog::formatter> make_log_formatter(bool json) {
  if (json) {
    return std::make_unique<JsonFormatter>();
  }
  // %& is the time as LineTime writes it and %* the message as EscapedMessage writes it. JSON
  // lines need no such step, because JSON escapes control characters itself.
  auto formatter = std::make_unique<spdlog::pattern_formatter>();
  formatter->add_flag<LineTime>('&').add_flag<EscapedMessage>('*').set_pattern(
      "%& %^%-5l%$ [%n] %*");
  return formatter;
}

SimulatedLogTime::SimulatedLogTime(std::string label, std::function<double()> seconds) {
  auto source = std::make_shared<const SimulatedTimeSource>(
      SimulatedTimeSource{std::move(label), std::move(seconds)});
  std::lock_guard lock(simulated_time_mutex);
  previous_ = std::move(simulated_time);
  simulated_time = std::move(source);
}

SimulatedLogTime::~SimulatedLogTime() {
  std::lock_guard lock(simulated_time_mutex);
  simulated_time = std::move(previous_);
}

Status init_logging(std::string_view level, bool json) {
  const spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  if (parsed == spdlog::level::off && level != "off") {
    return Status(ErrorCode::kInvalidArgument,
                  "invalid log level '" + std::string(level) +
                      "': use trace, debug, info, warn, error, critical or off");
  }
  LogState& s = state();
  std::unique_lock lock(s.mutex);
  s.level = parsed;
  s.json = json;
  shared_sink();
  spdlog::apply_all([&](const std::shared_ptr<spdlog::logger>& logger) {
    logger->set_level(parsed);
    apply_format(*logger, json);
  });
  return Status::ok();
}

std::shared_ptr<spdlog::logger> get_logger(const std::string& component) {
  LogState& s = state();
  {
    std::shared_lock lock(s.mutex);
    if (const auto found = s.loggers.find(component); found != s.loggers.end()) {
      return found->second;
    }
  }
  std::unique_lock lock(s.mutex);
  if (const auto found = s.loggers.find(component); found != s.loggers.end()) {
    return found->second;
  }
  std::shared_ptr<spdlog::logger> logger = spdlog::get(component);
  if (logger == nullptr) {
    logger = std::make_shared<spdlog::logger>(component, shared_sink());
    logger->set_level(s.level);
    apply_format(*logger, s.json);
    spdlog::register_logger(logger);
  }
  s.loggers.emplace(component, logger);
  return logger;
}

LogRateLimiter::LogRateLimiter(std::shared_ptr<spdlog::logger> logger,
                               spdlog::level::level_enum level, std::string what, size_t burst,
                               std::chrono::steady_clock::duration interval)
    : logger_(std::move(logger)),
      level_(level),
      what_(std::move(what)),
      burst_(burst),
      interval_(interval) {}

bool LogRateLimiter::allow(TimePoint now) {
  std::lock_guard lock(mutex_);
  if (!started_ || now - window_start_ >= interval_) {
    log_count_locked();
    started_ = true;
    window_start_ = now;
    passed_ = 0;
  }
  if (passed_ < burst_) {
    ++passed_;
    return true;
  }
  ++suppressed_;
  return false;
}

void LogRateLimiter::flush() {
  std::lock_guard lock(mutex_);
  log_count_locked();
}

size_t LogRateLimiter::suppressed() const {
  std::lock_guard lock(mutex_);
  return suppressed_;
}

void LogRateLimiter::log_count_locked() {
  if (suppressed_ == 0) {
    return;
  }
  if (interval_ == kEndlessInterval) {
    logger_->log(level_, "{}: {} more lines suppressed (only the first {} logged)", what_,
                 suppressed_, burst_ == 1 ? std::string("is") : fmt::format("{} are", burst_));
  } else {
    const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(interval_).count();
    logger_->log(level_, "{}: {} more lines suppressed (the first {} of every {} s are logged)",
                 what_, suppressed_, burst_, seconds);
  }
  suppressed_ = 0;
}

}  // namespace ollamaflow
