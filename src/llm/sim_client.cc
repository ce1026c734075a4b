#include "llm/sim_client.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "core/log.h"
#include "llm/sim_output.h"

namespace ollamaflow::llm {
namespace {

// How often a request that waits for a slot or a load checks its CancelToken, in real time.
// The token has no way to wake a waiter, so the wait polls; virtual time is not touched.
constexpr auto kCancelPollInterval = std::chrono::milliseconds(20);
// The longest clock sleep between two cancellation checks.
constexpr double kMaxSleepStepS = 1.0;

int64_t estimate_tokens(size_t chars) {
  return std::max<int64_t>(1, static_cast<int64_t>(chars / 4));
}

size_t prompt_chars(const ChatRequest& request) {
  size_t chars = 0;
  for (const ChatMessage& message : request.messages) {
    chars += message.content.size();
  }
  return chars;
}

Status invalid_setting(const std::string& key, double value, const std::string& allowed) {
  return Status(ErrorCode::kInvalidArgument, fmt::format("{} is {}: use {}", key, value, allowed));
}

Status cancelled(const std::string& where) {
  return Status(ErrorCode::kCancelled, "simulated request cancelled " + where);
}

void add_unique(std::vector<std::string>& names, const std::string& name) {
  if (!name.empty() && std::find(names.begin(), names.end(), name) == names.end()) {
    names.push_back(name);
  }
}

}  // namespace

SimSettings SimSettings::from(const ServerSettings& server) {
  SimSettings settings;
  settings.slots = server.sim_slots;
  settings.load_time_s = server.sim_load_time_s;
  settings.prompt_tokens_per_s = server.sim_prompt_tokens_per_s;
  settings.output_tokens_per_s = server.sim_output_tokens_per_s;
  settings.slowdown_per_slot = server.sim_slowdown_per_slot;
  add_unique(settings.models, server.model);
  for (const auto& [role, models] : server.role_models) {
    for (const std::string& model : models) {
      add_unique(settings.models, model);
    }
  }
  return settings;
}

Result<std::shared_ptr<SimClient>> SimClient::create(const SimSettings& settings,
                                                     std::shared_ptr<Clock> clock) {
  if (settings.slots < 1) {
    return invalid_setting("server.sim_slots", settings.slots, "1 or more slots");
  }
  const std::pair<const char*, double> non_negative[] = {
      {"server.sim_load_time_s", settings.load_time_s},
      {"server.sim_prompt_tokens_per_s", settings.prompt_tokens_per_s},
      {"server.sim_output_tokens_per_s", settings.output_tokens_per_s},
      {"server.sim_slowdown_per_slot", settings.slowdown_per_slot}};
  for (const auto& [key, value] : non_negative) {
    if (!(value >= 0)) {
      return invalid_setting(key, value, "0 or more (0 means no delay)");
    }
  }
  if (settings.piece_chars == 0) {
    return invalid_setting("the simulated backend's piece size", 0, "1 or more bytes");
  }
  if (!clock) {
    clock = system_clock();
  }
  // A rate of 0 means no delay, which a log reader would take for a server that never replies.
  const auto rate_text = [](double rate) {
    return rate > 0 ? fmt::format("{:g}", rate) : std::string("unpaced");
  };
  get_logger("llm")->info(
      "simulated backend ready slots={} load_time_s={:g} prompt_tokens_per_s={} "
      "output_tokens_per_s={} slowdown_per_slot={:g}",
      settings.slots, settings.load_time_s, rate_text(settings.prompt_tokens_per_s),
      rate_text(settings.output_tokens_per_s), settings.slowdown_per_slot);
  return std::shared_ptr<SimClient>(new SimClient(settings, std::move(clock)));
}

Result<std::shared_ptr<SimClient>> SimClient::create(const ServerSettings& settings,
                                                     std::shared_ptr<Clock> clock) {
  return create(SimSettings::from(settings), std::move(clock));
}

SimClient::SimClient(SimSettings settings, std::shared_ptr<Clock> clock)
    : settings_(std::move(settings)), clock_(std::move(clock)) {}

void SimClient::increment(uint64_t SimStats::*counter) {
  std::lock_guard<std::mutex> lock(mutex_);
  ++(stats_.*counter);
  changed_.notify_all();
}

std::optional<Status> SimClient::take_failure(const std::string& schema_name) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = failures_.begin(); it != failures_.end(); ++it) {
    if (!it->schema_name.empty() && it->schema_name != schema_name) {
      continue;
    }
    Status failure(it->code, it->message);
    failures_.erase(it);
    ++stats_.injected_failures;
    changed_.notify_all();
    return failure;
  }
  return std::nullopt;
}

