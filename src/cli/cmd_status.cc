#include <iostream>
#include <vector>

#include "cli/commands.h"
#include "cli/status_text.h"
#include "core/json_text.h"
#include "flow/status_file.h"

namespace ollamaflow::cli {

using nlohmann::json;

int cmd_status(const Config& config, const StatusOptions& options) {
  const std::vector<json> statuses = flow::read_active_statuses(flow::active_status_dir(config));
  if (options.json) {
    std::cout << to_text(json(statuses), 2) << "\n";
    return 0;
  }
  if (statuses.empty()) {
    std::cout << "no run or service is active on this machine (status files in "
              << flow::active_status_dir(config).string() << ")\n";
    return 0;
  }
  for (const json& status : statuses) {
    print_status(status);
  }
  return 0;
}

}  // namespace ollamaflow::cli
