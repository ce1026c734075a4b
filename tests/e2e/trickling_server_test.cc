// End-to-end checks of a run against a server that replies with status 200 and then sends bytes
// without ever finishing the reply. The server probe gives up within its deadline and names the
// host, and the first SIGINT or SIGTERM during the probe stops the run with exit code 130.
#include <csignal>

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "e2e/e2e_support.h"
#include "fakes/trickling_server.h"

namespace ollamaflow::testing {
namespace {

using std::chrono::milliseconds;

// Generous bound on a run whose probe has a 10 s deadline, for loaded test machines.
constexpr double kMaxRunSeconds = 60;

class TricklingServerTest : public E2eTest {
 protected:
  std::vector<std::string> run_args(const std::string& backend, const std::string& url) {
    return {"run",         "Create a Python web app", "--backend", backend,      "--host", url,
            "--workspace", workspace().string(),      "--db",      db().string()};
  }

  // Runs the binary and stores its wall time in seconds in `seconds_`.
  ProcessResult timed_run(const std::vector<std::string>& args) {
    const auto start = std::chrono::steady_clock::now();
    ProcessResult result = run_cli(args);
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  // Runs against `server` with `backend` and checks that the run fails within kMaxRunSeconds
  // with an error naming the probe URL `probe_path` as timed out. Returns the run's result.
  ProcessResult expect_probe_timeout(TricklingServer& server, const std::string& backend,
                                     const std::string& probe_path) {
    ProcessResult result = timed_run(run_args(backend, server.url()));
    EXPECT_FALSE(result.timed_out);
    EXPECT_LT(seconds_, kMaxRunSeconds) << result.err;
    EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
    EXPECT_NE(result.err.find(server.url() + probe_path + " timed out"), std::string::npos)
        << result.err;
    return result;
  }

  // Starts a run against `server`, sends `signal` once the probe's request arrived and returns
  // the exit code, or -1 when the run did not exit within 30 s.
  int signal_during_probe(TricklingServer& server, int signal, std::string& err) {
    ChildProcess child(cli_argv(run_args("ollama", server.url())), cli_options({}));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (server.requests() == 0 && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    EXPECT_GT(server.requests(), 0);
    child.send_signal(signal);
    const int code = child.wait(std::chrono::seconds(30));
    err = child.read_err();
    return code;
  }

  double seconds_ = 0;
};

TEST_F(TricklingServerTest, OllamaGarbageProbeTimesOut) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  const ProcessResult result = expect_probe_timeout(server, "ollama", "/api/version");
  EXPECT_NE(result.err.find("--host"), std::string::npos) << result.err;
}

TEST_F(TricklingServerTest, OpenAiGarbageProbeTimesOut) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  expect_probe_timeout(server, "openai", "/v1/models");
}

TEST_F(TricklingServerTest, OpenAiKeepAliveProbeTimesOut) {
  TricklingServer server(TrickleMode::kKeepAlive, milliseconds(1000));
  expect_probe_timeout(server, "openai", "/v1/models");
}

TEST_F(TricklingServerTest, FirstSigintStopsProbe) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  std::string err;
  EXPECT_EQ(signal_during_probe(server, SIGINT, err), 130) << err;
  EXPECT_NE(err.find("cancelled"), std::string::npos) << err;
}

TEST_F(TricklingServerTest, FirstSigtermStopsProbe) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  std::string err;
  EXPECT_EQ(signal_during_probe(server, SIGTERM, err), 130) << err;
}

}  // namespace
}  // namespace ollamaflow::testing
