#include "store/journal.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string_view>
#include <system_error>

#include "core/log.h"
#include "store/schema.h"

namespace ollamaflow::store {

namespace {

// Upper bound on the writes in one group commit, so that one commit stays short.
constexpr size_t kMaxWritesPerCommit = 256;
// How long the writer thread lets posted writes gather before it commits them.
constexpr std::chrono::milliseconds kPostWindow{2};

std::string local_host_name() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0) {
    return "unknown";
  }
  return name;
}

Status create_parent_folder(const std::string& path) {
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return Status::ok();
  }
  const std::filesystem::path parent = std::filesystem::path(path).parent_path();
  if (parent.empty()) {
    return Status::ok();
  }
  // The topmost missing folder, which the note names, because removing it undoes the creation.
  std::filesystem::path top_missing;
  std::error_code error;
  for (std::filesystem::path folder = parent; !folder.empty() && folder != folder.root_path();
       folder = folder.parent_path()) {
    if (std::filesystem::symlink_status(folder, error).type() !=
        std::filesystem::file_type::not_found) {
      break;
    }
    top_missing = folder;
  }
  std::filesystem::create_directories(parent, error);
  if (!error) {
    if (!top_missing.empty()) {
      get_logger("store")->info("created the folder '{}' for the journal '{}'",
                                top_missing.string(), path);
    }
    return Status::ok();
  }
  // A path through a file or a folder without permission is the user's to fix with --db.
  const bool bad_path = error == std::errc::permission_denied ||
                        error == std::errc::not_a_directory || error == std::errc::file_exists ||
                        error == std::errc::read_only_file_system;
  return Status(bad_path ? ErrorCode::kInvalidArgument : ErrorCode::kIoError,
                "cannot create folder '" + parent.string() +
                    "' for the journal: " + error.message() + "; choose another path with --db");
}

// The first 16 bytes of every SQLite 3 database file.
constexpr std::string_view kSqliteHeader{"SQLite format 3\0", 16};

// Rejects with kInvalidArgument a journal path that names a folder, a device, FIFO or socket, or
// a non-empty file without the SQLite header. Such a file is then neither written nor reported
// as a corrupt journal. An empty file is a new database to SQLite. A file that cannot be read is
// left to SQLite, whose error names the permission problem.
Status check_journal_file(const std::string& path) {
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return Status::ok();
  }
  std::error_code error;
  const std::filesystem::file_status status = std::filesystem::status(path, error);
  if (!std::filesystem::exists(status)) {
    return Status::ok();
  }

  if (std::filesystem::is_directory(status)) {
    return Status(ErrorCode::kInvalidArgument,
                  "journal '" + path + "' is a folder, not a journal file: choose another path " +
                      "with --db, such as '" +
                      (std::filesystem::path(path) / "journal.db").string() + "'");
  }
  if (!std::filesystem::is_regular_file(status)) {
    return Status(ErrorCode::kInvalidArgument,
                  "journal '" + path +
                      "' is not a regular file (a device, FIFO or socket): choose another path "
                      "with --db");
  }

  std::ifstream file(path, std::ios::binary);
  if (!file) {
    return Status::ok();
  }
  char header[kSqliteHeader.size()] = {};
  file.read(header, static_cast<std::streamsize>(sizeof(header)));
  const auto read = static_cast<size_t>(file.gcount());
  if (read == 0 || std::string_view(header, read) == kSqliteHeader) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                "journal '" + path +
                    "' is not an SQLite database (it lacks the SQLite file header), so it is "
                    "not an ollama-flow journal: choose another path with --db");
}

// Rejects with kInvalidArgument an SQLite database that has tables but no journal schema, so
// that the migrations do not add the journal's tables to another program's database. One
// statement reads both facts from one snapshot, because another process may commit the first
// migration of a new file between two reads, and the file would then look foreign.
Status check_not_foreign(Database& database) {
  Result<Statement> tables = database.prepare(
      "SELECT count(*) FROM sqlite_master WHERE NOT EXISTS "
      "(SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version')");
  if (!tables.is_ok()) {
    return tables.status();
  }
  if (Result<bool> row = tables->step(); !row.is_ok()) {
    return row.status();
  }
  if (tables->column_int64(0) == 0) {
    return Status::ok();
  }
  return Status(ErrorCode::kInvalidArgument,
                "journal '" + database.path() +
                    "' is an SQLite database without the journal's schema_version table, so it "
                    "belongs to another program and is not an ollama-flow journal: choose "
                    "another path with --db");
}

