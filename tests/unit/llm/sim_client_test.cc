#include "llm/sim_client.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <thread>

#include "fakes/http_test_server.h"
#include "fakes/log_capture.h"
#include "llm/schema.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;
using ollamaflow::testing::Gate;

class SimClientTest : public ::testing::Test {
 protected:
  std::shared_ptr<SimClient> client() {
    Result<std::shared_ptr<SimClient>> created = SimClient::create(settings_, clock_);
    EXPECT_TRUE(created.is_ok()) << created.status().to_string();
    return created.value_or(nullptr);
  }

  static ChatRequest request(json schema = nullptr) {
    ChatRequest request;
    request.model = "llama3.1:8b";
    // 400 characters of prompt: 100 estimated tokens.
    request.messages = {{"system", std::string(200, 's')},
                        {"user", "Goal: build a calculator\n" + std::string(175, 'u')}};
    request.schema = std::move(schema);
    return request;
  }

  // Starts a request on another thread and returns once it has a slot and waits inside
  // its first token callback, where it stays until the test opens gate_.
  std::thread hold_slot(const std::shared_ptr<SimClient>& sim, Result<ChatResponse>* result) {
    std::thread holder([this, sim, result] {
      bool first = true;
      *result = sim->chat(request(), cancel_, [&](const std::string&) {
        if (first) {
          first = false;
          gate_.pass();
        }
      });
    });
    gate_.wait_for_waiters(1);
    return holder;
  }

  SimSettings settings_;
  std::shared_ptr<FakeClock> clock_ = std::make_shared<FakeClock>(/*auto_advance=*/true);
  CancelToken cancel_;
  Gate gate_;
};

TEST_F(SimClientTest, CreateRejectsInvalidSettings) {
  struct Case {
    const char* key;
    SimSettings settings;
  };
  std::vector<Case> cases(5);
  cases[0] = {"server.sim_slots", {}};
  cases[0].settings.slots = 0;
  cases[1] = {"server.sim_load_time_s", {}};
  cases[1].settings.load_time_s = -1;
  cases[2] = {"server.sim_prompt_tokens_per_s", {}};
  cases[2].settings.prompt_tokens_per_s = -5;
  cases[3] = {"server.sim_output_tokens_per_s", {}};
  cases[3].settings.output_tokens_per_s = -0.5;
  cases[4] = {"server.sim_slowdown_per_slot", {}};
  cases[4].settings.slowdown_per_slot = -0.1;
  for (const Case& bad : cases) {
    Result<std::shared_ptr<SimClient>> created = SimClient::create(bad.settings, clock_);
    ASSERT_FALSE(created.is_ok()) << bad.key;
    EXPECT_EQ(created.status().code(), ErrorCode::kInvalidArgument) << bad.key;
    EXPECT_NE(created.status().message().find(bad.key), std::string::npos)
        << created.status().message();
  }
  settings_.slots = 1;
  EXPECT_TRUE(SimClient::create(settings_, clock_).is_ok());
}

// A rate of 0 means no pacing, and the ready line prints "unpaced" instead of a speed of 0.
TEST_F(SimClientTest, ReadyLineNamesUnpacedRates) {
  {
    ollamaflow::testing::LogCapture log("llm");
    client();
    EXPECT_NE(log.text().find("prompt_tokens_per_s=unpaced output_tokens_per_s=unpaced"),
              std::string::npos)
        << log.text();
  }
  settings_.prompt_tokens_per_s = 600;
  settings_.output_tokens_per_s = 60;
  ollamaflow::testing::LogCapture log("llm");
  client();
  EXPECT_NE(log.text().find("prompt_tokens_per_s=600 output_tokens_per_s=60"), std::string::npos)
      << log.text();
}

