// Checks that requests that are not streamed (the metadata requests and the server probe) end
// within their total deadline, within their byte limit, or on a cancel, against servers that
// keep sending without finishing the reply.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "core/cancel.h"
#include "core/clock.h"
#include "fakes/trickling_server.h"
#include "llm/factory.h"
#include "llm/http.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::TrickleMode;
using ollamaflow::testing::TricklingServer;
using std::chrono::milliseconds;

// Generous bound on the wall time of a request with a 1 s deadline, for loaded test machines.
constexpr double kMaxSeconds = 20;

class MetadataLimitsTest : public ::testing::Test {
 protected:
  HttpClient client_for(const TricklingServer& server, HttpSettings settings) {
    Result<BaseUrl> url = parse_base_url(server.url(), 11434);
    EXPECT_TRUE(url.is_ok());
    return HttpClient(*url, std::move(settings), system_clock());
  }

  static HttpSettings one_second_deadline() {
    HttpSettings settings;
    settings.read_timeout_s = 30;
    settings.total_timeout_s = 1;
    return settings;
  }

  // Runs `request` and stores its wall time in seconds in `seconds_`.
  template <typename Request>
  Result<HttpResponse> timed(Request request) {
    const auto start = std::chrono::steady_clock::now();
    Result<HttpResponse> response = request();
    seconds_ = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return response;
  }

  double seconds_ = 0;
};

// Starts a thread that cancels `token` once `server` has sent a status line.
std::thread cancel_after_first_request(const TricklingServer& server, CancelTokenPtr token) {
  return std::thread([&server, token = std::move(token)] {
    while (server.requests() == 0) {
      std::this_thread::sleep_for(milliseconds(10));
    }
    token->cancel();
  });
}

TEST_F(MetadataLimitsTest, GarbageGetHitsDeadline) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  HttpClient client = client_for(server, one_second_deadline());
  Result<HttpResponse> response = timed([&] { return client.get("/api/version"); });
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout) << response.status().to_string();
  const std::string message = response.status().message();
  EXPECT_NE(message.find("GET " + server.url() + "/api/version timed out"), std::string::npos)
      << message;
  EXPECT_NE(message.find("within 1 s"), std::string::npos) << message;
  EXPECT_NE(message.find("--host"), std::string::npos) << message;
  EXPECT_LT(seconds_, kMaxSeconds);
}

TEST_F(MetadataLimitsTest, KeepAliveGetHitsDeadline) {
  TricklingServer server(TrickleMode::kKeepAlive, milliseconds(200));
  HttpClient client = client_for(server, one_second_deadline());
  Result<HttpResponse> response = timed([&] { return client.get("/v1/models"); });
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout) << response.status().to_string();
  EXPECT_LT(seconds_, kMaxSeconds);
}

TEST_F(MetadataLimitsTest, GarbagePostHitsDeadline) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  HttpClient client = client_for(server, one_second_deadline());
  Result<HttpResponse> response =
      timed([&] { return client.post_json("/api/show", R"({"model":"m"})"); });
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout) << response.status().to_string();
  EXPECT_NE(response.status().message().find("POST " + server.url() + "/api/show"),
            std::string::npos)
      << response.status().message();
  EXPECT_LT(seconds_, kMaxSeconds);
}

TEST_F(MetadataLimitsTest, FloodHitsByteLimit) {
  TricklingServer server(TrickleMode::kFlood, milliseconds(0));
  HttpSettings settings;
  settings.total_timeout_s = 600;
  settings.max_body_bytes = 1 << 20;
  HttpClient client = client_for(server, settings);
  Result<HttpResponse> response = client.get("/api/tags");
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kParseError) << response.status().to_string();
  EXPECT_NE(response.status().message().find("exceeded 1048576 bytes"), std::string::npos)
      << response.status().message();
}

TEST_F(MetadataLimitsTest, DefaultLimitsApply) {
  const HttpSettings settings;
  EXPECT_EQ(settings.total_timeout_s, kMetadataTotalTimeoutS);
  EXPECT_EQ(settings.max_body_bytes, kMaxMetadataBodyBytes);
}

TEST_F(MetadataLimitsTest, CancelStopsGet) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  HttpSettings settings;
  settings.total_timeout_s = 600;
  settings.cancel = std::make_shared<CancelToken>();
  HttpClient client = client_for(server, settings);
  std::thread canceller = cancel_after_first_request(server, settings.cancel);
  Result<HttpResponse> response = timed([&] { return client.get("/api/tags"); });
  canceller.join();
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled) << response.status().to_string();
  EXPECT_LT(seconds_, kMaxSeconds);
}

TEST_F(MetadataLimitsTest, ProbeOfGarbageServerFails) {
  TricklingServer server(TrickleMode::kGarbage, milliseconds(200));
  ServerSettings settings;
  settings.backend = "ollama";
  settings.host = server.url();
  settings.connect_timeout_s = 1;
  const auto start = std::chrono::steady_clock::now();
  Status probed = probe_server(settings);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(probed.code(), ErrorCode::kUnavailable) << probed.to_string();
  EXPECT_NE(probed.message().find(server.url()), std::string::npos) << probed.message();
  EXPECT_NE(probed.message().find("timed out"), std::string::npos) << probed.message();
  EXPECT_LT(seconds, kMaxSeconds);
}

TEST_F(MetadataLimitsTest, ProbeCancelledIsNotUnavailable) {
  TricklingServer server(TrickleMode::kKeepAlive, milliseconds(200));
  ServerSettings settings;
  settings.backend = "openai";
  settings.host = server.url();
  settings.connect_timeout_s = 300;
  auto cancel = std::make_shared<CancelToken>();
  std::thread canceller = cancel_after_first_request(server, cancel);
  Status probed = probe_server(settings, cancel);
  canceller.join();
  EXPECT_EQ(probed.code(), ErrorCode::kCancelled) << probed.to_string();
}

}  // namespace
}  // namespace ollamaflow::llm
