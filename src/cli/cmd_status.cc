#include <iostream>

#include "cli/commands.h"
#include "core/json_text.h"
#include "flow/status_file.h"

namespace ollamaflow::cli {

int cmd_status(const Config& config, const StatusOptions& options) {
  const std::vector<nlohmann::json> statuses =
      flow::read_active_statuses(flow::active_status_dir(config));
  if (options.json) {
    std::cout << to_text(nlohmann::json(statuses), 2) << "\n";
    return 0;
  }
  if (statuses.empty()) {
    std::cout << "no run or service is active on this machine (status files in "
              << flow::active_status_dir(config).string() << ")\n";
    return 0;
  }
  for (const nlohmann::json& status : statuses) {
    std::cout << "Run " << status.value("run_id", std::string("?")) << " (pid "
              << status.value("pid", 0) << "), goal: " << status.value("goal", std::string())
              << "\n";
    const nlohmann::json scaling = status.value("scaling", nlohmann::json::object());
    std::cout << "  scaling: " << to_text(scaling, 2) << "\n";
    std::cout << "  agents:  " << to_text(status.value("agents", nlohmann::json::object()), 2)
              << "\n";
    std::cout << "  metrics: " << to_text(status.value("metrics", nlohmann::json::object()), 2)
              << "\n";
  }
  return 0;
}

}  // namespace ollamaflow::cli
