// Captures the lines that one named logger writes while the capture lives.
#pragma once

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

#include <spdlog/sinks/ostream_sink.h>

#include "core/log.h"

namespace ollamaflow::testing {

class LogCapture {
 public:
  // Adds a sink to get_logger(`name`) that keeps each message without time and level.
  explicit LogCapture(const std::string& name)
      : logger_(get_logger(name)), sink_(std::make_shared<spdlog::sinks::ostream_sink_mt>(out_)) {
    sink_->set_pattern("%v");
    logger_->sinks().push_back(sink_);
  }
  ~LogCapture() { std::erase(logger_->sinks(), sink_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::string text() const { return out_.str(); }

 private:
  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> logger_;
  spdlog::sink_ptr sink_;
};

}  // namespace ollamaflow::testing
