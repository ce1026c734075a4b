// Counts in messages with the noun in the right number: "1 agent", "3 agents".
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <fmt/format.h>

namespace ollamaflow {

// Returns `count` followed by `noun`, with an "s" added unless `count` is 1 or -1. `noun` is the
// singular of a noun whose plural adds "s", such as "agent", "slot" or "task".
inline std::string count_text(int64_t count, std::string_view noun) {
  const bool singular = count == 1 || count == -1;
  return fmt::format("{} {}{}", count, noun, singular ? "" : "s");
}

}  // namespace ollamaflow
