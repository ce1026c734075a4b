// Constructors of the policies behind make_policy(), one per file of rules. Called on the
// driver thread.
#pragma once

#include <memory>
#include <vector>

#include "sim/policy.h"

namespace ollamaflow::sim {

std::unique_ptr<Policy> make_hpa(const PolicySettings& settings);
std::unique_ptr<Policy> make_knative(const PolicySettings& settings);
std::unique_ptr<Policy> make_ray(const PolicySettings& settings);
std::unique_ptr<Policy> make_python_origin(const PolicySettings& settings);
// A pool of `agents` that never changes.
std::unique_ptr<Policy> make_fixed(const PolicySettings& settings, int agents);
// Follows `blocks` (agents per block of `block_s`), starting each increase early enough for the
// agent manager's batches to be ready at the block start.
std::unique_ptr<Policy> make_oracle(const PolicySettings& settings, std::vector<int> blocks,
                                    double block_s);
Result<std::unique_ptr<Policy>> make_engine_policy(const PolicySettings& settings,
                                                   const std::string& strategy);

}  // namespace ollamaflow::sim