TEST_F(SimClientTest, SettingsFromServerSettings) {
  ServerSettings server;
  server.model = "qwen3:8b";
  server.role_models = {{"developer", {"coder:7b", "qwen3:8b"}}};
  server.sim_slots = 3;
  server.sim_load_time_s = 1.5;
  server.sim_output_tokens_per_s = 40;
  const SimSettings settings = SimSettings::from(server);
  EXPECT_EQ(settings.slots, 3);
  EXPECT_DOUBLE_EQ(settings.load_time_s, 1.5);
  EXPECT_DOUBLE_EQ(settings.output_tokens_per_s, 40);
  EXPECT_EQ(settings.models, (std::vector<std::string>{"qwen3:8b", "coder:7b"}));
}

TEST_F(SimClientTest, FreeTextReplyMarkedSimulated) {
  std::string streamed;
  Result<ChatResponse> response =
      client()->chat(request(), cancel_, [&](const std::string& piece) { streamed += piece; });
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  EXPECT_TRUE(response->simulated);
  EXPECT_EQ(response->model, "llama3.1:8b");
  EXPECT_EQ(response->done_reason, "stop");
  EXPECT_NE(response->content.find("Simulated reply for \"build a calculator\""), std::string::npos)
      << response->content;
  EXPECT_NE(response->content.find("no model was run"), std::string::npos);
  EXPECT_EQ(streamed, response->content);
}