// Rewords SQLite's report of a damaged file (SQLITE_CORRUPT, SQLITE_NOTADB) as a usage error that
// names the journal and the fix, without the statement that found the damage.
Status explain_corrupt(const std::string& path, Status status) {
  if (status.code() != ErrorCode::kCorrupt) {
    return status;
  }
  std::string cause = status.message();
  if (const size_t failed = cause.find("failed: "); failed != std::string::npos) {
    cause = cause.substr(failed + 8);
    cause = cause.substr(0, cause.find(';'));
  }
  return Status(ErrorCode::kInvalidArgument,
                "journal '" + path + "' is damaged (SQLite: " + cause +
                    "): move it aside so that a new journal is created, or pass another path "
                    "with --db");
}

// Rewords a write failure on a read-only file or folder, which SQLite reports as "attempt to
// write a readonly database", so that it names the journal and the fix.
Status explain_read_only(const std::string& path, Status status) {
  if (status.code() != ErrorCode::kPermissionDenied) {
    return status;
  }
  if (path == ":memory:" || path.rfind("file:", 0) == 0) {
    return Status(ErrorCode::kPermissionDenied, "journal '" + path + "' is read-only (" +
                                                    status.message() +
                                                    "); pass --db with a writable path");
  }
  const std::filesystem::path folder = std::filesystem::absolute(path).parent_path();
  const std::string where = ::access(folder.c_str(), W_OK) != 0
                                ? "its folder '" + folder.string() +
                                      "' is not writable, so SQLite cannot create the " +
                                      "-wal and -shm files beside it"
                                : "the file is not writable";
  return Status(ErrorCode::kPermissionDenied,
                "journal '" + path + "' is read-only: " + where + " (" + status.message() +
                    "); make the file and its folder writable, or pass --db with a writable "
                    "path. `ollama-flow runs --db " +
                    path + "` still reads it");
}

// Returns kCorrupt when SQLite's quick_check finds a damaged page. A damaged page shows otherwise
// only when a query reads it, so a run could journal into a damaged file and end with exit 0,
// and `runs` could list some runs and fail on others.
// quick_check reads every page, which is O(file size), but skips the index cross-checks of
// integrity_check. It also reports rows that break a CHECK or NOT NULL constraint. Those are
// rows from another version or program, which the readers list as unknown, so they do not count.
Status check_integrity(Database& database) {
  Result<Statement> check = database.prepare("PRAGMA quick_check(100)");
  if (!check.is_ok()) {
    return check.status();
  }
  for (;;) {
    Result<bool> row = check->step();
    if (!row.is_ok()) {
      return row.status();
    }
    if (!row.value()) {
      return Status::ok();
    }
    std::string problem = check->column_text(0);
    if (problem == "ok" || problem.find("CHECK constraint failed") != std::string::npos ||
        problem.find("NULL value in") != std::string::npos) {
      continue;
    }
    // SQLite heads its first row with "*** in database main ***" and a line break.
    if (const size_t heading_end = problem.find("***\n"); heading_end != std::string::npos) {
      problem.erase(0, heading_end + 4);
    }
    for (size_t line_end = problem.find('\n'); line_end != std::string::npos;
         line_end = problem.find('\n', line_end)) {
      problem.replace(line_end, 1, ", ");
    }
    return Status(ErrorCode::kCorrupt, "PRAGMA quick_check failed: " + problem);
  }
}

JournalOptions resolve_options(JournalOptions options) {
  if (options.clock == nullptr) {
    options.clock = system_clock();
  }
  if (options.database.clock == nullptr) {
    options.database.clock = options.clock;
  }
  if (options.pid == 0) {
    options.pid = getpid();
  }
  if (options.host.empty()) {
    options.host = local_host_name();
  }
  if (options.process_alive == nullptr) {
    options.process_alive = process_exists;
  }
  return options;
}

}  // namespace

