#include "fakes/fake_reply.h"

#include <algorithm>

namespace ollamaflow::testing {

using nlohmann::json;

std::string request_kind(const json& body) {
  if (body.contains("response_format")) {
    const json& format = body["response_format"];
    if (format.contains("json_schema") && format["json_schema"].contains("name") &&
        format["json_schema"]["name"].is_string()) {
      return format["json_schema"]["name"].get<std::string>();
    }
  }
  const json* schema = nullptr;
  if (body.contains("format") && body["format"].is_object()) {
    schema = &body["format"];
  } else if (body.contains("response_format") && body["response_format"].contains("json_schema") &&
             body["response_format"]["json_schema"].contains("schema")) {
    schema = &body["response_format"]["json_schema"]["schema"];
  }
  if (schema != nullptr && schema->contains("properties") && (*schema)["properties"].is_object()) {
    const json& properties = (*schema)["properties"];
    if (properties.contains("tasks")) {
      return "plan";
    }
    if (properties.contains("files")) {
      return "agent_reply";
    }
  }
  return "chat";
}

void ReplyScript::enqueue(FakeReply reply, const std::string& kind) {
  std::lock_guard<std::mutex> lock(mutex_);
  queued_[kind].push_back(std::move(reply));
}

void ReplyScript::fail_next(size_t count, int http_status, const std::string& message) {
  for (size_t i = 0; i < count; ++i) {
    FakeReply reply;
    reply.http_status = http_status;
    reply.error_message = message;
    enqueue(std::move(reply));
  }
}

void ReplyScript::set_responder(Responder responder) {
  std::lock_guard<std::mutex> lock(mutex_);
  responder_ = std::move(responder);
}

void ReplyScript::set_content_responder(ContentResponder responder) {
  set_responder([content = std::move(responder)](const json& request) {
    FakeReply reply;
    reply.content = content(request);
    return reply;
  });
}

FakeReply ReplyScript::next(const json& request) {
  Responder responder;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& kind : {request_kind(request), std::string()}) {
      auto it = queued_.find(kind);
      if (it != queued_.end() && !it->second.empty()) {
        FakeReply reply = std::move(it->second.front());
        it->second.pop_front();
        return reply;
      }
    }
    responder = responder_;
  }
  return responder ? responder(request) : FakeReply();
}

std::vector<std::string> split_content(const std::string& content, size_t piece_chars) {
  if (piece_chars == 0 || content.empty()) {
    return {content};
  }
  std::vector<std::string> pieces;
  for (size_t pos = 0; pos < content.size(); pos += piece_chars) {
    pieces.push_back(content.substr(pos, piece_chars));
  }
  return pieces;
}

std::vector<std::string> cut_into_writes(const std::vector<std::string>& objects,
                                         const FakeReply& reply) {
  std::string wire;
  for (const std::string& object : objects) {
    wire += object;
  }
  std::vector<std::string> writes;
  if (!reply.split_at.empty()) {
    size_t start = 0;
    for (size_t cut : reply.split_at) {
      cut = std::min(cut, wire.size());
      if (cut > start) {
        writes.push_back(wire.substr(start, cut - start));
        start = cut;
      }
    }
    if (start < wire.size()) {
      writes.push_back(wire.substr(start));
    }
    return writes;
  }
  if (reply.write_bytes > 0) {
    for (size_t pos = 0; pos < wire.size(); pos += reply.write_bytes) {
      writes.push_back(wire.substr(pos, reply.write_bytes));
    }
    return writes;
  }
  const size_t group = std::max<size_t>(reply.objects_per_write, 1);
  for (size_t i = 0; i < objects.size(); i += group) {
    std::string write;
    for (size_t j = i; j < std::min(i + group, objects.size()); ++j) {
      write += objects[j];
    }
    writes.push_back(std::move(write));
  }
  return writes;
}

}  // namespace ollamaflow::testing
