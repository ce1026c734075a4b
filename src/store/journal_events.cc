// Journal methods for run events and scaling events.
#include <memory>
#include <string>

#include "core/log.h"
#include "store/columns.h"
#include "store/journal.h"

namespace ollamaflow::store {

namespace {

constexpr std::string_view kEventColumns = "id, run_id, time, kind, detail";

// Every column but the id, which SQLite assigns.
constexpr std::string_view kScalingFields =
    "run_id, time, action, from_count, to_count, strategy, reason, gpu_memory_used_mib, "
    "gpu_memory_free_mib, gpu_utilization_percent, queue_length, outcome, duration_s, decision";

Result<EventRecord> read_event_row(const Statement& row, const std::string& journal_path) {
  EventRecord event;
  event.id = row.column_int64(0);
  event.run_id = row.column_text(1);
  event.time = row.column_text(2);
  event.kind = row.column_text(3);
  Result<nlohmann::json> detail =
      read_json_column(row, 4, journal_path, "detail of event " + std::to_string(event.id));
  if (!detail.is_ok()) {
    return detail.status();
  }
  event.detail = std::move(detail).value();
  return event;
}

Result<ScalingEventRecord> read_scaling_row(const Statement& row, const std::string& journal_path) {
  ScalingEventRecord event;
  event.id = row.column_int64(0);
  event.run_id = row.column_text(1);
  event.time = row.column_text(2);
  event.action = row.column_text(3);
  event.from_count = static_cast<int>(row.column_int64(4));
  event.to_count = static_cast<int>(row.column_int64(5));
  event.strategy = row.column_text(6);
  event.reason = row.column_text(7);
  event.gpu_memory_used_mib = row.column_optional_double(8);
  event.gpu_memory_free_mib = row.column_optional_double(9);
  event.gpu_utilization_percent = row.column_optional_double(10);
  event.queue_length = static_cast<int>(row.column_int64(11));
  event.outcome = row.column_text(12);
  event.duration_s = row.column_optional_double(13);
  Result<nlohmann::json> decision = read_json_column(
      row, 14, journal_path, "decision of scaling event " + std::to_string(event.id));
  if (!decision.is_ok()) {
    return decision.status();
  }
  event.decision = std::move(decision).value();
  return event;
}

}  // namespace

// --- events ---

Result<int64_t> Journal::add_event(EventRecord event) {
  auto id = std::make_shared<int64_t>(0);
  Result<std::function<Status()>> body = event_write(std::move(event), id);
  if (!body.is_ok()) {
    return body.status();
  }
  if (Status status = write("add_event", *body); !status.is_ok()) {
    return status;
  }
  return *id;
}

void Journal::post_event(EventRecord event) {
  Result<std::function<Status()>> body = event_write(std::move(event), nullptr);
  if (!body.is_ok()) {
    get_logger("store")->warn("journal event rejected path={} error={}", path_,
                              body.status().message());
    return;
  }
  post("add_event", std::move(body).value());
}

Result<std::function<Status()>> Journal::event_write(EventRecord event,
                                                     std::shared_ptr<int64_t> id) {
  if (Status valid = require_nonempty("event", "kind", event.kind); !valid.is_ok()) {
    return valid;
  }
  if (event.time.empty()) {
    event.time = now_text();
  }
  return std::function<Status()>([this, event = std::move(event), id]() -> Status {
    if (!event.run_id.empty()) {
      if (Status exists = check_run_exists(event.run_id); !exists.is_ok()) {
        return exists;
      }
    }
    Result<Statement> insert =
        database_.prepare("INSERT INTO events (run_id, time, kind, detail) VALUES (?, ?, ?, ?)");
    if (!insert.is_ok()) {
      return insert.status();
    }
    Status bound = insert->bind_all(text_or_null(event.run_id), event.time, event.kind,
                                    json_text(event.detail));
    if (bound.is_ok()) {
      bound = insert->run();
    }
    if (id != nullptr) {
      *id = database_.last_insert_rowid();
    }
    return bound;
  });
}

Result<std::vector<EventRecord>> Journal::events_for_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<EventRecord>(
      database_,
      "SELECT " + std::string(kEventColumns) + " FROM events WHERE run_id = ? ORDER BY id",
      [&](const Statement& row) { return read_event_row(row, path_); }, run_id);
}

// --- scaling events ---

Result<int64_t> Journal::add_scaling_event(ScalingEventRecord event) {
  if (Status valid = require_nonempty("scaling event", "action", event.action); !valid.is_ok()) {
    return valid;
  }
  if (event.time.empty()) {
    event.time = now_text();
  }
  int64_t id = 0;
  Status status = write("add_scaling_event", [&]() -> Status {
    if (!event.run_id.empty()) {
      if (Status exists = check_run_exists(event.run_id); !exists.is_ok()) {
        return exists;
      }
    }
    Result<Statement> insert =
        database_.prepare("INSERT INTO scaling_events (" + std::string(kScalingFields) +
                          ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    if (!insert.is_ok()) {
      return insert.status();
    }
    Status bound = insert->bind_all(text_or_null(event.run_id), event.time, event.action,
                                    event.from_count, event.to_count, event.strategy, event.reason,
                                    event.gpu_memory_used_mib, event.gpu_memory_free_mib,
                                    event.gpu_utilization_percent, event.queue_length,
                                    event.outcome, event.duration_s, json_text(event.decision));
    if (bound.is_ok()) {
      bound = insert->run();
    }
    id = database_.last_insert_rowid();
    return bound;
  });
  if (!status.is_ok()) {
    return status;
  }
  return id;
}

Result<std::vector<ScalingEventRecord>> Journal::scaling_events_for_run(const std::string& run_id) {
  std::lock_guard lock(mutex_);
  if (Status exists = check_run_exists(run_id); !exists.is_ok()) {
    return exists;
  }
  return query_rows<ScalingEventRecord>(
      database_,
      "SELECT id, " + std::string(kScalingFields) +
          " FROM scaling_events WHERE run_id = ? ORDER BY id",
      [&](const Statement& row) { return read_scaling_row(row, path_); }, run_id);
}

Result<std::vector<ScalingEventRecord>> Journal::recent_scaling_events(int limit) {
  if (limit < 1) {
    return Status(ErrorCode::kInvalidArgument,
                  "scaling event limit " + std::to_string(limit) + " is below 1; pass 1 or more");
  }
  std::lock_guard lock(mutex_);
  return query_rows<ScalingEventRecord>(
      database_,
      "SELECT id, " + std::string(kScalingFields) + " FROM scaling_events ORDER BY id DESC LIMIT ?",
      [&](const Statement& row) { return read_scaling_row(row, path_); }, limit);
}

}  // namespace ollamaflow::store
