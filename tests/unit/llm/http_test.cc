#include "llm/http.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/log.h"
#include "fakes/http_test_server.h"
#include "fakes/log_capture.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::closed_port;
using ollamaflow::testing::HttpTestServer;

TEST(ParseBaseUrlTest, FullUrl) {
  Result<BaseUrl> url = parse_base_url("https://gpu1.example:8443/ollama/", 11434);
  ASSERT_TRUE(url.is_ok()) << url.status().to_string();
  EXPECT_EQ(url->scheme, "https");
  EXPECT_EQ(url->host, "gpu1.example");
  EXPECT_EQ(url->port, 8443);
  EXPECT_EQ(url->path_prefix, "/ollama");
  EXPECT_EQ(url->to_string(), "https://gpu1.example:8443/ollama");
}

TEST(ParseBaseUrlTest, DefaultPorts) {
  EXPECT_EQ(parse_base_url("gpu1", 11434)->port, 11434);
  EXPECT_EQ(parse_base_url("gpu1", 11434)->scheme, "http");
  EXPECT_EQ(parse_base_url("gpu1:8080", 11434)->port, 8080);
  EXPECT_EQ(parse_base_url("http://gpu1", 11434)->port, 80);
  EXPECT_EQ(parse_base_url("HTTPS://gpu1", 11434)->port, 443);
}

TEST(ParseBaseUrlTest, CredentialsRejectedAndRedacted) {
  for (const char* url :
       {"http://bob:pw-123@gpu1:11434", "bob:pw-123@gpu1", "https://pw-123@gpu1/x"}) {
    Result<BaseUrl> parsed = parse_base_url(url, 11434);
    ASSERT_FALSE(parsed.is_ok()) << url;
    EXPECT_EQ(parsed.status().code(), ErrorCode::kInvalidArgument) << url;
    EXPECT_EQ(parsed.status().message().find("pw-123"), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("***@gpu1"), std::string::npos)
        << parsed.status().message();
    EXPECT_NE(parsed.status().message().find("--api-key"), std::string::npos)
        << parsed.status().message();
  }
  // An @ in the path is not a credential.
  EXPECT_TRUE(parse_base_url("http://gpu1:11434/team@x", 11434).is_ok());
}

TEST(ParseBaseUrlTest, Ipv6Literal) {
  Result<BaseUrl> url = parse_base_url("http://[::1]:11434", 11434);
  ASSERT_TRUE(url.is_ok());
  EXPECT_EQ(url->host, "[::1]");
  EXPECT_EQ(url->port, 11434);
}

TEST(ParseBaseUrlTest, InvalidUrls) {
  for (const char* text :
       {"ftp://gpu1", "http://:80", "http://gpu1:0", "http://gpu1:65536", "http://gpu1:abc", "",
        "not a url", "http://gpu 1:80", "http://user@gpu1", "gpu1?x=1", "http://[::1 ]"}) {
    Result<BaseUrl> url = parse_base_url(text, 11434);
    EXPECT_FALSE(url.is_ok()) << text;
    EXPECT_EQ(url.status().code(), ErrorCode::kInvalidArgument) << text;
  }
  EXPECT_TRUE(parse_base_url("http://gpu1:65535", 11434).is_ok());
  EXPECT_TRUE(parse_base_url("http://gpu1:1", 11434).is_ok());
  EXPECT_TRUE(parse_base_url("http://my_host.local", 11434).is_ok());
  EXPECT_TRUE(parse_base_url("http://[fe80::1%eth0]:8080", 11434).is_ok());
}

