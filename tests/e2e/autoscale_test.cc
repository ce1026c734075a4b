// End-to-end: the pool grows under a wide plan and shrinks when the queue empties.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "e2e/e2e_support.h"
#include "fakes/fake_script.h"

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

// Twelve independent tasks, then one that waits for all of them.
json wide_plan() {
  json tasks = json::array();
  json all = json::array();
  for (int i = 0; i < 12; ++i) {
    const std::string id = "part" + std::to_string(i);
    tasks.push_back({{"id", id},
                     {"title", "Part " + std::to_string(i)},
                     {"role", i % 2 == 0 ? "developer" : "analyst"},
                     {"description", "Write part " + std::to_string(i) + "."},
                     {"depends_on", json::array()},
                     {"files", {"parts/" + id + ".md"}}});
    all.push_back(id);
  }
  tasks.push_back({{"id", "merge"},
                   {"title", "Merge the parts"},
                   {"role", "it_architect"},
                   {"description", "Merge every part into one document."},
                   {"depends_on", all},
                   {"files", {"merged.md"}}});
  return {{"goal", "Write a long document"}, {"summary", "Parts, then a merge."}, {"tasks", tasks}};
}

class AutoScaleTest : public E2eTest {};

TEST_F(AutoScaleTest, PoolGrowsUnderWidePlanAndShrinksAfter) {
  FakeOllamaServer server;
  const json plan = wide_plan();
  server.script().set_responder([plan](const json& body) {
    FakeReply reply;
    const std::string kind = script_kind(body);
    if (kind == "plan") {
      reply.content = plan.dump();
    } else if (kind == "agent_reply") {
      reply.content = echo_files_reply(body).dump();
      const bool merge = body.dump().find("Merge every part") != std::string::npos;
      // Real time on purpose: the model's latency is what the pool scales against.
      const auto delay = std::chrono::milliseconds(merge ? 4000 : 600);
      reply.before_write = [delay](size_t index) {
        if (index == 0) {
          std::this_thread::sleep_for(delay);
        }
      };
    } else {
      reply.content = kind == "summary" ? R"({"summary":"merged"})" : R"({"ready":true})";
    }
    return reply;
  });
  const auto config_path = dir_.path() / "scaling.json";
  std::ofstream(config_path) << json({{"gpu_scaling",
                                       {{"scale_check_interval", 0.2},
                                        {"cooldown_period", 0.5},
                                        {"min_agents", 1},
                                        {"max_agents", 6}}},
                                      {"workload_scaling",
                                       {{"scale_up_cooldown", 0.0}, {"scale_down_cooldown", 1.0}}},
                                      {"dynamic_agent_management", {{"batch_creation_size", 3}}}})
                                    .dump();
  ProcessResult result =
      run_cli({"run", "Write a long document", "--host", server.url(), "--auto-scaling",
               "--strategy", "WORKLOAD_BASED", "--config", config_path.string(), "--workspace",
               workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  json report = parse_json(result);
  EXPECT_EQ(report["status"], "succeeded");
  ASSERT_EQ(report["tasks"].size(), 13u);
  for (const json& task : report["tasks"]) {
    EXPECT_EQ(task["status"], "succeeded") << task.dump();
  }
  int peak = 0;
  for (const json& sample : report["agent_counts"]) {
    peak = std::max(peak, sample["agents"].get<int>());
  }
  EXPECT_GE(peak, 3) << report["agent_counts"].dump();
  EXPECT_LE(peak, 6);
  bool scaled_up = false;
  bool scaled_down = false;
  for (const json& event : report["scaling_events"]) {
    EXPECT_FALSE(event["reason"].get<std::string>().empty());
    scaled_up |= event["action"] == "scale_up";
    scaled_down |= event["action"] == "scale_down";
  }
  EXPECT_TRUE(scaled_up) << report["scaling_events"].dump();
  EXPECT_TRUE(scaled_down) << report["scaling_events"].dump();
  EXPECT_EQ(report["agent_counts"].back()["agents"].get<int>() < peak, true);
  ProcessResult shown =
      run_cli({"runs", "show", report["run_id"], "--db", db().string(), "--json"});
  EXPECT_FALSE(parse_json(shown)["scaling_events"].empty());
  // Every part was run exactly once.
  size_t part_requests = 0;
  for (const json& body : server.chat_requests()) {
    part_requests += script_kind(body) == "agent_reply" &&
                     body.dump().find("Merge every part") == std::string::npos;
  }
  EXPECT_EQ(part_requests, 12u);
}

// Returns the first report note that starts with `prefix`, or an empty string when there is none.
std::string note_starting_with(const json& report, const std::string& prefix) {
  for (const json& note : report["notes"]) {
    if (note.get<std::string>().rfind(prefix, 0) == 0) {
      return note.get<std::string>();
    }
  }
  return "";
}

// Returns the report note that states the pool's bounds, or an empty string when there is none.
std::string bounds_note(const json& report) {
  return note_starting_with(report, "auto-scaling ");
}

TEST_F(AutoScaleTest, UnknownCapacityDefaultsToEightAgents) {
  // A model without a GGUF file, a store entry or a table entry has an unknown capacity.
  ProcessResult result = run_cli(
      {"run", "Write a long document", "--backend", "sim", "--model", "sim-model:1b",
       "--auto-scaling", "--workspace", workspace().string(), "--db", db().string(), "--json"},
      {{"OLLAMA_MODELS", (dir_.path() / "no-store").string()}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string note = bounds_note(parse_json(result));
  EXPECT_NE(note.find("between 1 and 8 agents (default 8, capacity unknown"), std::string::npos)
      << note;
}

TEST_F(AutoScaleTest, SimulatedSlotsNamedInBoundsNote) {
  // llama3.1:8b, the default model, is in the built-in memory table, so the capacity is known.
  // At 2048 tokens a slot costs 256 MiB, so host memory fits more than the 4 simulated slots on
  // any machine with about 7 GiB available.
  ProcessResult result =
      run_cli({"run", "Write a long document", "--backend", "sim", "--auto-scaling", "--num-ctx",
               "2048", "--workspace", workspace().string(), "--db", db().string(), "--json"},
              {{"OLLAMA_MODELS", (dir_.path() / "no-store").string()}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string note = bounds_note(parse_json(result));
  EXPECT_EQ(note.find("OLLAMA_NUM_PARALLEL"), std::string::npos) << note;
  if (note.find("memory fits") == std::string::npos) {
    GTEST_SKIP() << "host memory fits fewer than 4 slots here: " << note;
  }
  EXPECT_NE(note.find("the simulated backend runs 4 slot(s) (server.sim_slots)"), std::string::npos)
      << note;
}

TEST_F(AutoScaleTest, MaxAgentsCappedByManagerMaximum) {
  ProcessResult result =
      run_cli({"run", "Write a long document", "--backend", "sim", "--auto-scaling", "--max-agents",
               "20", "--workspace", workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const std::string note = bounds_note(parse_json(result));
  EXPECT_NE(note.find("between 1 and 16 agents (configured 20, lowered to 16 by "
                      "dynamic_agent_management.max_agents from default, the agent manager's "
                      "hard cap)"),
            std::string::npos)
      << note;
}

TEST_F(AutoScaleTest, MinAgentsAboveMemoryNoted) {
  // At 131072 tokens a slot of llama3.1:8b costs 16 GiB, so a host fits fewer than 12 of them
  // unless it has about 200 GiB of memory.
  ProcessResult result = run_cli(
      {"run", "Write a long document", "--backend", "sim", "--auto-scaling", "--num-ctx", "131072",
       "--min-agents", "12", "--workspace", workspace().string(), "--db", db().string(), "--json"},
      {{"OLLAMA_MODELS", (dir_.path() / "no-store").string()}});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json report = parse_json(result);
  const std::string found = bounds_note(report);
  // Memory that fits 12 agents leaves min_agents as it is, with no conflict to report.
  if (found.find("between 12 and") != std::string::npos &&
      found.find("raised to gpu_scaling.min_agents") == std::string::npos) {
    GTEST_SKIP() << "the memory ceiling is unknown or fits 12 agents here: " << found;
  }
  // One note gives the count that the pool keeps, not the configured bounds as well.
  EXPECT_NE(found.find(" agent(s): memory fits only "), std::string::npos) << found;
  EXPECT_NE(found.find("below gpu_scaling.min_agents 12 from flag --min-agents, and memory wins"),
            std::string::npos)
      << found;
  EXPECT_NE(found.find("set --min-agents"), std::string::npos) << found;
  EXPECT_EQ(found.find("raised to gpu_scaling.min_agents"), std::string::npos) << found;
}

TEST_F(AutoScaleTest, GpuMemoryBasedWithoutGpuNoted) {
  ProcessResult result = run_cli({"run", "Write a long document", "--backend", "sim",
                                  "--auto-scaling", "--strategy", "GPU_MEMORY_BASED", "--workspace",
                                  workspace().string(), "--db", db().string(), "--json"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const json report = parse_json(result);
  const std::string found = note_starting_with(report, "strategy GPU_MEMORY_BASED sizes the pool");
  if (found.empty() && result.err.find("no GPU is monitored") == std::string::npos) {
    GTEST_SKIP() << "this host has a monitored GPU";
  }
  EXPECT_NE(found.find("no GPU is monitored"), std::string::npos) << report["notes"].dump();
}

}  // namespace
}  // namespace ollamaflow::testing
