// FakeOpenAiServer: the OpenAI-compatible chat API as llama-server serves it.
#include "fakes/fake_model_server.h"

namespace ollamaflow::testing {

using nlohmann::json;

namespace {

std::string event(const json& data) {
  return "data: " + data.dump() + "\n\n";
}

json chunk(const std::string& model, const json& delta, const json& finish_reason) {
  return {{"id", "chatcmpl-fake"},
          {"object", "chat.completion.chunk"},
          {"created", 1767225600},
          {"model", model},
          {"choices", {{{"index", 0}, {"delta", delta}, {"finish_reason", finish_reason}}}}};
}

// The failure events of one dialect; the stream ends after them.
std::vector<std::string> error_events(const FakeReply& reply) {
  const std::string& message = reply.error_message;
  const json full = {{"code", reply.error_code}, {"message", message}, {"type", reply.error_type}};
  switch (reply.stream_error) {
    case StreamErrorShape::kErrorObject:
      return {
          event({{"error",
                  {{"message", message}, {"type", reply.error_type}, {"code", reply.error_code}}}}),
          "data: [DONE]\n\n"};
    case StreamErrorShape::kBareErrorField:
      return {"error: " + full.dump() + "\n\n", "data: [DONE]\n\n"};
    case StreamErrorShape::kErrorEvent:
      return {"event: error\ndata: " +
              json({{"code", reply.error_code}, {"details", message}}).dump() + "\n\n"};
    case StreamErrorShape::kMessageOnly:
      return {event({{"error", {{"message", message}}}, {"message", message}})};
    case StreamErrorShape::kRawJson:
      return {json({{"error", full}}).dump()};
    case StreamErrorShape::kNone:
      break;
  }
  return {};
}

}  // namespace

FakeOpenAiServer::FakeOpenAiServer(int port) {
  server().set_pre_routing_handler(
      [this](const httplib::Request& request, httplib::Response& response) {
        {
          std::lock_guard<std::mutex> lock(slots_mutex_);
          if (loading_replies_left_ == 0) {
            return httplib::Server::HandlerResponse::Unhandled;
          }
          if (loading_replies_left_ > 0) {
            --loading_replies_left_;
          }
        }
        record(request, false);
        response.status = 503;
        response.set_content(
            R"({"error":{"message":"Loading model","type":"unavailable_error","code":503}})",
            "application/json; charset=utf-8");
        return httplib::Server::HandlerResponse::Handled;
      });
  server().Post("/v1/chat/completions",
                [this](const httplib::Request& request, httplib::Response& response) {
                  handle_chat(request, response);
                });
  server().Get("/v1/models", [this](const httplib::Request& request, httplib::Response& response) {
    record(request, false);
    json data = json::array();
    for (const FakeModel& model : models()) {
      data.push_back({{"id", model.name}, {"object", "model"}, {"owned_by", "fake"}});
    }
    response.set_content(json({{"object", "list"}, {"data", data}}).dump(), "application/json");
  });
  server().Get("/props", [this](const httplib::Request& request, httplib::Response& response) {
    record(request, false);
    std::lock_guard<std::mutex> lock(slots_mutex_);
    response.set_content(json({{"total_slots", total_slots_},
                               {"build_info", "b" + version() + "-fake"},
                               {"default_generation_settings", {{"n_ctx", 4096}}}})
                             .dump(),
                         "application/json");
  });
  server().Get("/health", [](const httplib::Request&, httplib::Response& response) {
    response.set_content(R"({"status":"ok"})", "application/json");
  });
  start(port);
}

void FakeOpenAiServer::set_total_slots(int slots) {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  total_slots_ = slots;
}

void FakeOpenAiServer::set_loading_model(int count) {
  std::lock_guard<std::mutex> lock(slots_mutex_);
  loading_replies_left_ = count;
}

std::vector<std::string> FakeOpenAiServer::chat_events(const FakeReply& reply,
                                                       const std::string& model,
                                                       int64_t prompt_tokens, bool include_usage) {
  const std::vector<std::string> pieces = split_content(reply.content, reply.piece_chars);
  const bool has_error = reply.stream_error != StreamErrorShape::kNone;
  std::vector<std::string> events;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (has_error && i == reply.error_after_pieces) {
      const std::vector<std::string> failure = error_events(reply);
      events.insert(events.end(), failure.begin(), failure.end());
      return events;
    }
    json delta = {{"content", pieces[i]}};
    if (i == 0) {
      delta["role"] = "assistant";
    }
    events.push_back(event(chunk(model, delta, nullptr)));
  }
  if (has_error) {
    const std::vector<std::string> failure = error_events(reply);
    events.insert(events.end(), failure.begin(), failure.end());
    return events;
  }
  if (reply.omit_done) {
    return events;
  }
  const int64_t output =
      reply.output_tokens >= 0 ? reply.output_tokens : static_cast<int64_t>(pieces.size());
  const int64_t prompt = reply.prompt_tokens >= 0 ? reply.prompt_tokens : prompt_tokens;
  json last = chunk(model, json::object(), reply.done_reason);
  last["timings"] = {{"prompt_n", prompt},
                     {"prompt_ms", 200.0},
                     {"predicted_n", output},
                     {"predicted_ms", 1000.0}};
  events.push_back(event(last));
  if (include_usage) {
    json usage = chunk(model, json::object(), nullptr);
    usage["choices"] = json::array();
    usage["usage"] = {{"prompt_tokens", prompt},
                      {"completion_tokens", output},
                      {"total_tokens", prompt + output}};
    events.push_back(event(usage));
  }
  events.push_back("data: [DONE]\n\n");
  return events;
}