Status SimClient::acquire_slot(const CancelToken& cancel) {
  std::unique_lock<std::mutex> lock(mutex_);
  ++stats_.waiting;
  changed_.notify_all();
  while (stats_.active >= static_cast<size_t>(settings_.slots)) {
    if (cancel.cancelled()) {
      --stats_.waiting;
      ++stats_.cancelled;
      changed_.notify_all();
      return cancelled("while it waited for a free slot");
    }
    changed_.wait_for(lock, kCancelPollInterval);
  }
  --stats_.waiting;
  ++stats_.active;
  stats_.max_active = std::max(stats_.max_active, stats_.active);
  changed_.notify_all();
  return Status::ok();
}

void SimClient::release_slot() {
  std::lock_guard<std::mutex> lock(mutex_);
  --stats_.active;
  changed_.notify_all();
}

Result<double> SimClient::ensure_loaded(const ChatRequest& request, const CancelToken& cancel) {
  const MonoTime start = clock_->now();
  std::unique_lock<std::mutex> lock(mutex_);
  const auto found = models_.find(request.model);
  if (found == models_.end()) {
    models_[request.model] = LoadState::kLoading;
    ++stats_.loads;
    changed_.notify_all();
    lock.unlock();
    get_logger("llm")->debug("simulated load model={} seconds={}", request.model,
                             settings_.load_time_s);
    // The load completes even when this request is cancelled, because others wait for it.
    clock_->sleep_for(from_seconds(settings_.load_time_s));
    lock.lock();
    models_[request.model] = LoadState::kLoaded;
    changed_.notify_all();
  } else {
    while (models_[request.model] != LoadState::kLoaded) {
      if (cancel.cancelled()) {
        ++stats_.cancelled;
        changed_.notify_all();
        return cancelled("while it waited for the model to load");
      }
      changed_.wait_for(lock, kCancelPollInterval);
    }
  }
  return to_seconds(clock_->now() - start);
}

double SimClient::slowdown_factor() const {
  std::lock_guard<std::mutex> lock(mutex_);
  const size_t others = stats_.active > 0 ? stats_.active - 1 : 0;
  return 1 + settings_.slowdown_per_slot * static_cast<double>(others);
}

Status SimClient::spend_tokens(double tokens, double rate, const CancelToken& cancel) {
  if (rate <= 0 || tokens <= 0) {
    return Status::ok();
  }
  double remaining = tokens / rate * slowdown_factor();
  while (remaining > 0) {
    const double step = std::min(remaining, kMaxSleepStepS);
    clock_->sleep_for(from_seconds(step));
    remaining -= step;
    if (cancel.cancelled()) {
      increment(&SimStats::cancelled);
      return cancelled("while it produced tokens");
    }
  }
  return Status::ok();
}

Result<std::string> SimClient::reply_content(const ChatRequest& request) const {
  const std::string goal = goal_of(request);
  if (request.schema.is_null()) {
    return simulated_text(goal);
  }
  Result<nlohmann::json> value = simulated_value(request.schema, goal);
  if (!value.is_ok()) {
    return value.status();
  }
  return value->dump();
}

Result<ChatResponse> SimClient::stream_reply(const ChatRequest& request, const std::string& content,
                                             const CancelToken& cancel,
                                             const TokenCallback& on_token, MonoTime start,
                                             ChatUsage& spent) {
  ChatResponse response;
  response.model = request.model;
  response.simulated = true;
  response.done_reason = "stop";
  response.usage.output_tokens = estimate_tokens(content.size());
  const int64_t limit = request.options.num_predict;
  const bool truncated = limit > 0 && response.usage.output_tokens > limit;
  const size_t allowed =
      truncated ? std::min(content.size(), static_cast<size_t>(limit) * 4) : content.size();

  const MonoTime eval_start = clock_->now();
  double streamed_tokens = 0;
  for (size_t pos = 0; pos < allowed; pos += settings_.piece_chars) {
    const std::string piece = content.substr(pos, std::min(settings_.piece_chars, allowed - pos));
    // Pieces share the estimated token count in proportion to their bytes.
    const double piece_tokens = static_cast<double>(response.usage.output_tokens) *
                                static_cast<double>(piece.size()) /
                                static_cast<double>(content.size());
    if (Status paced = spend_tokens(piece_tokens, settings_.output_tokens_per_s, cancel);
        !paced.is_ok()) {
      return paced;
    }
    streamed_tokens += piece_tokens;
    spent.output_tokens = std::llround(streamed_tokens);
    if (pos == 0) {
      response.usage.first_token_seconds = to_seconds(clock_->now() - start);
    }
    response.content += piece;
    if (on_token) {
      on_token(piece);
    }
  }
  response.usage.eval_seconds = to_seconds(clock_->now() - eval_start);
  if (truncated) {
    increment(&SimStats::truncated);
    response.done_reason = "length";
    response.usage.output_tokens = limit;
  }
  return response;
}

