// End-to-end checks that the read-only commands stop waiting for a server that accepts
// connections but never replies, within their documented timeouts, and report the timeout.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

// A socket on 127.0.0.1 that listens but never accepts: the kernel completes the TCP handshake
// from the backlog, so a client connects and then waits for a reply that never comes.
class SilentListener {
 public:
  SilentListener() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof(address);
    if (fd_ < 0 || ::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0 ||
        ::listen(fd_, 64) != 0 ||
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
      ADD_FAILURE() << "cannot listen on 127.0.0.1";
      return;
    }
    port_ = ntohs(address.sin_port);
  }
  ~SilentListener() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  SilentListener(const SilentListener&) = delete;
  SilentListener& operator=(const SilentListener&) = delete;

  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

class StalledServerTest : public E2eTest {
 protected:
  // Runs the binary and stores its wall time in seconds in `seconds_`.
  ProcessResult timed_run(const std::vector<std::string>& args) {
    const auto start = std::chrono::steady_clock::now();
    ProcessResult result = run_cli(args);
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return result;
  }

  SilentListener listener_;
  double seconds_ = 0;
};

// Doctor reads with a 5 s timeout and stops asking a server that did not reply, so it ends after
// one read timeout and reports that timeout.
TEST_F(StalledServerTest, DoctorGivesUpWithinSeconds) {
  ProcessResult result = timed_run({"doctor", "--host", listener_.url()});
  EXPECT_FALSE(result.timed_out);
  EXPECT_GE(seconds_, 4.5) << result.out << result.err;
  EXPECT_LT(seconds_, 6.5) << result.out << result.err;
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.out.find("timed out: no data for 5 s"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find(listener_.url()), std::string::npos) << result.out;
  // The server listens, so the fix is not to start one or to pass --host.
  EXPECT_NE(result.out.find("accepted the connection but did not reply"), std::string::npos)
      << result.out;
  EXPECT_EQ(result.out.find("start the server (`ollama serve`)"), std::string::npos) << result.out;
}

// models reads with a 10 s timeout.
TEST_F(StalledServerTest, ModelsGivesUpWithinSeconds) {
  ProcessResult result = timed_run({"models", "--host", listener_.url()});
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(seconds_, 20) << result.out << result.err;
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("timed out"), std::string::npos) << result.err;
  EXPECT_NE(result.err.find(listener_.url()), std::string::npos) << result.err;
  EXPECT_NE(result.err.find("--host"), std::string::npos) << result.err;
}

// plan-capacity falls back to the table of estimates after one 10 s read.
TEST_F(StalledServerTest, PlanCapacityGivesUpWithinSeconds) {
  ProcessResult result =
      timed_run({"plan-capacity", "--model", "llama3:8b", "--host", listener_.url()});
  EXPECT_FALSE(result.timed_out);
  EXPECT_LT(seconds_, 20) << result.out << result.err;
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("estimate"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace ollamaflow::testing
