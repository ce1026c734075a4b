#include "llm/server_signals.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/terminal_text.h"
#include "llm/prometheus.h"

namespace ollamaflow::llm {
namespace {

using nlohmann::json;

constexpr int kDefaultPort = 8080;
constexpr std::string_view kApiSuffix = "/v1";

std::optional<int> positive_int(const json& object, const char* key) {
  const auto it = object.find(key);
  if (it == object.end() || !it->is_number_integer()) {
    return std::nullopt;
  }
  const int64_t value = it->get<int64_t>();
  if (value <= 0 || value > std::numeric_limits<int>::max()) {
    return std::nullopt;
  }
  return static_cast<int>(value);
}

// Converts a gauge to a count. Gauges are doubles, and a count must be finite and not negative.
Result<std::optional<int>> count_of(const PrometheusSamples& samples, std::string_view series) {
  const std::optional<double> value = find_sample(samples, series);
  if (!value) {
    return std::optional<int>();
  }
  if (!std::isfinite(*value) || *value < 0 || *value > std::numeric_limits<int>::max()) {
    return Status(ErrorCode::kParseError,
                  fmt::format("metric {} is {}, expected a count of 0 or more", series, *value));
  }
  return std::optional<int>(static_cast<int>(std::lround(*value)));
}

std::optional<double> rate_of(const PrometheusSamples& samples, std::string_view series) {
  const std::optional<double> value = find_sample(samples, series);
  if (!value || !std::isfinite(*value) || *value < 0) {
    return std::nullopt;
  }
  return value;
}

// Parses `host` into the server's root URL. llama-server serves /props, /slots and /metrics
// beside /v1, so a host given with the OpenAI path ("http://h:8080/v1") loses that suffix.
Result<BaseUrl> server_root_url(const std::string& host) {
  Result<BaseUrl> url = parse_base_url(host, kDefaultPort);
  if (!url) {
    return url;
  }
  std::string& prefix = url->path_prefix;
  if (prefix.size() >= kApiSuffix.size() &&
      prefix.compare(prefix.size() - kApiSuffix.size(), kApiSuffix.size(), kApiSuffix) == 0) {
    prefix.resize(prefix.size() - kApiSuffix.size());
  }
  return url;
}

}  // namespace

Result<PropsReading> parse_props(std::string_view body) {
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_object()) {
    constexpr size_t kQuotedBytes = 80;
    const std::string_view start = body.substr(0, kQuotedBytes);
    return Status(
        ErrorCode::kParseError,
        fmt::format("/props did not return a JSON object: the body {} \"{}{}\"",
                    document.is_discarded() ? "is not JSON:" : "is",
                    escape_control_characters(start), body.size() > kQuotedBytes ? "..." : ""));
  }
  PropsReading reading;
  if (document.contains("total_slots")) {
    reading.total_slots = positive_int(document, "total_slots");
    if (!reading.total_slots) {
      return Status(ErrorCode::kParseError,
                    fmt::format("/props total_slots is {}, expected a positive integer",
                                document["total_slots"].dump()));
    }
  }
  const auto settings = document.find("default_generation_settings");
  if (settings != document.end() && settings->is_object()) {
    reading.slot_ctx = positive_int(*settings, "n_ctx");
    if (!reading.slot_ctx && settings->contains("n_ctx")) {
      reading.notes.push_back(
          fmt::format("context per slot unknown: /props default_generation_settings.n_ctx is {}, "
                      "expected a positive integer",
                      (*settings)["n_ctx"].dump()));
    }
  }
  const auto model_path = document.find("model_path");
  if (model_path != document.end() && model_path->is_string()) {
    reading.model_path = model_path->get<std::string>();
  }
  const auto build = document.find("build_info");
  if (build != document.end() && build->is_string()) {
    reading.build_info = build->get<std::string>();
  }
  return reading;
}

Result<PropsReading> read_props(const ServerSettings& settings, std::shared_ptr<Clock> clock,
                                CancelTokenPtr cancel) {
  Result<BaseUrl> url = server_root_url(settings.host);
  if (!url) {
    return url.status();
  }
  HttpSettings http_settings;
  http_settings.connect_timeout_s = settings.connect_timeout_s;
  http_settings.read_timeout_s = kMetadataTotalTimeoutS;
  http_settings.bearer_token = settings.api_key;
  http_settings.start_hint = kOpenAiStartHint;
  http_settings.cancel = std::move(cancel);
  const HttpClient http(std::move(url).value(), http_settings, std::move(clock));
  Result<HttpResponse> response = http.get("/props");
  if (!response) {
    return response.status();
  }
  if (response->status != 200) {
    return Status(error_code_for_http_status(response->status),
                  fmt::format("GET {}/props returned HTTP {}: {}", http.base_url(),
                              response->status, error_text_from_body(response->body)));
  }
  return parse_props(response->body);
}

Result<SlotsReading> parse_slots(std::string_view body) {
  const json document = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!document.is_array()) {
    return Status(ErrorCode::kParseError, "/slots did not return a JSON array");
  }
  SlotsReading reading;
  for (size_t i = 0; i < document.size(); ++i) {
    const json& slot = document[i];
    const bool has_flag =
        slot.is_object() && slot.contains("is_processing") && slot["is_processing"].is_boolean();
    const bool has_state =
        slot.is_object() && slot.contains("state") && slot["state"].is_number_integer();
    if (!has_flag && !has_state) {
      return Status(ErrorCode::kParseError,
                    fmt::format("/slots entry {} has neither \"is_processing\" nor \"state\"", i));
    }
    const bool busy = has_flag ? slot["is_processing"].get<bool>() : slot["state"].get<int>() != 0;
    ++reading.total;
    reading.busy += busy ? 1 : 0;
  }
  return reading;
}

