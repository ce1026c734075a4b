// Checks of the token counts that a model server reports for one request.
#pragma once

#include <cstdint>
#include <string_view>

#include <nlohmann/json.hpp>

namespace ollamaflow::llm {

// The largest token count taken as real for one request: 100 times the 10 million token context
// of the largest-context open models (Llama 4 Scout), so only a broken or hostile server passes
// it.
constexpr int64_t kMaxTokenCount = 1'000'000'000;

// Returns `value` when it is a count from 0 to kMaxTokenCount. Otherwise logs a warning that
// names `field`, the value and `source` (the endpoint), and returns 0, which reports read as
// unknown.
int64_t checked_token_count(int64_t value, std::string_view field, std::string_view source);

// Returns the count of member `field` of `object`, checked as above. An absent member or a
// value that is not a number gives 0 without a warning. Integers past int64 and fractions are
// logged and give 0.
int64_t token_count_member(const nlohmann::json& object, const char* field,
                           std::string_view field_path, std::string_view source);

}  // namespace ollamaflow::llm
