#include "llm/server_signals.h"

#include <atomic>
#include <cmath>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/http_test_server.h"
#include "llm/prometheus.h"

namespace ollamaflow::llm {
namespace {

using ollamaflow::testing::closed_port;
using ollamaflow::testing::HttpTestServer;

// Trimmed from a real llama-server /metrics reply (-np 2, --metrics) with values changed.
constexpr const char* kMetrics = R"(# HELP llamacpp:prompt_tokens_total Number of prompt tokens
# TYPE llamacpp:prompt_tokens_total counter
llamacpp:prompt_tokens_total 120
# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s
# TYPE llamacpp:prompt_tokens_seconds gauge
llamacpp:prompt_tokens_seconds 812.5
# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s
# TYPE llamacpp:predicted_tokens_seconds gauge
llamacpp:predicted_tokens_seconds 140.25
# HELP llamacpp:requests_processing Number of requests processing
# TYPE llamacpp:requests_processing gauge
llamacpp:requests_processing 2
# HELP llamacpp:requests_deferred Number of requests deferred
# TYPE llamacpp:requests_deferred gauge
llamacpp:requests_deferred 3
)";

constexpr const char* kProps =
    R"({"default_generation_settings":{"params":{"seed":4294967295},"n_ctx":2048},)"
    R"("total_slots":2,"model_path":"tiny.gguf","build_info":"b1-80fb11a"})";

constexpr const char* kSlots = R"([{"id":0,"n_ctx":2048,"is_processing":true},)"
                               R"({"id":1,"n_ctx":2048,"is_processing":false}])";

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

std::string joined(const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) {
    text += line + "\n";
  }
  return text;
}

TEST(PrometheusTextTest, ParsesLlamaServerGauges) {
  Result<PrometheusSamples> samples = parse_prometheus_text(kMetrics);
  ASSERT_TRUE(samples.is_ok()) << samples.status().to_string();
  EXPECT_EQ(samples->size(), 5u);
  EXPECT_EQ(find_sample(*samples, "llamacpp:requests_deferred"), 3.0);
  EXPECT_EQ(find_sample(*samples, "llamacpp:predicted_tokens_seconds"), 140.25);
  EXPECT_FALSE(find_sample(*samples, "llamacpp:absent").has_value());
}

TEST(PrometheusTextTest, KeepsLabelSetsWithQuotedBraces) {
  Result<PrometheusSamples> samples = parse_prometheus_text(
      "http_requests_total{path=\"/a} b\",code=\"200\"} 7 1712345678000\n"
      "temperature{gpu=\"0\"}   -1.5e1\n");
  ASSERT_TRUE(samples.is_ok()) << samples.status().to_string();
  EXPECT_EQ(find_sample(*samples, "http_requests_total{path=\"/a} b\",code=\"200\"}"), 7.0);
  EXPECT_EQ(find_sample(*samples, "temperature{gpu=\"0\"}"), -15.0);
}

TEST(PrometheusTextTest, AcceptsNanAndInfinities) {
  Result<PrometheusSamples> samples = parse_prometheus_text("a NaN\nb +Inf\nc -Inf\r\n");
  ASSERT_TRUE(samples.is_ok()) << samples.status().to_string();
  EXPECT_TRUE(std::isnan(samples->at("a")));
  EXPECT_EQ(samples->at("b"), INFINITY);
  EXPECT_EQ(samples->at("c"), -INFINITY);
}

TEST(PrometheusTextTest, RejectsBadLinesWithLineNumber) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"ok 1\n<html>\n", "line 2"},         {"ok 1\nmissing_value\n", "the value is missing"},
      {"x 0x10\n", "invalid value '0x10'"}, {"x 1 soon\n", "invalid timestamp 'soon'"},
      {"x{a=\"1\" 1\n", "not closed"},      {"9lives 1\n", "must start with"},
      {"x-y 1\n", "a space must separate"},
  };
  for (const Case& c : cases) {
    Result<PrometheusSamples> samples = parse_prometheus_text(c.text);
    ASSERT_FALSE(samples.is_ok()) << c.text;
    EXPECT_EQ(samples.status().code(), ErrorCode::kParseError) << c.text;
    EXPECT_TRUE(contains(samples.status().message(), c.reason)) << samples.status().message();
  }
}

