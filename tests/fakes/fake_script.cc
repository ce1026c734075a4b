#include "fakes/fake_script.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace ollamaflow::testing {
namespace {

using nlohmann::json;

const std::vector<std::string>& failure_names() {
  static const std::vector<std::string> kNames = {"busy",         "server_error", "not_found",
                                                  "stream_error", "context",      "length",
                                                  "no_done",      "malformed"};
  return kNames;
}

bool is_one_of(const std::string& value, const std::vector<std::string>& choices) {
  return std::find(choices.begin(), choices.end(), value) != choices.end();
}

std::string joined(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) {
    out += (out.empty() ? "" : ", ") + name;
  }
  return out;
}

Status invalid(const std::string& path, const std::string& problem) {
  return Status(ErrorCode::kInvalidArgument, fmt::format("script {}: {}", path, problem));
}

Result<ScriptReply> parse_reply(const json& entry, const std::string& path) {
  if (!entry.is_object()) {
    return invalid(path, "expected an object with \"content\", \"json\" or \"mode\"");
  }
  ScriptReply reply;
  for (const auto& [key, value] : entry.items()) {
    if (key == "content" && value.is_string()) {
      reply.content = value.get<std::string>();
    } else if (key == "json") {
      reply.content = value.dump();
    } else if (key == "mode" && value == "echo_files") {
      reply.echo_files = true;
    } else if (key == "done_reason" && value.is_string()) {
      reply.done_reason = value.get<std::string>();
    } else if (key == "piece_chars" && value.is_number_unsigned()) {
      reply.piece_chars = value.get<size_t>();
    } else {
      return invalid(path + "." + key,
                     "unknown field or wrong type: use content (string), json (any), mode "
                     "(\"echo_files\"), done_reason (string) or piece_chars (number)");
    }
  }
  if (reply.content.empty() && !reply.echo_files) {
    return invalid(path, "a reply needs \"content\", \"json\" or \"mode\": \"echo_files\"");
  }
  return reply;
}

Status parse_replies(const json& replies, FakeScript& script) {
  if (!replies.is_object()) {
    return invalid("$.replies", "expected an object keyed by request kind");
  }
  for (const auto& [kind, value] : replies.items()) {
    const std::string path = "$.replies." + kind;
    if (!is_one_of(kind, script_kinds())) {
      return invalid(path, "unknown kind: use " + joined(script_kinds()));
    }
    const json entries = value.is_array() ? value : json::array({value});
    for (size_t i = 0; i < entries.size(); ++i) {
      Result<ScriptReply> reply = parse_reply(entries[i], fmt::format("{}[{}]", path, i));
      if (!reply.is_ok()) {
        return reply.status();
      }
      script.replies[kind].push_back(std::move(reply).value());
    }
  }
  return Status::ok();
}

Result<ScriptFailure> parse_failure(const json& entry, const std::string& path) {
  if (!entry.is_object() || !entry.contains("kind") || !entry["kind"].is_string() ||
      !entry.contains("fail") || !entry["fail"].is_string()) {
    return invalid(path, "expected {\"kind\": ..., \"nth\": N, \"fail\": ...}");
  }
  ScriptFailure failure;
  failure.kind = entry["kind"].get<std::string>();
  failure.fail = entry["fail"].get<std::string>();
  failure.message = entry.value("message", "");
  if (!is_one_of(failure.kind, script_kinds())) {
    return invalid(path + ".kind",
                   "unknown kind '" + failure.kind + "': use " + joined(script_kinds()));
  }
  if (!is_one_of(failure.fail, failure_names())) {
    return invalid(path + ".fail",
                   "unknown failure '" + failure.fail + "': use " + joined(failure_names()));
  }
  if (entry.contains("nth")) {
    if (!entry["nth"].is_number_unsigned() || entry["nth"].get<size_t>() == 0) {
      return invalid(path + ".nth", "expected a request ordinal from 1");
    }
    failure.nth = entry["nth"].get<size_t>();
  }
  return failure;
}

Status parse_failures(const json& failures, FakeScript& script) {
  if (!failures.is_array()) {
    return invalid("$.failures", "expected a list");
  }
  for (size_t i = 0; i < failures.size(); ++i) {
    Result<ScriptFailure> failure = parse_failure(failures[i], fmt::format("$.failures[{}]", i));
    if (!failure.is_ok()) {
      return failure.status();
    }
    script.failures.push_back(std::move(failure).value());
  }
  return Status::ok();
}

const std::string& default_plan() {
  static const std::string kPlan = json({{"goal", ""},
                                         {"summary", "Fake plan with one task."},
                                         {"tasks",
                                          {{{"id", "t1"},
                                            {"title", "Write the program"},
                                            {"role", "developer"},
                                            {"description", "Write app/main.py."},
                                            {"depends_on", json::array()},
                                            {"files", {"app/main.py"}}}}}})
                                       .dump();
  return kPlan;
}

ScriptReply default_reply(const std::string& kind, const json& body) {
  ScriptReply reply;
  if (kind == "plan") {
    reply.content = default_plan();
  } else if (kind == "agent_reply") {
    reply.echo_files = true;
  } else if (kind == "summary") {
    reply.content = R"({"summary": "Fake summary of the run."})";
  } else if (kind == "warm_up") {
    reply.content = R"({"ready": true})";
  } else {
    reply.content = request_schema(body).is_null() ? "Fake reply." : "{}";
  }
  return reply;
}

