#include "sim/faults.h"

#include <charconv>
#include <cmath>
#include <vector>

#include <fmt/format.h>

namespace ollamaflow::sim {
namespace {

bool parse_number(std::string_view text, double& value) {
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  return error == std::errc() && end == text.data() + text.size() && std::isfinite(value) &&
         value >= 0;
}

Result<std::vector<double>> parse_fields(std::string_view text, size_t count, std::string_view flag,
                                         std::string_view form) {
  std::vector<double> values;
  size_t begin = 0;
  for (;;) {
    const size_t colon = text.find(':', begin);
    double value = 0;
    if (!parse_number(text.substr(begin, colon - begin), value)) {
      break;
    }
    values.push_back(value);
    if (colon == std::string_view::npos) {
      break;
    }
    begin = colon + 1;
  }
  if (values.size() != count || values[1] <= values[0]) {
    return Status(ErrorCode::kInvalidArgument,
                  fmt::format("{} \"{}\" is invalid: use {} with numbers >= 0 and END > START",
                              flag, text, form));
  }
  return values;
}

nlohmann::json window_json(const std::optional<FaultWindow>& window) {
  if (!window) {
    return nullptr;
  }
  return {{"start_s", window->start_s}, {"end_s", window->end_s}};
}

}  // namespace

bool FaultPlan::empty() const {
  return !metric_dropout && metric_delay_s <= 0 && !slow_load && !server_503 && !memory_taken;
}

nlohmann::json FaultPlan::to_json() const {
  return {
      {"metric_dropout", window_json(metric_dropout)}, {"metric_delay_s", metric_delay_s},
      {"slow_load", window_json(slow_load)},           {"slow_load_s", slow_load_s},
      {"server_503", window_json(server_503)},         {"memory_taken", window_json(memory_taken)},
      {"memory_taken_mib", memory_taken_mib}};
}

Result<FaultWindow> parse_window(std::string_view text, std::string_view flag) {
  Result<std::vector<double>> values = parse_fields(text, 2, flag, "START:END in seconds");
  if (!values) {
    return values.status();
  }
  return FaultWindow{(*values)[0], (*values)[1]};
}

Result<std::pair<FaultWindow, double>> parse_window_value(std::string_view text,
                                                          std::string_view flag) {
  Result<std::vector<double>> values = parse_fields(text, 3, flag, "START:END:VALUE");
  if (!values) {
    return values.status();
  }
  return std::make_pair(FaultWindow{(*values)[0], (*values)[1]}, (*values)[2]);
}

}  // namespace ollamaflow::sim