TEST(PrometheusTextTest, EmptyTextHasNoSamples) {
  Result<PrometheusSamples> samples = parse_prometheus_text("\n# only a comment\n\n");
  ASSERT_TRUE(samples.is_ok());
  EXPECT_TRUE(samples->empty());
}

TEST(ParsePropsTest, ReadsSlotsAndSlotContext) {
  Result<PropsReading> props = parse_props(kProps);
  ASSERT_TRUE(props.is_ok()) << props.status().to_string();
  EXPECT_EQ(props->total_slots, 2);
  EXPECT_EQ(props->slot_ctx, 2048);
  EXPECT_EQ(props->build_info, "b1-80fb11a");
}

TEST(ParsePropsTest, MissingSlotsAreUnknown) {
  Result<PropsReading> props = parse_props(R"({"build_info":"x"})");
  ASSERT_TRUE(props.is_ok());
  EXPECT_FALSE(props->total_slots.has_value());
  EXPECT_FALSE(props->slot_ctx.has_value());
}

TEST(ParsePropsTest, RejectsInvalidBodies) {
  for (const char* body : {"not json", "[1,2]", R"({"total_slots":0})", R"({"total_slots":"4"})",
                           R"({"total_slots":-2})"}) {
    Result<PropsReading> props = parse_props(body);
    EXPECT_FALSE(props.is_ok()) << body;
    EXPECT_EQ(props.status().code(), ErrorCode::kParseError) << body;
  }
}

TEST(ParsePropsTest, InvalidSlotContextHasNote) {
  Result<PropsReading> props =
      parse_props(R"({"total_slots":2,"default_generation_settings":{"n_ctx":-1}})");
  ASSERT_TRUE(props.is_ok()) << props.status().to_string();
  EXPECT_EQ(props->total_slots, 2);
  EXPECT_FALSE(props->slot_ctx.has_value());
  ASSERT_EQ(props->notes.size(), 1u);
  EXPECT_TRUE(contains(props->notes[0], "default_generation_settings.n_ctx is -1"))
      << props->notes[0];
}

TEST(ParsePropsTest, ErrorsQuoteTheValue) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"not json", "the body is not JSON: \"not json\""},
      {"[1,2]", "the body is \"[1,2]\""},
      {R"({"total_slots":0})", "total_slots is 0"},
      {R"({"total_slots":-2})", "total_slots is -2"}};
  for (const auto& [body, part] : cases) {
    Result<PropsReading> props = parse_props(body);
    ASSERT_FALSE(props.is_ok()) << body;
    EXPECT_TRUE(contains(props.status().message(), part)) << props.status().message();
  }
}

TEST(ParseSlotsTest, CountsBusySlots) {
  Result<SlotsReading> slots = parse_slots(kSlots);
  ASSERT_TRUE(slots.is_ok()) << slots.status().to_string();
  EXPECT_EQ(slots->total, 2);
  EXPECT_EQ(slots->busy, 1);
}

TEST(ParseSlotsTest, ReadsOlderStateField) {
  Result<SlotsReading> slots = parse_slots(R"([{"id":0,"state":1},{"id":1,"state":0}])");
  ASSERT_TRUE(slots.is_ok()) << slots.status().to_string();
  EXPECT_EQ(slots->busy, 1);
}

TEST(ParseSlotsTest, RejectsEntryWithoutBusyField) {
  Result<SlotsReading> slots = parse_slots(R"([{"id":0,"is_processing":false},{"id":1}])");
  ASSERT_FALSE(slots.is_ok());
  EXPECT_TRUE(contains(slots.status().message(), "entry 1")) << slots.status().message();
  EXPECT_FALSE(parse_slots(R"({"error":"x"})").is_ok());
}

TEST(ApplyMetricsTest, FillsQueueAndRates) {
  ServerReading reading;
  ASSERT_TRUE(apply_metrics(kMetrics, reading).is_ok());
  EXPECT_EQ(reading.requests_processing, 2);
  EXPECT_EQ(reading.requests_deferred, 3);
  EXPECT_EQ(reading.prompt_tokens_per_s, 812.5);
  EXPECT_EQ(reading.output_tokens_per_s, 140.25);
  EXPECT_TRUE(reading.notes.empty());
}