TEST(ErrorCodeForHttpStatusTest, Table) {
  EXPECT_EQ(error_code_for_http_status(200), ErrorCode::kOk);
  EXPECT_EQ(error_code_for_http_status(299), ErrorCode::kOk);
  EXPECT_EQ(error_code_for_http_status(400), ErrorCode::kInvalidArgument);
  EXPECT_EQ(error_code_for_http_status(401), ErrorCode::kPermissionDenied);
  EXPECT_EQ(error_code_for_http_status(404), ErrorCode::kNotFound);
  EXPECT_EQ(error_code_for_http_status(413), ErrorCode::kContextOverflow);
  EXPECT_EQ(error_code_for_http_status(429), ErrorCode::kServerBusy);
  EXPECT_EQ(error_code_for_http_status(499), ErrorCode::kInternal);
  EXPECT_EQ(error_code_for_http_status(500), ErrorCode::kServerError);
  EXPECT_EQ(error_code_for_http_status(502), ErrorCode::kServerError);
  EXPECT_EQ(error_code_for_http_status(503), ErrorCode::kServerBusy);
  EXPECT_EQ(error_code_for_http_status(504), ErrorCode::kTimeout);
  EXPECT_EQ(error_code_for_http_status(599), ErrorCode::kServerError);
  EXPECT_EQ(error_code_for_http_status(600), ErrorCode::kInternal);
}

TEST(ErrorTextFromBodyTest, Shapes) {
  EXPECT_EQ(error_text_from_body(R"({"error":"model 'x' not found"})"), "model 'x' not found");
  EXPECT_EQ(error_text_from_body(R"({"error":{"message":"Grammar error","code":400}})"),
            "Grammar error");
  EXPECT_EQ(error_text_from_body(R"({"message":"Compute error."})"), "Compute error.");
  EXPECT_EQ(error_text_from_body(R"({"detail":"Not Found"})"), "Not Found");
  EXPECT_EQ(error_text_from_body("Bad Gateway\n"), "Bad Gateway");
  EXPECT_EQ(error_text_from_body(std::string(600, 'x')).size(), 503u);
}

class HttpClientTest : public ::testing::Test {
 protected:
  HttpClientTest() {
    server_.server().Get("/text", [](const httplib::Request&, httplib::Response& res) {
      res.set_content("hello", "text/plain");
    });
    server_.server().Get("/missing", [](const httplib::Request&, httplib::Response& res) {
      res.status = 404;
      res.set_content(R"({"error":"not here"})", "application/json");
    });
    server_.server().Post("/echo", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(req.body + "|" + req.get_header_value("Authorization"), "text/plain");
    });
    server_.server().Post("/busy", [](const httplib::Request&, httplib::Response& res) {
      res.status = 503;
      res.set_content(R"({"error":"server busy, please try again."})", "application/json");
    });
    server_.server().Post("/paced", [this](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider(
          "application/x-ndjson",
          [this](size_t, httplib::DataSink& sink) { return send_paced(sink); });
    });
    server_.server().Post("/cut", [](const httplib::Request&, httplib::Response& res) {
      res.set_chunked_content_provider("application/x-ndjson", [](size_t, httplib::DataSink& sink) {
        sink.write("partial", 7);
        return false;
      });
    });
    server_.start();
  }

  // Streams chunks_ one at a time, each after the gate lets it through.
  bool send_paced(httplib::DataSink& sink) {
    for (const std::string& chunk : chunks_) {
      if (!server_.gate().pass()) {
        return false;
      }
      if (!sink.write(chunk.data(), chunk.size())) {
        return false;
      }
    }
    sink.done();
    return true;
  }

  HttpClient client(std::shared_ptr<Clock> clock, HttpSettings settings = {}) {
    return HttpClient(*parse_base_url(server_.url(), 0), settings, std::move(clock));
  }

  std::vector<std::string> chunks_ = {"a\n", "b\n", "c\n", "d\n"};
  HttpTestServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
  CancelToken cancel_;
};

TEST_F(HttpClientTest, GetReturnsBody) {
  Result<HttpResponse> response = client(clock_).get("/text");
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(response->body, "hello");
  EXPECT_EQ(response->content_type, "text/plain");
}

TEST_F(HttpClientTest, GetReturnsErrorStatus) {
  Result<HttpResponse> response = client(clock_).get("/missing");
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(response->status, 404);
  EXPECT_EQ(error_text_from_body(response->body), "not here");
}