Result<std::string> default_journal_path(const EnvLookup& env) {
  const std::optional<std::string> data_home = env("XDG_DATA_HOME");
  // The XDG Base Directory Specification treats a relative XDG_DATA_HOME as invalid, so it is
  // ignored.
  if (data_home.has_value() && !data_home->empty() && data_home->front() == '/') {
    return (std::filesystem::path(*data_home) / "ollama-flow" / "journal.db").string();
  }
  const std::optional<std::string> home = env("HOME");
  if (home.has_value() && !home->empty()) {
    return (std::filesystem::path(*home) / ".local/share/ollama-flow/journal.db").string();
  }
  if (data_home.has_value() && !data_home->empty()) {
    return Status(ErrorCode::kNotFound,
                  "no default journal path: XDG_DATA_HOME '" + *data_home +
                      "' is relative, which the XDG specification makes invalid, and HOME is not "
                      "set; set XDG_DATA_HOME to an absolute path, or pass --db PATH");
  }
  return Status(ErrorCode::kNotFound,
                "no default journal path: neither XDG_DATA_HOME nor HOME is set; pass --db PATH");
}

bool process_exists(int64_t pid) {
  // kill() with pid 0 or a negative pid addresses process groups, never one process.
  if (pid <= 0) {
    return false;
  }
  return kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM;
}

Result<std::unique_ptr<Journal>> Journal::open(const std::string& path, JournalOptions options) {
  if (path.empty()) {
    return Status(ErrorCode::kInvalidArgument, "journal path is empty; pass --db PATH");
  }
  if (Status created = create_parent_folder(path); !created.is_ok()) {
    return created;
  }
  if (Status usable = check_journal_file(path); !usable.is_ok()) {
    return usable;
  }
  options = resolve_options(std::move(options));
  Result<Database> database = Database::open(path, options.database);
  if (!database.is_ok() && database.status().code() == ErrorCode::kIoError) {
    // SQLite reports a file that it cannot open or create (SQLITE_CANTOPEN) as an I/O error. The
    // path is the user's to fix with --db.
    return Status(ErrorCode::kInvalidArgument,
                  "journal '" + path +
                      "' cannot be opened: choose another path with --db, or fix the cause: " +
                      database.status().message());
  }
  if (!database.is_ok()) {
    return explain_read_only(path, explain_corrupt(path, database.status()));
  }
  if (database->read_only()) {
    return explain_read_only(
        path, Status(ErrorCode::kPermissionDenied, "SQLite could open it only for reading"));
  }
  if (Status own = check_not_foreign(database.value()); !own.is_ok()) {
    return explain_corrupt(path, own);
  }
  if (Status intact = check_integrity(database.value()); !intact.is_ok()) {
    return explain_corrupt(path, intact);
  }
  const std::string applied_at = format_iso8601(options.clock->wall_now());
  Result<int> version = migrate(database.value(), journal_migrations(), applied_at);
  if (!version.is_ok()) {
    return explain_read_only(path, explain_corrupt(path, version.status()));
  }
  get_logger("store")->info("journal opened path={} schema_version={}", path, version.value());
  return std::unique_ptr<Journal>(
      new Journal(path, std::move(database).value(), std::move(options), version.value()));
}

// The oldest schema that a read-only open reads as it is. Version 2 only added 'planned' to the
// CHECK constraint of runs.status, so the queries of version 2 read a version 1 file. Its
// earlier --plan-only runs show as succeeded until a writing command migrates the file. Version 3
// added the failed token columns of tasks, which the task queries read as 0 from an older file.
constexpr int kOldestReadableVersion = 1;