Result<ChatResponse> SimClient::chat(const ChatRequest& request, const CancelToken& cancel,
                                     const TokenCallback& on_token, ChatProgress* progress) {
  const MonoTime start = clock_->now();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    ++stats_.requests;
    add_unique(requested_models_, request.model);
    context_sizes_[request.model] = request.options.num_ctx;
    changed_.notify_all();
  }
  get_logger("llm")->debug("simulated chat model={} schema={} messages={}", request.model,
                           request.schema_name, request.messages.size());
  if (std::optional<Status> failure = take_failure(request.schema_name)) {
    // An injected failure stands for the server's error reply, so the request reached it.
    if (progress != nullptr) {
      progress->sent = true;
    }
    return *failure;
  }
  if (request.model.empty()) {
    return Status(ErrorCode::kInvalidArgument,
                  "the chat request names no model: set --model or server.model");
  }
  if (cancel.cancelled()) {
    increment(&SimStats::cancelled);
    return cancelled("before it started");
  }
  if (progress != nullptr) {
    progress->sent = true;
  }
  Result<std::string> content = reply_content(request);
  if (!content.is_ok()) {
    return content.status();
  }
  if (Status slot = acquire_slot(cancel); !slot.is_ok()) {
    return slot;
  }
  ChatUsage spent;
  Result<ChatResponse> response = serve(request, *content, cancel, on_token, start, spent);
  release_slot();
  if (response.is_ok()) {
    increment(&SimStats::completed);
  } else if (progress != nullptr) {
    progress->failed_usage = spent;
  }
  return response;
}

Result<ChatResponse> SimClient::serve(const ChatRequest& request, const std::string& content,
                                      const CancelToken& cancel, const TokenCallback& on_token,
                                      MonoTime start, ChatUsage& spent) {
  Result<double> load_seconds = ensure_loaded(request, cancel);
  if (!load_seconds.is_ok()) {
    return load_seconds.status();
  }
  const int64_t prompt_tokens = estimate_tokens(prompt_chars(request));
  const MonoTime prompt_start = clock_->now();
  if (Status paced =
          spend_tokens(static_cast<double>(prompt_tokens), settings_.prompt_tokens_per_s, cancel);
      !paced.is_ok()) {
    return paced;
  }
  spent.prompt_tokens = prompt_tokens;
  const double prompt_seconds = to_seconds(clock_->now() - prompt_start);
  Result<ChatResponse> response = stream_reply(request, content, cancel, on_token, start, spent);
  if (!response.is_ok()) {
    return response;
  }
  response->usage.prompt_tokens = prompt_tokens;
  response->usage.load_seconds = *load_seconds;
  response->usage.prompt_seconds = prompt_seconds;
  response->usage.total_seconds = to_seconds(clock_->now() - start);
  return response;
}

void SimClient::fail_next(size_t count, ErrorCode code, std::string message,
                          std::string schema_name) {
  if (message.empty()) {
    message = fmt::format("simulated failure ({}) injected by the test", error_code_name(code));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  for (size_t i = 0; i < count; ++i) {
    failures_.push_back({code, message, schema_name});
  }
}

SimStats SimClient::stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

void SimClient::wait_until(const std::function<bool(const SimStats&)>& predicate) const {
  std::unique_lock<std::mutex> lock(mutex_);
  changed_.wait(lock, [&] { return predicate(stats_); });
}

Result<std::vector<ModelInfo>> SimClient::list_models() {
  std::vector<std::string> names = settings_.models;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const std::string& name : requested_models_) {
      add_unique(names, name);
    }
  }
  std::vector<ModelInfo> models;
  for (const std::string& name : names) {
    ModelInfo info;
    info.name = name;
    info.family = "simulated";
    models.push_back(std::move(info));
  }
  return models;
}

Result<std::string> SimClient::version() {
  return std::string("simulated");
}

Result<std::vector<LoadedModel>> SimClient::loaded_models() {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<LoadedModel> loaded;
  for (const auto& [name, state] : models_) {
    if (state == LoadState::kLoaded) {
      LoadedModel model;
      model.name = name;
      model.context_length = context_sizes_.count(name) > 0 ? context_sizes_.at(name) : 0;
      loaded.push_back(std::move(model));
    }
  }
  return loaded;
}

}  // namespace ollamaflow::llm