TEST(ApplyMetricsTest, RejectsNegativeOrNanCounts) {
  for (const char* text : {"llamacpp:requests_deferred -1\n", "llamacpp:requests_processing NaN\n",
                           "llamacpp:requests_processing +Inf\n"}) {
    ServerReading reading;
    Status applied = apply_metrics(text, reading);
    EXPECT_EQ(applied.code(), ErrorCode::kParseError) << text;
    EXPECT_FALSE(reading.requests_deferred.has_value()) << text;
  }
}

TEST(ApplyMetricsTest, OtherServersMetricsLeaveANote) {
  ServerReading reading;
  ASSERT_TRUE(apply_metrics("vllm:num_requests_waiting 4\n", reading).is_ok());
  EXPECT_FALSE(reading.requests_deferred.has_value());
  ASSERT_EQ(reading.notes.size(), 1u);
  EXPECT_TRUE(contains(reading.notes[0], "llamacpp:requests_"));
}

class LlamaServerSignalReaderTest : public ::testing::Test {
 protected:
  void serve(const std::string& path, int status, std::string body) {
    server_.server().Get(path, [status, body](const httplib::Request&, httplib::Response& res) {
      res.status = status;
      res.set_content(body, "text/plain");
    });
  }

  ServerReading read(const std::string& host) {
    ServerSettings settings;
    settings.backend = "openai";
    settings.host = host;
    Result<std::unique_ptr<LlamaServerSignalReader>> reader =
        LlamaServerSignalReader::create(settings, clock_, 5);
    EXPECT_TRUE(reader.is_ok()) << reader.status().to_string();
    return reader.is_ok() ? (*reader)->read() : ServerReading{};
  }

  ServerReading read() {
    server_.start();
    return read(server_.url());
  }

  HttpTestServer server_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>();
};

TEST_F(LlamaServerSignalReaderTest, ReadsAllThreeEndpoints) {
  serve("/props", 200, kProps);
  serve("/slots", 200, kSlots);
  serve("/metrics", 200, kMetrics);
  const ServerReading reading = read();
  EXPECT_EQ(reading.total_slots, 2);
  EXPECT_EQ(reading.slot_ctx, 2048);
  EXPECT_EQ(reading.busy_slots, 1);
  EXPECT_EQ(reading.requests_deferred, 3);
  EXPECT_EQ(reading.output_tokens_per_s, 140.25);
  EXPECT_TRUE(reading.notes.empty()) << joined(reading.notes);
  EXPECT_TRUE(contains(reading.source, server_.url()));
}

TEST_F(LlamaServerSignalReaderTest, DisabledSlotsFallBackToMetrics) {
  serve("/props", 200, kProps);
  serve("/slots", 501, R"({"error":{"code":501,"message":"This server does not support slots"}})");
  serve("/metrics", 200, kMetrics);
  const ServerReading reading = read();
  EXPECT_EQ(reading.busy_slots, 2);
  EXPECT_EQ(reading.total_slots, 2);
  EXPECT_TRUE(contains(joined(reading.notes), "HTTP 501")) << joined(reading.notes);
}

TEST_F(LlamaServerSignalReaderTest, DisabledMetricsLeaveQueueUnknown) {
  serve("/props", 200, kProps);
  serve("/slots", 200, kSlots);
  serve("/metrics", 501, "metrics disabled");
  const ServerReading reading = read();
  EXPECT_EQ(reading.busy_slots, 1);
  EXPECT_FALSE(reading.requests_deferred.has_value());
  EXPECT_TRUE(contains(joined(reading.notes), "--metrics")) << joined(reading.notes);
}