// A request cancelled while it streams gives the prompt tokens and the tokens of the pieces that
// it streamed, as a server would have spent them.
TEST_F(SimClientTest, CancelMidStreamCountsSpentTokens) {
  settings_.prompt_tokens_per_s = 200;
  settings_.output_tokens_per_s = 50;
  auto sim = client();
  Result<ChatResponse> full = sim->chat(request(), cancel_);
  ASSERT_TRUE(full.is_ok()) << full.status().to_string();
  ASSERT_GT(full->content.size(), 3 * settings_.piece_chars);

  int pieces = 0;
  ChatProgress progress;
  Result<ChatResponse> cancelled = sim->chat(
      request(), cancel_,
      [&](const std::string&) {
        if (++pieces == 2) {
          cancel_.cancel();
        }
      },
      &progress);
  ASSERT_FALSE(cancelled.is_ok());
  EXPECT_EQ(cancelled.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(pieces, 2);
  EXPECT_EQ(progress.failed_usage.prompt_tokens, 100);
  const double share =
      2.0 * static_cast<double>(settings_.piece_chars) / static_cast<double>(full->content.size());
  EXPECT_EQ(progress.failed_usage.output_tokens,
            std::llround(static_cast<double>(full->usage.output_tokens) * share));
  EXPECT_GT(progress.failed_usage.output_tokens, 0);
}

TEST_F(SimClientTest, TokenRatesSetDurations) {
  settings_.prompt_tokens_per_s = 200;
  settings_.output_tokens_per_s = 20;
  const MonoTime before = clock_->now();
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  const ChatUsage& usage = response->usage;
  EXPECT_EQ(usage.prompt_tokens, 100);
  EXPECT_EQ(usage.output_tokens, static_cast<int64_t>(response->content.size() / 4));
  EXPECT_NEAR(usage.prompt_seconds, 0.5, 1e-6);
  EXPECT_NEAR(usage.eval_seconds, static_cast<double>(usage.output_tokens) / 20, 1e-6);
  EXPECT_DOUBLE_EQ(usage.load_seconds, 0);
  EXPECT_NEAR(usage.total_seconds, usage.prompt_seconds + usage.eval_seconds, 1e-6);
  EXPECT_NEAR(to_seconds(clock_->now() - before), usage.total_seconds, 1e-6);
  EXPECT_GT(usage.first_token_seconds, usage.prompt_seconds);
  EXPECT_LT(usage.first_token_seconds, usage.total_seconds);
}

TEST_F(SimClientTest, ZeroRatesTakeNoTime) {
  const MonoTime before = clock_->now();
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_TRUE(response.is_ok());
  EXPECT_EQ(clock_->now(), before);
  EXPECT_DOUBLE_EQ(response->usage.total_seconds, 0);
}

TEST_F(SimClientTest, LoadTimeOnlyOnFirstUse) {
  settings_.load_time_s = 2.5;
  auto sim = client();
  Result<ChatResponse> first = sim->chat(request(), cancel_);
  Result<ChatResponse> second = sim->chat(request(), cancel_);
  ASSERT_TRUE(first.is_ok());
  ASSERT_TRUE(second.is_ok());
  EXPECT_DOUBLE_EQ(first->usage.load_seconds, 2.5);
  EXPECT_DOUBLE_EQ(second->usage.load_seconds, 0);
  EXPECT_EQ(sim->stats().loads, 1u);

  ChatRequest other = request();
  other.model = "qwen3:8b";
  Result<ChatResponse> third = sim->chat(other, cancel_);
  ASSERT_TRUE(third.is_ok());
  EXPECT_DOUBLE_EQ(third->usage.load_seconds, 2.5);
  EXPECT_EQ(sim->stats().loads, 2u);
}

TEST_F(SimClientTest, LoadedModelsAfterUse) {
  auto sim = client();
  EXPECT_TRUE(sim->loaded_models()->empty());
  ChatRequest sized = request();
  sized.options.num_ctx = 4096;
  ASSERT_TRUE(sim->chat(sized, cancel_).is_ok());
  Result<std::vector<LoadedModel>> loaded = sim->loaded_models();
  ASSERT_TRUE(loaded.is_ok());
  ASSERT_EQ(loaded->size(), 1u);
  EXPECT_EQ((*loaded)[0].name, "llama3.1:8b");
  EXPECT_EQ((*loaded)[0].context_length, 4096);
}

TEST_F(SimClientTest, RequestBeyondSlotsWaits) {
  settings_.slots = 1;
  auto sim = client();
  Result<ChatResponse> held = Status(ErrorCode::kInternal, "not run");
  std::thread holder = hold_slot(sim, &held);

  std::atomic<bool> second_done{false};
  Result<ChatResponse> second = Status(ErrorCode::kInternal, "not run");
  std::thread waiter([&] {
    second = sim->chat(request(), cancel_);
    second_done = true;
  });
  sim->wait_until([](const SimStats& stats) { return stats.waiting == 1; });
  EXPECT_FALSE(second_done);
  EXPECT_EQ(sim->stats().active, 1u);

  gate_.open();
  holder.join();
  waiter.join();
  EXPECT_TRUE(held.is_ok()) << held.status().to_string();
  EXPECT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(sim->stats().max_active, 1u);
  EXPECT_EQ(sim->stats().completed, 2u);
}

TEST_F(SimClientTest, RequestWithinSlotsRunsAtOnce) {
  settings_.slots = 2;
  auto sim = client();
  Result<ChatResponse> held = Status(ErrorCode::kInternal, "not run");
  std::thread holder = hold_slot(sim, &held);

  Result<ChatResponse> second = sim->chat(request(), cancel_);
  EXPECT_TRUE(second.is_ok()) << second.status().to_string();
  EXPECT_EQ(sim->stats().max_active, 2u);
  gate_.open();
  holder.join();
  EXPECT_TRUE(held.is_ok());
}

TEST_F(SimClientTest, ConcurrencyNeverExceedsSlots) {
  settings_.slots = 2;
  auto sim = client();
  std::vector<std::thread> threads;
  std::atomic<int> succeeded{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      bool first = true;
      Result<ChatResponse> response = sim->chat(request(), cancel_, [&](const std::string&) {
        if (first) {
          first = false;
          gate_.pass();
        }
      });
      succeeded += response.is_ok() ? 1 : 0;
    });
  }
  sim->wait_until([](const SimStats& stats) { return stats.active == 2 && stats.waiting == 4; });
  EXPECT_EQ(sim->stats().max_active, 2u);
  gate_.open_all();
  for (std::thread& thread : threads) {
    thread.join();
  }
  EXPECT_EQ(succeeded, 6);
  EXPECT_EQ(sim->stats().max_active, 2u);
}

