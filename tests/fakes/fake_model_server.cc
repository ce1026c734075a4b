#include "fakes/fake_model_server.h"

#include <algorithm>
#include <memory>
#include <thread>

namespace ollamaflow::testing {

using nlohmann::json;

int64_t estimate_prompt_tokens(const json& body) {
  int64_t chars = 0;
  if (body.contains("messages") && body["messages"].is_array()) {
    for (const json& message : body["messages"]) {
      if (message.contains("content") && message["content"].is_string()) {
        chars += static_cast<int64_t>(message["content"].get<std::string>().size());
      }
    }
  }
  return chars / 4;
}

FakeModelServer::FakeModelServer() : models_{FakeModel()}, version_("0.12.6") {
  server().set_tcp_nodelay(true);
}

void FakeModelServer::set_models(std::vector<FakeModel> models) {
  std::lock_guard<std::mutex> lock(mutex_);
  models_ = std::move(models);
}

void FakeModelServer::set_strict_models(bool strict) {
  std::lock_guard<std::mutex> lock(mutex_);
  strict_models_ = strict;
}

void FakeModelServer::set_version(std::string version) {
  std::lock_guard<std::mutex> lock(mutex_);
  version_ = std::move(version);
}

std::vector<RecordedRequest> FakeModelServer::requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return requests_;
}

std::vector<json> FakeModelServer::chat_requests() const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<json> bodies;
  for (const RecordedRequest& request : requests_) {
    if (!request.kind.empty()) {
      bodies.push_back(request.body);
    }
  }
  return bodies;
}

size_t FakeModelServer::chat_count() const {
  return chat_requests().size();
}

json FakeModelServer::record(const httplib::Request& request, bool is_chat) {
  json body = json::parse(request.body, nullptr, /*allow_exceptions=*/false);
  if (body.is_discarded()) {
    body = nullptr;
  }
  RecordedRequest recorded{request.method, request.path, body,
                           is_chat ? request_kind(body) : std::string(),
                           request.get_header_value("Authorization")};
  std::lock_guard<std::mutex> lock(mutex_);
  requests_.push_back(std::move(recorded));
  return body;
}

std::vector<FakeModel> FakeModelServer::models() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return models_;
}

bool FakeModelServer::knows_model(const std::string& name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  if (!strict_models_) {
    return true;
  }
  for (const FakeModel& model : models_) {
    if (model.name == name) {
      return true;
    }
  }
  return false;
}

std::string FakeModelServer::version() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return version_;
}

void FakeModelServer::stream_writes(httplib::Response& response, const std::string& content_type,
                                    std::vector<std::string> writes, const FakeReply& reply) {
  auto shared_writes = std::make_shared<std::vector<std::string>>(std::move(writes));
  auto hook = reply.before_write;
  response.set_chunked_content_provider(content_type,
                                        [shared_writes, hook](size_t, httplib::DataSink& sink) {
                                          for (size_t i = 0; i < shared_writes->size(); ++i) {
                                            if (hook) {
                                              hook(i);
                                            }
                                            const std::string& write = (*shared_writes)[i];
                                            if (!sink.write(write.data(), write.size())) {
                                              return false;
                                            }
                                          }
                                          sink.done();
                                          return true;
                                        });
}

// --- Ollama ---

FakeOllamaServer::FakeOllamaServer(int port) {
  server().Post("/api/chat", [this](const httplib::Request& request, httplib::Response& response) {
    handle_chat(request, response);
  });
  server().Post("/api/show", [this](const httplib::Request& request, httplib::Response& response) {
    handle_show(request, response);
  });
  server().Get("/api/tags", [this](const httplib::Request& request, httplib::Response& response) {
    record(request, false);
    json list = json::array();
    for (const FakeModel& model : models()) {
      list.push_back({{"name", model.name},
                      {"model", model.name},
                      {"size", model.size_bytes},
                      {"details",
                       {{"family", model.family},
                        {"parameter_size", model.parameter_size},
                        {"quantization_level", model.quantization}}}});
    }
    response.set_content(json({{"models", list}}).dump(), "application/json");
  });
  server().Get("/api/ps", [this](const httplib::Request& request, httplib::Response& response) {
    record(request, false);
    json list = json::array();
    for (const FakeModel& model : models()) {
      if (model.loaded) {
        list.push_back({{"name", model.name},
                        {"model", model.name},
                        {"size", model.size_bytes},
                        {"size_vram", model.size_vram_bytes},
                        {"context_length", model.context_length}});
      }
    }
    response.set_content(json({{"models", list}}).dump(), "application/json");
  });
  server().Get("/api/version",
               [this](const httplib::Request& request, httplib::Response& response) {
                 record(request, false);
                 response.set_content(json({{"version", version()}}).dump(), "application/json");
               });
  start(port);
}