Result<std::unique_ptr<Journal>> Journal::open_read_only(const std::string& path,
                                                         JournalOptions options) {
  std::error_code error;
  if (path.empty() || !std::filesystem::exists(path, error)) {
    return Status(ErrorCode::kNotFound, "journal '" + path +
                                            "' not found: no run was journaled there; pass --db "
                                            "with the journal of your runs");
  }
  if (Status usable = check_journal_file(path); !usable.is_ok()) {
    return usable;
  }
  options = resolve_options(std::move(options));
  options.database.read_only = true;
  Result<Database> database = Database::open(path, options.database);
  if (!database.is_ok()) {
    return explain_corrupt(path, database.status());
  }
  Result<int> version = read_schema_version(database.value());
  if (!version.is_ok()) {
    return explain_corrupt(path, version.status());
  }
  if (Status own = check_not_foreign(database.value()); !own.is_ok()) {
    return explain_corrupt(path, own);
  }
  if (Status intact = check_integrity(database.value()); !intact.is_ok()) {
    return explain_corrupt(path, intact);
  }
  const int latest = latest_version(journal_migrations());
  if (version.value() > latest || version.value() < kOldestReadableVersion) {
    return Status(
        ErrorCode::kInvalidArgument,
        "journal '" + path + "' has schema version " + std::to_string(version.value()) +
            ", and this ollama-flow reads version " + std::to_string(latest) +
            (version.value() > latest ? ": it was written by a newer ollama-flow, so use that one"
                                      : ": a command that writes, such as `ollama-flow run --db " +
                                            path + "`, upgrades it"));
  }
  std::unique_ptr<Journal> journal(
      new Journal(path, std::move(database).value(), std::move(options), version.value()));
  // No other thread has the journal yet, so queue_mutex_ need not be held.
  journal->failure_ = Status(ErrorCode::kPermissionDenied,
                             "journal '" + path +
                                 "' was opened read-only, for a command that only reads it, "
                                 "and cannot be written");
  return journal;
}

Journal::Journal(std::string path, Database database, JournalOptions options, int schema_version)
    : path_(std::move(path)),
      options_(std::move(options)),
      schema_version_(schema_version),
      database_(std::move(database)),
      random_(std::random_device{}()) {}

Status Journal::health() const {
  std::lock_guard lock(queue_mutex_);
  return failure_;
}

int64_t Journal::busy_retries() const {
  std::lock_guard lock(mutex_);
  return database_.busy_retries();
}

std::string Journal::now_text() const {
  return format_iso8601(options_.clock->wall_now());
}

Journal::~Journal() {
  std::unique_lock queue_lock(queue_mutex_);
  closing_ = true;
  posted_.notify_all();
  if (writer_.joinable()) {
    queue_lock.unlock();
    writer_.join();
    queue_lock.lock();
  }
  while (committing_) {
    committed_.wait(queue_lock);
  }
  if (!queue_.empty()) {
    lead_group_commit(queue_lock);
  }
  dropped_log_.flush();
}

Status Journal::flush() {
  static const std::function<Status()> kNothing = [] { return Status::ok(); };
  Status written = write("flush", kNothing);
  return written.is_ok() ? health() : written;
}

Status Journal::write(const char* operation, const std::function<Status()>& body) {
  PendingWrite pending;
  pending.operation = operation;
  pending.body = &body;
  std::unique_lock queue_lock(queue_mutex_);
  if (!failure_.is_ok()) {
    return failure_;
  }
  queue_.push_back(&pending);
  while (!pending.done) {
    if (committing_) {
      pending.wake.wait(queue_lock);
    } else {
      lead_group_commit(queue_lock);
    }
  }
  return pending.status;
}

void Journal::post(const char* operation, std::function<Status()> body) {
  auto pending = std::make_unique<PendingWrite>();
  pending->operation = operation;
  pending->posted = true;
  pending->owned_body = std::move(body);
  pending->body = &pending->owned_body;
  std::unique_lock queue_lock(queue_mutex_);
  if (!failure_.is_ok()) {
    if (dropped_log_.allow(options_.clock->now())) {
      get_logger("store")->warn("journal write dropped path={} operation={} error={}", path_,
                                operation, failure_.message());
    }
    return;
  }
  queue_.push_back(pending.release());
  if (!writer_.joinable()) {
    writer_ = std::thread([this] { run_writer(); });
  }
  if (queue_.size() == 1 || queue_.size() >= kMaxWritesPerCommit) {
    posted_.notify_all();
  }
}