TEST_F(SimClientTest, SlowdownWithOtherActiveRequests) {
  settings_.slots = 3;
  settings_.output_tokens_per_s = 10;
  settings_.slowdown_per_slot = 0.5;
  auto sim = client();
  Result<ChatResponse> alone = sim->chat(request(), cancel_);
  ASSERT_TRUE(alone.is_ok());
  const double alone_seconds = static_cast<double>(alone->usage.output_tokens) / 10;
  EXPECT_NEAR(alone->usage.eval_seconds, alone_seconds, 1e-6);

  Result<ChatResponse> held = Status(ErrorCode::kInternal, "not run");
  std::thread holder = hold_slot(sim, &held);
  Result<ChatResponse> shared = sim->chat(request(), cancel_);
  ASSERT_TRUE(shared.is_ok());
  // One other request active: each token takes 1 + 0.5 × 1 times as long.
  EXPECT_NEAR(shared->usage.eval_seconds, alone_seconds * 1.5, 1e-6);
  gate_.open();
  holder.join();
}

TEST_F(SimClientTest, InjectedFailuresThenSuccess) {
  auto sim = client();
  sim->fail_next(2, ErrorCode::kServerBusy);
  for (int i = 0; i < 2; ++i) {
    Result<ChatResponse> failed = sim->chat(request(), cancel_);
    ASSERT_FALSE(failed.is_ok());
    EXPECT_EQ(failed.status().code(), ErrorCode::kServerBusy);
    EXPECT_NE(failed.status().message().find("server_busy"), std::string::npos);
  }
  EXPECT_TRUE(sim->chat(request(), cancel_).is_ok());
  EXPECT_EQ(sim->stats().injected_failures, 2u);
  EXPECT_EQ(sim->stats().requests, 3u);
}

TEST_F(SimClientTest, InjectedFailureBySchemaName) {
  auto sim = client();
  sim->fail_next(1, ErrorCode::kServerError, "runner crashed", "plan");
  ChatRequest reply = request(json{{"type", "object"}});
  reply.schema_name = "agent_reply";
  EXPECT_TRUE(sim->chat(reply, cancel_).is_ok());
  ChatRequest plan = reply;
  plan.schema_name = "plan";
  Result<ChatResponse> failed = sim->chat(plan, cancel_);
  ASSERT_FALSE(failed.is_ok());
  EXPECT_EQ(failed.status().code(), ErrorCode::kServerError);
  EXPECT_EQ(failed.status().message(), "runner crashed");
  EXPECT_TRUE(sim->chat(plan, cancel_).is_ok());
}

TEST_F(SimClientTest, OutputLimitTruncates) {
  auto sim = client();
  Result<ChatResponse> full = sim->chat(request(), cancel_);
  ASSERT_TRUE(full.is_ok());
  const int64_t tokens = full->usage.output_tokens;

  ChatRequest at_limit = request();
  at_limit.options.num_predict = static_cast<int>(tokens);
  Result<ChatResponse> whole = sim->chat(at_limit, cancel_);
  ASSERT_TRUE(whole.is_ok());
  EXPECT_EQ(whole->done_reason, "stop");

  ChatRequest below_limit = request();
  below_limit.options.num_predict = static_cast<int>(tokens - 1);
  std::string streamed;
  Result<ChatResponse> cut =
      sim->chat(below_limit, cancel_, [&](const std::string& piece) { streamed += piece; });
  ASSERT_TRUE(cut.is_ok()) << cut.status().to_string();
  EXPECT_EQ(cut->done_reason, "length");
  EXPECT_EQ(cut->usage.output_tokens, tokens - 1);
  EXPECT_GT(cut->usage.prompt_tokens, 0);
  EXPECT_EQ(cut->content, streamed);
  EXPECT_EQ(streamed.size(), static_cast<size_t>(tokens - 1) * 4);
  EXPECT_EQ(sim->stats().truncated, 1u);
}