std::vector<std::string> FakeOllamaServer::chat_lines(const FakeReply& reply,
                                                      const std::string& model,
                                                      int64_t prompt_tokens) {
  const std::vector<std::string> pieces = split_content(reply.content, reply.piece_chars);
  const bool has_error = reply.stream_error != StreamErrorShape::kNone;
  const std::string error_line = json({{"error", reply.error_message}}).dump() + "\n";
  std::vector<std::string> lines;
  for (size_t i = 0; i < pieces.size(); ++i) {
    if (has_error && i == reply.error_after_pieces) {
      lines.push_back(error_line);
      return lines;
    }
    json message = {{"role", "assistant"}, {"content", pieces[i]}};
    if (i == 0 && !reply.thinking.empty()) {
      message["thinking"] = reply.thinking;
    }
    lines.push_back(json({{"model", model},
                          {"created_at", "2026-01-01T00:00:00.000Z"},
                          {"message", message},
                          {"done", false}})
                        .dump() +
                    "\n");
  }
  if (has_error) {
    lines.push_back(error_line);
    return lines;
  }
  if (!reply.omit_done) {
    const int64_t output =
        reply.output_tokens >= 0 ? reply.output_tokens : static_cast<int64_t>(pieces.size());
    const int64_t prompt = reply.prompt_tokens >= 0 ? reply.prompt_tokens : prompt_tokens;
    lines.push_back(json({{"model", model},
                          {"created_at", "2026-01-01T00:00:01.000Z"},
                          {"message", {{"role", "assistant"}, {"content", ""}}},
                          {"done", true},
                          {"done_reason", reply.done_reason},
                          {"total_duration", 1500000000},
                          {"load_duration", 250000000},
                          {"prompt_eval_count", prompt},
                          {"prompt_eval_duration", 200000000},
                          {"eval_count", output},
                          {"eval_duration", 1000000000}})
                        .dump() +
                    "\n");
  }
  return lines;
}

void FakeOllamaServer::handle_chat(const httplib::Request& request, httplib::Response& response) {
  const json body = record(request, true);
  const std::string model = body.is_object() ? body.value("model", "") : "";
  if (!knows_model(model)) {
    response.status = 404;
    response.set_content(
        json({{"error", "model \"" + model + "\" not found, try pulling it first"}}).dump(),
        "application/json");
    return;
  }
  const FakeReply reply = script().next(body);
  if (reply.http_status != 200) {
    response.status = reply.http_status;
    response.set_content(json({{"error", reply.error_message}}).dump(), "application/json");
    return;
  }
  const std::vector<std::string> lines =
      reply.raw_objects.empty() ? chat_lines(reply, model, estimate_prompt_tokens(body))
                                : reply.raw_objects;
  if (body.is_object() && !body.value("stream", true)) {
    // Without streaming, Ollama sends one object: the content joined, with the final fields.
    json whole = json::parse(lines.back(), nullptr, false);
    std::string content;
    for (const std::string& line : lines) {
      content +=
          json::parse(line, nullptr, false).value(json::json_pointer("/message/content"), "");
    }
    if (whole.is_object() && whole.contains("message")) {
      whole["message"]["content"] = content;
    }
    response.set_content(whole.dump(), "application/json");
    return;
  }
  stream_writes(response, "application/x-ndjson", cut_into_writes(lines, reply), reply);
}

void FakeOllamaServer::set_show_delay(std::chrono::milliseconds delay) {
  std::lock_guard<std::mutex> lock(show_mutex_);
  show_delay_ = delay;
}

int FakeOllamaServer::max_shows_in_flight() const {
  std::lock_guard<std::mutex> lock(show_mutex_);
  return max_shows_in_flight_;
}

void FakeOllamaServer::handle_show(const httplib::Request& request, httplib::Response& response) {
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard<std::mutex> lock(show_mutex_);
    delay = show_delay_;
    max_shows_in_flight_ = std::max(max_shows_in_flight_, ++shows_in_flight_);
  }
  // The delay stands for a server's work on the request; the test measures the overlap.
  std::this_thread::sleep_for(delay);
  {
    std::lock_guard<std::mutex> lock(show_mutex_);
    --shows_in_flight_;
  }
  const json body = record(request, false);
  const std::string name = body.is_object() ? body.value("model", body.value("name", "")) : "";
  for (const FakeModel& model : models()) {
    if (model.name != name) {
      continue;
    }
    json info = model.model_info;
    if (info.empty()) {
      info = {{"general.architecture", model.family},
              {model.family + ".context_length", model.context_length}};
    }
    response.set_content(json({{"details",
                                {{"family", model.family},
                                 {"parameter_size", model.parameter_size},
                                 {"quantization_level", model.quantization}}},
                               {"model_info", info},
                               {"parameters", ""},
                               {"template", ""}})
                             .dump(),
                         "application/json");
    return;
  }
  response.status = 404;
  response.set_content(json({{"error", "model '" + name + "' not found"}}).dump(),
                       "application/json");
}

}  // namespace ollamaflow::testing