void FakeOpenAiServer::handle_chat(const httplib::Request& request, httplib::Response& response) {
  const json body = record(request, true);
  const std::string model = body.is_object() ? body.value("model", "") : "";
  if (!knows_model(model)) {
    response.status = 404;
    response.set_content(json({{"error",
                                {{"message", "model '" + model + "' not found"},
                                 {"type", "not_found_error"},
                                 {"code", 404}}}})
                             .dump(),
                         "application/json");
    return;
  }
  const FakeReply reply = script().next(body);
  if (reply.http_status != 200) {
    response.status = reply.http_status;
    response.set_content(
        json({{"error",
               {{"message", reply.error_message},
                {"type", reply.error_type.empty() ? "server_error" : reply.error_type},
                {"code", reply.http_status}}}})
            .dump(),
        "application/json");
    return;
  }
  const bool include_usage = body.is_object() && body.contains("stream_options") &&
                             body["stream_options"].value("include_usage", false);
  if (!body.is_object() || !body.value("stream", false)) {
    const int64_t prompt =
        reply.prompt_tokens >= 0 ? reply.prompt_tokens : estimate_prompt_tokens(body);
    const int64_t output = reply.output_tokens >= 0 ? reply.output_tokens : 1;
    const json whole = {{"id", "chatcmpl-fake"},
                        {"object", "chat.completion"},
                        {"model", model},
                        {"choices",
                         {{{"index", 0},
                           {"message", {{"role", "assistant"}, {"content", reply.content}}},
                           {"finish_reason", reply.done_reason}}}},
                        {"usage",
                         {{"prompt_tokens", prompt},
                          {"completion_tokens", output},
                          {"total_tokens", prompt + output}}}};
    response.set_content(whole.dump(), "application/json");
    return;
  }
  const std::vector<std::string> events =
      reply.raw_objects.empty()
          ? chat_events(reply, model, estimate_prompt_tokens(body), include_usage)
          : reply.raw_objects;
  stream_writes(response, "text/event-stream", cut_into_writes(events, reply), reply);
}

}  // namespace ollamaflow::testing