TEST_F(SimClientTest, CancelWhileWaitingForSlot) {
  settings_.slots = 1;
  auto sim = client();
  Result<ChatResponse> held = Status(ErrorCode::kInternal, "not run");
  std::thread holder = hold_slot(sim, &held);

  CancelToken waiter_cancel;
  Result<ChatResponse> waited = Status(ErrorCode::kInternal, "not run");
  std::thread waiter([&] { waited = sim->chat(request(), waiter_cancel); });
  sim->wait_until([](const SimStats& stats) { return stats.waiting == 1; });
  waiter_cancel.cancel();
  waiter.join();
  ASSERT_FALSE(waited.is_ok());
  EXPECT_EQ(waited.status().code(), ErrorCode::kCancelled);
  EXPECT_NE(waited.status().message().find("free slot"), std::string::npos);
  EXPECT_EQ(sim->stats().waiting, 0u);
  EXPECT_EQ(sim->stats().cancelled, 1u);

  gate_.open();
  holder.join();
  EXPECT_TRUE(held.is_ok());
}

TEST_F(SimClientTest, CancelMidStream) {
  settings_.output_tokens_per_s = 100;
  int pieces = 0;
  Result<ChatResponse> response = client()->chat(request(), cancel_, [&](const std::string&) {
    ++pieces;
    cancel_.cancel();
  });
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
  EXPECT_EQ(pieces, 1);
}

TEST_F(SimClientTest, CancelledBeforeStart) {
  cancel_.cancel();
  Result<ChatResponse> response = client()->chat(request(), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kCancelled);
}

TEST_F(SimClientTest, SchemaReplyIsValid) {
  const json schema = json::parse(R"({
    "type": "object",
    "properties": {
      "label": {"type": "string", "enum": ["bug", "feature"]},
      "score": {"type": "integer", "minimum": 3, "maximum": 9},
      "tags": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2}
    },
    "required": ["label", "score", "tags"],
    "additionalProperties": false})");
  Result<ChatResponse> response = client()->chat(request(schema), cancel_);
  ASSERT_TRUE(response.is_ok()) << response.status().to_string();
  const json reply = json::parse(response->content);
  EXPECT_TRUE(validate_json_schema(reply, schema).is_ok()) << response->content;
  EXPECT_EQ(reply["label"], "bug");
  EXPECT_EQ(reply["score"], 3);
  EXPECT_EQ(reply["tags"].size(), 2u);
}

TEST_F(SimClientTest, UnsatisfiableSchemaIsUnsupported) {
  const json schema = {{"type", "string"}, {"pattern", "^Q{5}z$"}};
  Result<ChatResponse> response = client()->chat(request(schema), cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kSchemaUnsupported);
  EXPECT_NE(response.status().message().find("pattern"), std::string::npos);
}

TEST_F(SimClientTest, ListModelsAndVersion) {
  settings_.models = {"llama3.1:8b"};
  auto sim = client();
  ChatRequest other = request();
  other.model = "qwen3:8b";
  ASSERT_TRUE(sim->chat(other, cancel_).is_ok());
  Result<std::vector<ModelInfo>> models = sim->list_models();
  ASSERT_TRUE(models.is_ok());
  ASSERT_EQ(models->size(), 2u);
  EXPECT_EQ((*models)[0].name, "llama3.1:8b");
  EXPECT_EQ((*models)[1].name, "qwen3:8b");
  EXPECT_EQ((*models)[1].family, "simulated");
  EXPECT_EQ(sim->version().value_or(""), "simulated");
  EXPECT_EQ(sim->backend_name(), "sim");
  EXPECT_EQ(sim->endpoint(), "sim://local");
}

TEST_F(SimClientTest, MissingModelRejected) {
  ChatRequest nameless = request();
  nameless.model.clear();
  Result<ChatResponse> response = client()->chat(nameless, cancel_);
  ASSERT_FALSE(response.is_ok());
  EXPECT_EQ(response.status().code(), ErrorCode::kInvalidArgument);
}

}  // namespace
}  // namespace ollamaflow::llm
