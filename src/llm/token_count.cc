#include "llm/token_count.h"

#include <atomic>

#include "core/log.h"

namespace ollamaflow::llm {
namespace {

// A server that sends a bad count usually sends it in every reply, so only the first few and
// then every 100th are logged.
constexpr int64_t kLoggedFirst = 5;
constexpr int64_t kLogEvery = 100;

std::atomic<int64_t> rejected_counts{0};

template <typename Value>
void warn_rejected(const Value& value, std::string_view field, std::string_view source) {
  const int64_t seen = ++rejected_counts;
  if (seen > kLoggedFirst && seen % kLogEvery != 0) {
    return;
  }
  get_logger("llm")->warn(
      "{} from {} is {}, not a token count from 0 to {}: the count is taken as unknown (invalid "
      "count {} of this run)",
      field, source, value, kMaxTokenCount, seen);
}

}  // namespace

int64_t checked_token_count(int64_t value, std::string_view field, std::string_view source) {
  if (value >= 0 && value <= kMaxTokenCount) {
    return value;
  }
  warn_rejected(value, field, source);
  return 0;
}

int64_t token_count_member(const nlohmann::json& object, const char* field,
                           std::string_view field_path, std::string_view source) {
  if (!object.is_object()) {
    return 0;
  }
  const auto it = object.find(field);
  if (it == object.end() || !it->is_number()) {
    return 0;
  }
  if (it->is_number_unsigned()) {
    const uint64_t value = it->get<uint64_t>();
    if (value > static_cast<uint64_t>(kMaxTokenCount)) {
      warn_rejected(value, field_path, source);
      return 0;
    }
    return static_cast<int64_t>(value);
  }
  if (it->is_number_integer()) {
    return checked_token_count(it->get<int64_t>(), field_path, source);
  }
  warn_rejected(it->get<double>(), field_path, source);
  return 0;
}

}  // namespace ollamaflow::llm
