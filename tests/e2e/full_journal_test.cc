// `run` on a full disk. A test cannot mount a small file system without root, so the binary runs
// with a file size limit (RLIMIT_FSIZE, `ulimit -f`) and SIGXFSZ ignored: a write past the limit
// then fails with EFBIG, which SQLite reports as SQLITE_FULL or SQLITE_IOERR.
#include <gtest/gtest.h>

#include "e2e/e2e_support.h"

namespace ollamaflow::testing {
namespace {

namespace fs = std::filesystem;

class FullJournalTest : public E2eTest {
 protected:
  // Runs the binary with `args` and files limited to `blocks` of 512 bytes. Its output goes
  // through a pipe, which the limit does not cover, and its exit code into exit_code_file().
  ProcessResult run_limited(int blocks, const std::vector<std::string>& args) {
    const std::string script = "(ulimit -f " + std::to_string(blocks) +
                               " && trap '' XFSZ && \"$0\" \"$@\"; echo $? > " +
                               exit_code_file().string() + ") 2>&1 | cat";
    std::vector<std::string> argv = {"/bin/sh", "-c", script};
    const std::vector<std::string> cli = cli_argv(args);
    argv.insert(argv.end(), cli.begin(), cli.end());
    return run_process(argv, cli_options({}));
  }

  fs::path exit_code_file() const { return dir_.path() / "exit_code"; }

  // The exit code of the last run_limited(), or -1 when it wrote none.
  int limited_exit_code() const {
    const std::string text = read(exit_code_file());
    return text.empty() ? -1 : std::stoi(text);
  }
};

// A journal that cannot be written exits with 2, also when it fails during the run. 32 KiB fit
// the journal's shared-memory file (-shm) and the first commits, but not the whole run.
TEST_F(FullJournalTest, JournalFullDuringRunExitsTwo) {
  const fs::path folder = dir_.path() / "full";
  const std::string db = (folder / "j.db").string();
  const ProcessResult first = run_cli({"run", "Write a hello world", "--backend", "sim", "--db", db,
                                       "--workspace", (dir_.path() / "ws1").string()});
  ASSERT_EQ(first.exit_code, 0) << first.err;

  const ProcessResult full =
      run_limited(64, {"run", "Write a hello world", "--backend", "sim", "--db", db, "--workspace",
                       (dir_.path() / "ws2").string()});
  EXPECT_EQ(limited_exit_code(), 2) << full.out;
  EXPECT_NE(full.out.find("journal: "), std::string::npos) << full.out;
}

// A new journal that cannot be written exits with 2 and leaves neither the journal file nor
// the folders that the run created for it.
TEST_F(FullJournalTest, NewJournalFullLeavesNothing) {
  const fs::path folder = dir_.path() / "full";
  fs::create_directories(folder);
  const ProcessResult full = run_limited(
      1, {"run", "Write a hello world", "--backend", "sim", "--db",
          (folder / "new" / "new.db").string(), "--workspace", (dir_.path() / "ws").string()});
  EXPECT_EQ(limited_exit_code(), 2) << full.out;
  EXPECT_FALSE(fs::exists(folder / "new")) << full.out;
  EXPECT_TRUE(fs::is_empty(folder)) << full.out;
  EXPECT_FALSE(fs::exists(dir_.path() / "ws")) << full.out;
}

}  // namespace
}  // namespace ollamaflow::testing
