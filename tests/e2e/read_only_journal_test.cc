// `runs` and `runs show` on a journal in a read-only folder, and `run` on it. Root may write
// every file whatever its mode, so as root the commands run as the user nobody (setpriv).
#include <unistd.h>

#include <gtest/gtest.h>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSetpriv = "/usr/bin/setpriv";

class ReadOnlyJournalTest : public E2eTest {
 protected:
  // Runs the binary as a user who cannot write the journal folder: this user, or the user
  // nobody (uid 65534) when this is root.
  ProcessResult run_unprivileged(const std::vector<std::string>& args) {
    std::vector<std::string> argv = cli_argv(args);
    if (::geteuid() == 0) {
      argv.insert(argv.begin(),
                  {kSetpriv, "--reuid=65534", "--regid=65534", "--clear-groups", "--"});
    }
    return run_process(argv, cli_options({}));
  }

  // Journals one simulated run in `folder`/journal.db and returns the run id.
  std::string journal_one_run(const fs::path& folder) {
    const ProcessResult run =
        run_cli({"run", "Write a hello world", "--backend", "sim", "--db",
                 (folder / "journal.db").string(), "--workspace", workspace().string(), "--json"});
    EXPECT_EQ(run.exit_code, 0) << run.err;
    return parse_json(run).value("run_id", "");
  }

  // Makes the temp folder traversable for the user nobody, and `folder` and its journal read-only.
  void make_read_only(const fs::path& folder) {
    fs::permissions(dir_.path(), fs::perms::owner_all | fs::perms::group_read |
                                     fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec);
    for (const fs::directory_entry& entry : fs::directory_iterator(folder)) {
      if (entry.is_regular_file()) {
        fs::permissions(entry.path(),
                        fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
      }
    }
    fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec | fs::perms::group_read |
                                fs::perms::group_exec | fs::perms::others_read |
                                fs::perms::others_exec);
  }

  void TearDown() override {
    // The temp folder removes its content, which needs the folder writable again.
    std::error_code ignored;
    fs::permissions(dir_.path() / "journal", fs::perms::owner_all, fs::perm_options::add, ignored);
  }
};

TEST_F(ReadOnlyJournalTest, RunsListsAndShowsReadOnlyJournal) {
  if (::geteuid() == 0 && ::access(kSetpriv, X_OK) != 0) {
    GTEST_SKIP() << "running as root without " << kSetpriv << " to drop the privilege";
  }
  const fs::path folder = dir_.path() / "journal";
  fs::create_directories(folder);
  const std::string run_id = journal_one_run(folder);
  ASSERT_FALSE(run_id.empty());
  make_read_only(folder);
  const std::string db = (folder / "journal.db").string();

  const ProcessResult list = run_unprivileged({"runs", "--db", db});
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(run_id), std::string::npos) << list.out << list.err;

  const ProcessResult show = run_unprivileged({"runs", "show", run_id, "--db", db, "--json"});
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_EQ(parse_json(show).value("status", ""), "succeeded") << show.out;
  EXPECT_FALSE(fs::exists(db + "-wal")) << "a read created the WAL file";
}

TEST_F(ReadOnlyJournalTest, RunOnReadOnlyJournalSaysSo) {
  if (::geteuid() == 0 && ::access(kSetpriv, X_OK) != 0) {
    GTEST_SKIP() << "running as root without " << kSetpriv << " to drop the privilege";
  }
  const fs::path folder = dir_.path() / "journal";
  fs::create_directories(folder);
  ASSERT_FALSE(journal_one_run(folder).empty());
  make_read_only(folder);
  const std::string db = (folder / "journal.db").string();

  // The workspace itself is writable, so that the journal is the only thing in the way.
  const fs::path ws = dir_.path() / "ws2";
  fs::create_directory(ws);
  fs::permissions(ws, fs::perms::all);
  const ProcessResult run = run_unprivileged(
      {"run", "Write a note", "--backend", "sim", "--db", db, "--workspace", ws.string()});
  // A journal that cannot be written is a usage error, like a workspace that cannot be written.
  EXPECT_EQ(run.exit_code, 2) << run.err;
  EXPECT_NE(run.err.find("journal '" + db + "' is read-only"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("pass --db with a writable path"), std::string::npos) << run.err;
}

}  // namespace
}  // namespace ollamaflow::testing