TEST_F(HttpClientTest, PostSendsBearerToken) {
  HttpSettings settings;
  settings.bearer_token = "secret";
  Result<HttpResponse> response = client(clock_, settings).post_json("/echo", "{}");
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(response->body, "{}|Bearer secret");
}

TEST_F(HttpClientTest, ConnectionRefusedNamesHost) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  HttpClient refused(*parse_base_url(url, 0), {}, clock_);
  Result<HttpResponse> response = refused.get("/api/version");
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kUnavailable);
  EXPECT_NE(response.status().message().find(url), std::string::npos);
  EXPECT_NE(response.status().message().find("start the model server or pass --host"),
            std::string::npos)
      << response.status().message();
}

TEST_F(HttpClientTest, ConnectionRefusedGivesStartHint) {
  const std::string url = "http://127.0.0.1:" + std::to_string(closed_port());
  HttpSettings settings;
  settings.start_hint = kOpenAiStartHint;
  HttpClient refused(*parse_base_url(url, 0), settings, clock_);
  Result<HttpResponse> response = refused.get("/v1/models");
  ASSERT_FALSE(response.is_ok());
  EXPECT_NE(response.status().message().find(std::string(kOpenAiStartHint) + " or pass --host"),
            std::string::npos)
      << response.status().message();
  EXPECT_EQ(response.status().message().find("ollama serve"), std::string::npos)
      << response.status().message();
}

TEST_F(HttpClientTest, UnresolvableHostNamesHost) {
  HttpClient unknown(*parse_base_url("http://model-server.invalid:11434", 0), {}, clock_);
  for (const Status& status :
       {unknown.get("/api/version").status(), unknown.post_json("/x", "{}").status()}) {
    EXPECT_EQ(status.code(), ErrorCode::kUnavailable);
    EXPECT_NE(status.message().find("'model-server.invalid'"), std::string::npos);
    EXPECT_NE(status.message().find("could not be resolved"), std::string::npos);
    EXPECT_NE(status.message().find("--host"), std::string::npos);
  }
}

