#include "e2e/e2e_support.h"

#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <sstream>

#include "fakes/fake_script.h"

namespace ollamaflow::testing {

using nlohmann::json;

json sample_plan() {
  return {{"goal", "Create a Python web app"},
          {"summary", "A small Flask app with a design note, the app and tests."},
          {"tasks",
           {{{"id", "design"},
             {"title", "Design the app"},
             {"role", "it_architect"},
             {"description", "Write the design of a small Flask app."},
             {"depends_on", json::array()},
             {"files", {"docs/design.md"}}},
            {{"id", "app"},
             {"title", "Write the app"},
             {"role", "developer"},
             {"description", "Implement the Flask app from the design."},
             {"depends_on", {"design"}},
             {"files", {"app/main.py", "app/routes.py"}}},
            {{"id", "tests"},
             {"title", "Write tests"},
             {"role", "developer"},
             {"description", "Write pytest tests for the app."},
             {"depends_on", {"app"}},
             {"files", {"tests/test_app.py"}}},
            {{"id", "review"},
             {"title", "Security review"},
             {"role", "security_specialist"},
             {"description", "Review the app for security problems."},
             {"depends_on", {"app"}},
             {"files", {"docs/security.md"}}}}}};
}

void play_cooperative_model(FakeModelServer& server, const json& plan) {
  play_gated_model(server, plan, [](const std::string&, const json&) { return false; });
}

void play_gated_model(FakeModelServer& server, const json& plan, HoldRule hold) {
  server.script().set_responder([plan, hold = std::move(hold), &server](const json& body) {
    FakeReply reply;
    const std::string kind = script_kind(body);
    if (kind == "plan") {
      reply.content = plan.dump();
    } else if (kind == "agent_reply") {
      reply.content = echo_files_reply(body).dump();
    } else if (kind == "summary") {
      reply.content = R"({"summary":"The app, its tests and a review were written."})";
    } else {
      reply.content = R"({"ready":true})";
    }
    if (hold(kind, body)) {
      reply.before_write = [&server](size_t) { server.gate().pass(); };
    }
    return reply;
  });
}

void play_agent_reply(FakeModelServer& server, const json& plan, const FakeReply& agent_reply) {
  server.script().set_responder([plan, agent_reply](const json& body) {
    const std::string kind = script_kind(body);
    FakeReply reply;
    if (kind == "plan") {
      reply.content = plan.dump();
    } else if (kind == "agent_reply") {
      reply = agent_reply;
    } else {
      reply.content = kind == "summary" ? R"({"summary":"failed"})" : R"({"ready":true})";
    }
    return reply;
  });
}

ProcessOptions E2eTest::cli_options(std::map<std::string, std::string> env) {
  ProcessOptions options;
  options.env = std::move(env);
  options.env["HOME"] = dir_.path().string();
  options.env["XDG_DATA_HOME"] = (dir_.path() / "data").string();
  if (options.env.count("OLLAMA_HOST") == 0) {
    options.unset_env.push_back("OLLAMA_HOST");
  }
  for (const char* name : {"AUTO_SCALING", "SCALING_STRATEGY", "GPU_LAYERS", "OLLAMA_FLOW_MODEL",
                           "OLLAMA_NUM_PARALLEL", "OLLAMA_KV_CACHE_TYPE"}) {
    if (options.env.count(name) == 0) {
      options.unset_env.push_back(name);
    }
  }
  options.cwd = dir_.path().string();
  options.timeout = std::chrono::seconds(120);
  return options;
}

std::vector<std::string> E2eTest::cli_argv(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {binary_path().string()};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

ProcessResult E2eTest::run_cli(const std::vector<std::string>& args,
                               std::map<std::string, std::string> env,
                               const std::string& stdin_text) {
  ProcessOptions options = cli_options(std::move(env));
  options.stdin_text = stdin_text;
  return run_process(cli_argv(args), options);
}

std::string E2eTest::read(const std::filesystem::path& path) const {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

json E2eTest::doctor_check(const json& document, const std::string& name) {
  for (const json& check : document["checks"]) {
    if (check["name"] == name) {
      return check;
    }
  }
  return nullptr;
}

json E2eTest::parse_json(const ProcessResult& result) const {
  json document = json::parse(result.out, nullptr, false);
  EXPECT_FALSE(document.is_discarded()) << "stdout is not JSON:\n"
                                        << result.out << "\nstderr:\n"
                                        << result.err;
  return document.is_discarded() ? json::object() : document;
}

json E2eTest::interrupt_run(ChildProcess& child) const {
  child.send_signal(SIGINT);
  const int code = child.wait(std::chrono::seconds(30));
  EXPECT_EQ(code, 130) << child.read_err();
  return json::parse(child.read_out(), nullptr, false);
}

}  // namespace ollamaflow::testing