Status apply_metrics(std::string_view text, ServerReading& reading) {
  Result<PrometheusSamples> samples = parse_prometheus_text(text);
  if (!samples) {
    return samples.status();
  }
  Result<std::optional<int>> processing = count_of(*samples, "llamacpp:requests_processing");
  if (!processing) {
    return processing.status();
  }
  Result<std::optional<int>> deferred = count_of(*samples, "llamacpp:requests_deferred");
  if (!deferred) {
    return deferred.status();
  }
  reading.requests_processing = *processing;
  reading.requests_deferred = *deferred;
  reading.prompt_tokens_per_s = rate_of(*samples, "llamacpp:prompt_tokens_seconds");
  reading.output_tokens_per_s = rate_of(*samples, "llamacpp:predicted_tokens_seconds");
  if (!reading.requests_processing && !reading.requests_deferred) {
    reading.notes.push_back("/metrics has no llamacpp:requests_* gauges: is this llama-server?");
  }
  return Status::ok();
}

Result<std::unique_ptr<LlamaServerSignalReader>> LlamaServerSignalReader::create(
    const ServerSettings& settings, std::shared_ptr<Clock> clock, double timeout_s,
    CancelTokenPtr cancel) {
  Result<BaseUrl> url = server_root_url(settings.host);
  if (!url) {
    return url.status();
  }
  HttpSettings http_settings;
  http_settings.connect_timeout_s = std::min(settings.connect_timeout_s, timeout_s);
  http_settings.read_timeout_s = timeout_s;
  http_settings.total_timeout_s = timeout_s;
  http_settings.bearer_token = settings.api_key;
  http_settings.start_hint = kOpenAiStartHint;
  http_settings.cancel = std::move(cancel);
  HttpClient http(std::move(url).value(), http_settings, std::move(clock));
  return std::unique_ptr<LlamaServerSignalReader>(
      new LlamaServerSignalReader(std::move(http), timeout_s));
}

LlamaServerSignalReader::LlamaServerSignalReader(HttpClient http, double timeout_s)
    : http_(std::move(http)), timeout_s_(timeout_s) {}

Result<std::string> LlamaServerSignalReader::fetch(const std::string& path) const {
  Result<HttpResponse> response = http_.get(path, timeout_s_);
  if (!response) {
    return response.status().with_context("GET " + path);
  }
  if (response->status == 404 || response->status == 501) {
    return Status(
        ErrorCode::kNotFound,
        fmt::format("GET {} returned HTTP {}: the endpoint is disabled{}", path, response->status,
                    path == "/metrics" ? " (start llama-server with --metrics)"
                                       : " (llama-server --no-slots)"));
  }
  if (response->status != 200) {
    return Status(error_code_for_http_status(response->status),
                  fmt::format("GET {} returned HTTP {}: {}", path, response->status,
                              error_text_from_body(response->body)));
  }
  return std::move(response->body);
}

ServerReading LlamaServerSignalReader::read() {
  ServerReading reading;
  reading.source = "llama-server at " + http_.base_url();
  // A cancelled fetch ends the read, so that a stalled server does not hold up a cancelled run
  // for the timeout of each remaining endpoint.
  const auto cancelled = [&reading](const Status& status) {
    if (status.code() != ErrorCode::kCancelled) {
      return false;
    }
    reading.notes.push_back("read cancelled: " + status.message());
    return true;
  };
  if (Result<std::string> body = fetch("/props"); !body) {
    if (cancelled(body.status())) {
      return reading;
    }
    reading.notes.push_back("slot count unknown: " + body.status().message());
  } else if (Result<PropsReading> props = parse_props(*body); !props) {
    reading.notes.push_back("slot count unknown: " + props.status().message());
  } else {
    reading.total_slots = props->total_slots;
    reading.slot_ctx = props->slot_ctx;
    reading.notes.insert(reading.notes.end(), props->notes.begin(), props->notes.end());
  }
  if (Result<std::string> body = fetch("/metrics"); !body) {
    if (cancelled(body.status())) {
      return reading;
    }
    reading.notes.push_back("queue unknown: " + body.status().message());
  } else if (Status applied = apply_metrics(*body, reading); !applied) {
    reading.notes.push_back("queue unknown: " + applied.message());
  }
  if (Result<std::string> body = fetch("/slots"); !body) {
    if (cancelled(body.status())) {
      return reading;
    }
    reading.notes.push_back("busy slots from /metrics: " + body.status().message());
    reading.busy_slots = reading.requests_processing;
  } else if (Result<SlotsReading> slots = parse_slots(*body); !slots) {
    reading.notes.push_back("busy slots from /metrics: " + slots.status().message());
    reading.busy_slots = reading.requests_processing;
  } else {
    reading.busy_slots = slots->busy;
    if (!reading.total_slots && slots->total > 0) {
      reading.total_slots = slots->total;
    }
  }
  return reading;
}

ConfiguredSlots configured_slots(const Config& config) {
  ConfiguredSlots result;
  if (!config.server.num_parallel) {
    result.source = "server.num_parallel unset (Ollama's default is 1 since v0.10)";
    return result;
  }
  result.slots = *config.server.num_parallel;
  result.source =
      "configured server.num_parallel (" + describe_source_of(config, "server.num_parallel") + ")";
  return result;
}

}  // namespace ollamaflow::llm