TEST_F(HttpClientTest, StreamDeliversChunks) {
  server_.gate().open(4);
  StreamWatch watch(*clock_, 10, 10);
  std::string received;
  Result<HttpResponse> response = client(clock_).post_stream(
      "/paced", "{}", watch,
      [&](std::string_view chunk) {
        received.append(chunk);
        return Status::ok();
      },
      cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_EQ(response->status, 200);
  EXPECT_EQ(received, "a\nb\nc\nd\n");
  EXPECT_TRUE(response->body.empty());
}

TEST_F(HttpClientTest, StreamCollectsErrorBody) {
  StreamWatch watch(*clock_, 10, 10);
  bool called = false;
  Result<HttpResponse> response = client(clock_).post_stream(
      "/busy", "{}", watch,
      [&](std::string_view) {
        called = true;
        return Status::ok();
      },
      cancel_);
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(response->status, 503);
  EXPECT_EQ(error_text_from_body(response->body), "server busy, please try again.");
  EXPECT_FALSE(called);
}

TEST_F(HttpClientTest, CancelMidStream) {
  server_.gate().open(1);
  StreamWatch watch(*clock_, 10, 10);
  int chunks = 0;
  Result<HttpResponse> response = client(clock_).post_stream(
      "/paced", "{}", watch,
      [&](std::string_view) {
        ++chunks;
        cancel_.cancel();
        server_.gate().open(3);
        return Status::ok();
      },
      cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(chunks, 1);
}

TEST_F(HttpClientTest, CancelledBeforeSend) {
  cancel_.cancel();
  StreamWatch watch(*clock_, 10, 10);
  bool sent = false;
  Result<HttpResponse> response = client(clock_).post_stream(
      "/paced", "{}", watch, [](std::string_view) { return Status::ok(); }, cancel_, &sent);
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_FALSE(sent);
}

TEST_F(HttpClientTest, StreamMarksRequestSent) {
  StreamWatch watch(*clock_, 10, 10);
  bool sent = false;
  Result<HttpResponse> response = client(clock_).post_stream(
      "/busy", "{}", watch, [](std::string_view) { return Status::ok(); }, cancel_, &sent);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_TRUE(sent);
}

// Each chunk moves the fake clock by one second without content, like keep-alive lines, so
// the fourth chunk arrives at t = 3 s.
Status run_without_content(HttpClient& http, FakeClock& clock, double first_token_timeout_s,
                           const CancelToken& cancel) {
  StreamWatch watch(clock, first_token_timeout_s, 100);
  return http
      .post_stream(
          "/paced", "{}", watch,
          [&](std::string_view) {
            clock.advance(std::chrono::seconds(1));
            return Status::ok();
          },
          cancel)
      .status();
}

TEST_F(HttpClientTest, FirstTokenTimeoutJustAbove) {
  server_.gate().open(100);
  HttpClient http = client(clock_);
  const Status status = run_without_content(http, *clock_, 2.5, cancel_);
  EXPECT_EQ(status.code(), ErrorCode::kTimeout);
  EXPECT_NE(status.message().find("no first token within 2.5 s"), std::string::npos)
      << status.message();
}

TEST_F(HttpClientTest, FirstTokenTimeoutJustBelow) {
  server_.gate().open(100);
  HttpClient http = client(clock_);
  EXPECT_TRUE(run_without_content(http, *clock_, 3.5, cancel_).is_ok());
}

// The server keeps the request open and sends no chunk, so only the watcher can see the deadline.
TEST_F(HttpClientTest, FirstTokenTimeoutWithoutAnyChunk) {
  StreamWatch watch(*clock_, 2.5, 100);
  std::thread advancer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    clock_->advance(std::chrono::seconds(3));
  });
  const auto started = std::chrono::steady_clock::now();
  const Status status =
      client(clock_)
          .post_stream(
              "/paced", "{}", watch, [](std::string_view) { return Status::ok(); }, cancel_)
          .status();
  const double waited_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  advancer.join();
  server_.gate().open(100);
  EXPECT_EQ(status.code(), ErrorCode::kTimeout) << status.to_string();
  EXPECT_NE(status.message().find("within 2.5 s (server.first_token_timeout_s)"), std::string::npos)
      << status.message();
  EXPECT_LT(waited_s, 30);
}