void Journal::run_writer() {
  std::unique_lock queue_lock(queue_mutex_);
  while (true) {
    posted_.wait(queue_lock, [&] { return closing_ || !queue_.empty(); });
    if (queue_.empty()) {
      return;  // closing, nothing left
    }
    // NOTE: real time, not the injected clock: this only groups disk writes, and a fake clock
    // that no thread advances would keep the rows from ever being committed.
    posted_.wait_for(queue_lock, kPostWindow,
                     [&] { return closing_ || queue_.size() >= kMaxWritesPerCommit; });
    if (committing_) {
      committed_.wait(queue_lock);
      continue;
    }
    if (!queue_.empty()) {
      lead_group_commit(queue_lock);
    }
  }
}

void Journal::lead_group_commit(std::unique_lock<std::mutex>& queue_lock) {
  committing_ = true;
  do {
    const size_t count = std::min(queue_.size(), kMaxWritesPerCommit);
    std::vector<PendingWrite*> batch(queue_.begin(), queue_.begin() + count);
    queue_.erase(queue_.begin(), queue_.begin() + count);
    queue_lock.unlock();

    Status failure = commit_batch(batch);
    for (PendingWrite* write : batch) {
      if (write->posted && !write->status.is_ok() && failure.is_ok()) {
        get_logger("store")->warn("journal write rejected path={} operation={} error={}", path_,
                                  write->operation, write->status.message());
      }
    }

    queue_lock.lock();
    if (!failure.is_ok() && failure_.is_ok()) {
      failure_ = failure;
    }
    for (PendingWrite* write : batch) {
      finish_write(write);
    }
    // Writes queued behind a failed commit are rejected without running.
    if (!failure_.is_ok()) {
      for (PendingWrite* write : queue_) {
        write->status = failure_;
        finish_write(write);
      }
      queue_.clear();
    }
    // A blocking writer in the queue wakes up and leads the next commit itself; posted writes
    // have no waiting caller, so this leader commits them.
  } while (!queue_.empty() && std::none_of(queue_.begin(), queue_.end(),
                                           [](const PendingWrite* w) { return !w->posted; }));
  committing_ = false;
  const auto next_leader =
      std::find_if(queue_.begin(), queue_.end(), [](const PendingWrite* w) { return !w->posted; });
  if (next_leader != queue_.end()) {
    (*next_leader)->wake.notify_one();
  }
  committed_.notify_all();
}

void Journal::finish_write(PendingWrite* write) {
  write->done = true;
  if (write->posted) {
    delete write;
  } else {
    write->wake.notify_one();
  }
}

Status Journal::commit_batch(const std::vector<PendingWrite*>& batch) {
  std::lock_guard lock(mutex_);
  const PendingWrite* failed = nullptr;
  Status status = database_.transaction([&]() -> Status {
    failed = nullptr;
    // A re-run after SQLITE_BUSY starts a new transaction, which looks the runs up again.
    runs_found_in_transaction_.clear();
    for (PendingWrite* write : batch) {
      write->status = (*write->body)();
      // A failure that SQLite reported means the row could not be stored. Rejected input is
      // detected by the body's reads before it writes, and leaves last_error_code at SQLITE_OK,
      // so the other writes of the batch go on.
      if (!write->status.is_ok() && database_.last_error_code() != SQLITE_OK) {
        failed = write;
        return write->status;
      }
    }
    return Status::ok();
  });
  runs_found_in_transaction_.clear();
  if (status.is_ok()) {
    return status;
  }

  // The transaction was rolled back, so no write of the batch was stored.
  const char* operation = failed != nullptr ? failed->operation : batch.front()->operation;
  Status sticky(status.code(), "journal '" + path_ + "' rejects writes since " + operation +
                                   " failed: " + status.message());
  for (PendingWrite* write : batch) {
    write->status = write == failed || failed == nullptr ? status : sticky;
  }
  get_logger("store")->error(
      "journal write failed, later writes are rejected path={} operation={} batch={} error={}",
      path_, operation, batch.size(), status.message());
  return sticky;
}

void Journal::apply_liveness(RunRecord& run) const {
  if (run.status != RunStatus::kRunning || run.pid == options_.pid) {
    return;
  }
  // NOTE: liveness is known only on the host that ran the run. A run from another host name
  // (another machine, or a container that was replaced) stays "running" here. A pid reused by
  // an unrelated process also keeps a dead run "running".
  if (run.host == options_.host && !options_.process_alive(run.pid)) {
    run.status = RunStatus::kInterrupted;
  }
}

}  // namespace ollamaflow::store