// Applies a scripted failure to the reply that the request would otherwise get.
void apply_failure(const ScriptFailure& failure, FakeReply& reply) {
  const std::string& fail = failure.fail;
  auto message = [&](const char* fallback) {
    return failure.message.empty() ? std::string(fallback) : failure.message;
  };
  if (fail == "busy") {
    reply.http_status = 503;
    reply.error_message = message(
        "server busy, please try again. maximum pending requests "
        "exceeded");
  } else if (fail == "server_error") {
    reply.http_status = 500;
    reply.error_message = message("llama runner process has terminated: exit status 2");
  } else if (fail == "not_found") {
    reply.http_status = 404;
    reply.error_message = message("model not found, try pulling it first");
  } else if (fail == "stream_error" || fail == "context") {
    reply.stream_error = StreamErrorShape::kErrorObject;
    reply.error_after_pieces = 1;
    reply.error_message = fail == "context"
                              ? message("the request exceeds the available context size")
                              : message("an error was encountered while running the model");
  } else if (fail == "length") {
    reply.done_reason = "length";
  } else if (fail == "no_done") {
    reply.omit_done = true;
  } else if (fail == "malformed") {
    reply.content = message("{\"files\": [{'path': 'x'");
  }
}

}  // namespace

const std::vector<std::string>& script_kinds() {
  static const std::vector<std::string> kKinds = {"plan", "agent_reply", "summary", "warm_up",
                                                  "other"};
  return kKinds;
}

Result<FakeScript> parse_fake_script(const json& script) {
  if (!script.is_object()) {
    return invalid("$", "expected an object with \"replies\", \"failures\" and \"models\"");
  }
  FakeScript parsed;
  for (const auto& [key, value] : script.items()) {
    Status status;
    if (key == "replies") {
      status = parse_replies(value, parsed);
    } else if (key == "failures") {
      status = parse_failures(value, parsed);
    } else if (key == "models" && value.is_array() &&
               std::all_of(value.begin(), value.end(),
                           [](const json& v) { return v.is_string(); })) {
      parsed.models = value.get<std::vector<std::string>>();
    } else {
      status = invalid("$." + key,
                       "unknown field or wrong type: use replies (object), failures "
                       "(list) or models (list of names)");
    }
    if (!status.is_ok()) {
      return status;
    }
  }
  return parsed;
}

Result<FakeScript> load_fake_script(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    return Status(ErrorCode::kNotFound, "script file '" + path + "' cannot be opened");
  }
  std::stringstream text;
  text << in.rdbuf();
  const json parsed = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status(ErrorCode::kParseError, "script file '" + path + "' is not valid JSON");
  }
  Result<FakeScript> script = parse_fake_script(parsed);
  if (!script.is_ok()) {
    return script.status().with_context(path);
  }
  return script;
}

json request_schema(const json& body) {
  if (!body.is_object()) {
    return nullptr;
  }
  if (body.contains("format") && body["format"].is_object()) {
    return body["format"];
  }
  const json::json_pointer pointer("/response_format/json_schema/schema");
  if (body.contains(pointer) && body[pointer].is_object()) {
    return body[pointer];
  }
  return nullptr;
}

std::string script_kind(const json& body) {
  const json::json_pointer name_pointer("/response_format/json_schema/name");
  if (body.is_object() && body.contains(name_pointer) && body[name_pointer].is_string()) {
    const std::string name = body[name_pointer].get<std::string>();
    if (is_one_of(name, script_kinds())) {
      return name;
    }
  }
  const json schema = request_schema(body);
  const json properties =
      schema.is_object() ? schema.value("properties", json::object()) : json::object();
  if (!properties.is_object()) {
    return "other";
  }
  if (properties.contains("tasks")) {
    return "plan";
  }
  if (properties.contains("files")) {
    return "agent_reply";
  }
  if (properties.contains("ready")) {
    return "warm_up";
  }
  if (properties.size() == 1 && properties.contains("summary")) {
    return "summary";
  }
  return "other";
}

json echo_files_reply(const json& body) {
  const json schema = request_schema(body);
  const json::json_pointer paths_pointer("/properties/files/items/properties/path/enum");
  json files = json::array();
  if (schema.is_object() && schema.contains(paths_pointer) && schema[paths_pointer].is_array()) {
    for (const json& path : schema[paths_pointer]) {
      if (path.is_string()) {
        files.push_back(
            {{"path", path}, {"content", "Fake content for " + path.get<std::string>() + "\n"}});
      }
    }
  }
  return {{"files", files},
          {"summary", fmt::format("Fake reply: wrote {} file(s).", files.size())}};
}

FakeReply ScriptRunner::next(const json& body) {
  const std::string kind = script_kind(body);
  size_t ordinal = 0;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ordinal = ++counts_[kind];
  }
  return reply_for(kind, ordinal, body);
}

size_t ScriptRunner::count(const std::string& kind) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto it = counts_.find(kind);
  return it == counts_.end() ? 0 : it->second;
}

FakeReply ScriptRunner::reply_for(const std::string& kind, size_t ordinal, const json& body) const {
  ScriptReply scripted = default_reply(kind, body);
  if (const auto it = script_.replies.find(kind);
      it != script_.replies.end() && !it->second.empty()) {
    scripted = it->second[std::min(ordinal, it->second.size()) - 1];
  }
  FakeReply reply;
  reply.content = scripted.echo_files ? echo_files_reply(body).dump() : scripted.content;
  reply.done_reason = scripted.done_reason;
  reply.piece_chars = scripted.piece_chars;
  for (const ScriptFailure& failure : script_.failures) {
    if (failure.kind == kind && failure.nth == ordinal) {
      apply_failure(failure, reply);
    }
  }
  return reply;
}

}  // namespace ollamaflow::testing