TEST_F(LlamaServerSignalReaderTest, GarbageBodiesAreUnknownWithReason) {
  serve("/props", 200, "<html>busy</html>");
  serve("/slots", 200, "[{\"id\":0}]");
  serve("/metrics", 200, "llamacpp:requests_deferred many\n");
  const ServerReading reading = read();
  EXPECT_FALSE(reading.total_slots.has_value());
  EXPECT_FALSE(reading.busy_slots.has_value());
  EXPECT_FALSE(reading.requests_deferred.has_value());
  const std::string notes = joined(reading.notes);
  EXPECT_TRUE(contains(notes, "/props did not return a JSON object")) << notes;
  EXPECT_TRUE(contains(notes, "invalid value 'many'")) << notes;
  EXPECT_TRUE(contains(notes, "entry 0")) << notes;
}

TEST_F(LlamaServerSignalReaderTest, InvalidSlotContextIsNoted) {
  serve("/props", 200, R"({"total_slots":2,"default_generation_settings":{"n_ctx":-1}})");
  serve("/slots", 200, kSlots);
  serve("/metrics", 200, kMetrics);
  const ServerReading reading = read();
  EXPECT_EQ(reading.total_slots, 2);
  EXPECT_FALSE(reading.slot_ctx.has_value());
  EXPECT_TRUE(contains(joined(reading.notes), "n_ctx is -1")) << joined(reading.notes);
}

TEST_F(LlamaServerSignalReaderTest, SlotsListGivesCountWhenPropsLacksIt) {
  serve("/props", 200, R"({"build_info":"old"})");
  serve("/slots", 200, kSlots);
  serve("/metrics", 404, "");
  const ServerReading reading = read();
  EXPECT_EQ(reading.total_slots, 2);
}

TEST_F(LlamaServerSignalReaderTest, CancelEndsReadAtStalledServer) {
  server_.server().Get("/props", [this](const httplib::Request&, httplib::Response& res) {
    server_.gate().pass();
    res.set_content(kProps, "application/json");
  });
  std::atomic<int> later_requests{0};
  for (const char* path : {"/metrics", "/slots"}) {
    server_.server().Get(path, [&later_requests](const httplib::Request&, httplib::Response& res) {
      ++later_requests;
      res.set_content("", "text/plain");
    });
  }
  server_.start();
  ServerSettings settings;
  settings.backend = "openai";
  settings.host = server_.url();
  auto cancel = std::make_shared<CancelToken>();
  // A timeout far above the test's run time: only the cancel can end the stalled /props.
  Result<std::unique_ptr<LlamaServerSignalReader>> reader =
      LlamaServerSignalReader::create(settings, clock_, 60, cancel);
  ASSERT_TRUE(reader.is_ok()) << reader.status().to_string();
  std::thread canceller([this, &cancel] {
    server_.gate().wait_for_waiters(1);
    cancel->cancel();
  });
  const ServerReading reading = (*reader)->read();
  canceller.join();
  EXPECT_TRUE(contains(joined(reading.notes), "read cancelled")) << joined(reading.notes);
  EXPECT_FALSE(reading.total_slots.has_value());
  EXPECT_EQ(later_requests.load(), 0) << "endpoints were read after the cancel";
}

TEST_F(LlamaServerSignalReaderTest, UnreachableServerIsAllUnknown) {
  const ServerReading reading = read("http://127.0.0.1:" + std::to_string(closed_port()) + "/v1");
  EXPECT_FALSE(reading.total_slots.has_value());
  EXPECT_FALSE(reading.busy_slots.has_value());
  EXPECT_FALSE(reading.requests_processing.has_value());
  EXPECT_EQ(reading.notes.size(), 3u) << joined(reading.notes);
}

TEST(ConfiguredSlotsTest, NamesTheSourceOfTheSetting) {
  Config config = default_config();
  ConfiguredSlots unset = configured_slots(config);
  EXPECT_FALSE(unset.slots.has_value());
  EXPECT_TRUE(contains(unset.source, "default is 1"));
  config.server.num_parallel = 4;
  config.sources["server.num_parallel"] = "env:OLLAMA_NUM_PARALLEL";
  ConfiguredSlots set = configured_slots(config);
  EXPECT_EQ(set.slots, 4);
  EXPECT_TRUE(contains(set.source, "(environment variable OLLAMA_NUM_PARALLEL)")) << set.source;
}

}  // namespace
}  // namespace ollamaflow::llm