TEST(StreamWatchTest, WaitReportsAt30ThenEvery60Seconds) {
  FakeClock clock;
  StreamWatch watch(clock, 300, 100);
  clock.advance(std::chrono::milliseconds(29'900));
  EXPECT_FALSE(watch.due_wait_report().has_value());
  clock.advance(std::chrono::milliseconds(200));
  const std::optional<double> first = watch.due_wait_report();
  ASSERT_TRUE(first.has_value());
  EXPECT_DOUBLE_EQ(*first, 30.1);
  EXPECT_FALSE(watch.due_wait_report().has_value());
  clock.advance(std::chrono::milliseconds(59'800));
  EXPECT_FALSE(watch.due_wait_report().has_value());
  clock.advance(std::chrono::milliseconds(200));
  EXPECT_TRUE(watch.due_wait_report().has_value());
  // A watcher that falls behind reports once, not once per missed period.
  clock.advance(std::chrono::seconds(200));
  EXPECT_TRUE(watch.due_wait_report().has_value());
  EXPECT_FALSE(watch.due_wait_report().has_value());
}

TEST(StreamWatchTest, NoWaitReportAfterContent) {
  FakeClock clock;
  StreamWatch watch(clock, 300, 100);
  clock.advance(std::chrono::seconds(10));
  watch.mark_content();
  clock.advance(std::chrono::seconds(50));
  EXPECT_FALSE(watch.due_wait_report().has_value());
}

// The server keeps the request open and sends nothing: a line names the wait at 30 s, before the
// request times out.
TEST_F(HttpClientTest, FirstTokenWaitIsLogged) {
  ollamaflow::testing::LogCapture log("llm");
  StreamWatch watch(*clock_, 100, 100);
  std::thread advancer([this] {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    clock_->advance(std::chrono::seconds(31));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    clock_->advance(std::chrono::seconds(70));
  });
  const Status status =
      client(clock_)
          .post_stream(
              "/paced", "{}", watch, [](std::string_view) { return Status::ok(); }, cancel_)
          .status();
  advancer.join();
  server_.gate().open(100);
  EXPECT_EQ(status.code(), ErrorCode::kTimeout) << status.to_string();
  const std::string text = log.text();
  EXPECT_NE(text.find("POST " + server_.url() + "/paced stream="), std::string::npos) << text;
  EXPECT_NE(text.find("no first token after 31 s"), std::string::npos) << text;
  EXPECT_NE(text.find("the request times out at 100 s (server.first_token_timeout_s)"),
            std::string::npos)
      << text;
}

TEST(StreamWatchTest, ProgressReportsAt30ThenEvery60Seconds) {
  FakeClock clock;
  StreamWatch watch(clock, 300, 100, "planning", 2048);
  clock.advance(std::chrono::seconds(10));
  for (int i = 0; i < 40; ++i) {
    watch.mark_content();
    clock.advance(std::chrono::milliseconds(490));
  }
  // 40 tokens from t = 10 s; the clock is now at 29.6 s.
  EXPECT_FALSE(watch.due_progress_report().has_value());
  clock.advance(std::chrono::milliseconds(400));
  const std::optional<StreamProgress> first = watch.due_progress_report();
  ASSERT_TRUE(first.has_value());
  EXPECT_DOUBLE_EQ(first->elapsed_s, 30);
  EXPECT_EQ(first->tokens, 40);
  EXPECT_DOUBLE_EQ(first->tokens_per_s, 2);
  EXPECT_FALSE(watch.due_progress_report().has_value());
  clock.advance(std::chrono::milliseconds(59'900));
  EXPECT_FALSE(watch.due_progress_report().has_value());
  clock.advance(std::chrono::milliseconds(200));
  const std::optional<StreamProgress> second = watch.due_progress_report();
  ASSERT_TRUE(second.has_value());
  EXPECT_EQ(second->tokens, 40);
  // A watcher that falls behind reports once, not once per missed period.
  clock.advance(std::chrono::seconds(200));
  EXPECT_TRUE(watch.due_progress_report().has_value());
  EXPECT_FALSE(watch.due_progress_report().has_value());
}

TEST(StreamWatchTest, NoProgressReportBeforeContent) {
  FakeClock clock;
  StreamWatch watch(clock, 300, 100, "planning", 2048);
  clock.advance(std::chrono::seconds(100));
  EXPECT_FALSE(watch.due_progress_report().has_value());
}

// The wait lines and the progress lines share one schedule, so the first token after a wait line
// brings no extra line in the same period.
TEST(StreamWatchTest, ProgressFollowsWaitSchedule) {
  FakeClock clock;
  StreamWatch watch(clock, 300, 100);
  clock.advance(std::chrono::seconds(31));
  ASSERT_TRUE(watch.due_wait_report().has_value());
  watch.mark_content();
  clock.advance(std::chrono::seconds(10));
  EXPECT_FALSE(watch.due_progress_report().has_value());
  clock.advance(std::chrono::seconds(50));
  EXPECT_TRUE(watch.due_progress_report().has_value());
}

// Twenty tokens arrive 1.5 fake seconds apart and the server then keeps the stream open, so the
// watcher finds the reply streaming at t = 30 s and logs its progress.
TEST_F(HttpClientTest, StreamProgressIsLogged) {
  ollamaflow::testing::LogCapture log("llm");
  chunks_.assign(21, "t\n");
  server_.gate().open(20);
  StreamWatch watch(*clock_, 100, 100, "planning", 500);

  // Lets the last chunk through once the line is logged, or after 20 s of real time.
  std::thread opener([this, &log] {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (log.text().find("tokens received") == std::string::npos &&
           std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    server_.gate().open(1);
  });
  const Status status = client(clock_)
                            .post_stream(
                                "/paced", "{}", watch,
                                [&](std::string_view chunk) {
                                  for (char c : chunk) {
                                    if (c == '\n') {
                                      watch.mark_content();
                                      clock_->advance(std::chrono::milliseconds(1500));
                                    }
                                  }
                                  return Status::ok();
                                },
                                cancel_)
                            .status();
  opener.join();

  EXPECT_TRUE(status.is_ok()) << status.to_string();
  const std::string text = log.text();
  EXPECT_NE(text.find("POST " + server_.url() + "/paced stream="), std::string::npos) << text;
  EXPECT_NE(text.find(" for planning: 20 tokens received after 30 s, 0.7 tokens/s."),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("The reply ends at num_predict=500 tokens at the latest, about 720 s from "
                      "now at this rate"),
            std::string::npos)
      << text;
  EXPECT_EQ(text.find("no first token"), std::string::npos) << text;
}

// Content arrives with one fake second between chunks, except five seconds before the third.
Status run_with_gap(HttpClient& http, FakeClock& clock, double idle_timeout_s,
                    const CancelToken& cancel) {
  StreamWatch watch(clock, 100, idle_timeout_s);
  int index = 0;
  return http
      .post_stream(
          "/paced", "{}", watch,
          [&](std::string_view) {
            watch.mark_content();
            ++index;
            clock.advance(std::chrono::seconds(index == 2 ? 5 : 1));
            return Status::ok();
          },
          cancel)
      .status();
}

TEST_F(HttpClientTest, IdleTimeoutJustAbove) {
  server_.gate().open(100);
  HttpClient http = client(clock_);
  const Status status = run_with_gap(http, *clock_, 4.5, cancel_);
  EXPECT_EQ(status.code(), ErrorCode::kTimeout);
  EXPECT_NE(status.message().find("no new token for 4.5 s"), std::string::npos) << status.message();
}

TEST_F(HttpClientTest, IdleTimeoutJustBelow) {
  server_.gate().open(100);
  HttpClient http = client(clock_);
  EXPECT_TRUE(run_with_gap(http, *clock_, 5.5, cancel_).is_ok());
}

TEST_F(HttpClientTest, StalledSocketTimesOut) {
  server_.gate().open(1);
  std::shared_ptr<Clock> real = system_clock();
  StreamWatch watch(*real, 0.3, 0.3);
  Result<HttpResponse> response = client(real).post_stream(
      "/paced", "{}", watch,
      [&](std::string_view) {
        watch.mark_content();
        return Status::ok();
      },
      cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kTimeout) << response.status().to_string();
}

TEST_F(HttpClientTest, ConnectionCutMidStream) {
  StreamWatch watch(*clock_, 10, 10);
  Result<HttpResponse> response = client(clock_).post_stream(
      "/cut", "{}", watch, [](std::string_view) { return Status::ok(); }, cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError) << response.status().to_string();
  EXPECT_NE(response.status().message().find("closed in the middle"), std::string::npos);
  EXPECT_NE(response.status().message().find(
                "the connection to " + server_.url() +
                " was closed in the middle of the response, so the server stopped, restarted or "
                "crashed: check its log and that it still runs, then try again"),
            std::string::npos)
      << response.status().message();
}

TEST_F(HttpClientTest, HandlerErrorStopsStream) {
  server_.gate().open(100);
  StreamWatch watch(*clock_, 10, 10);
  Result<HttpResponse> response = client(clock_).post_stream(
      "/paced", "{}", watch,
      [](std::string_view) { return Status(ErrorCode::kServerError, "error line"); }, cancel_);
  EXPECT_EQ(response.status().code(), ErrorCode::kServerError);
  EXPECT_EQ(response.status().message(), "error line");
}

}  // namespace
}  // namespace ollamaflow::llm
