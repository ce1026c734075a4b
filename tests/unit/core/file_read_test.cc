// read_file_limited: files within and over the limit, files that are not regular, and the
// errors of paths that cannot be read.
#include "core/file_read.h"

#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "fakes/test_paths.h"

namespace ollamaflow {
namespace {

namespace fs = std::filesystem;

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

class FileReadTest : public ::testing::Test {
 protected:
  fs::path write_text(const std::string& name, const std::string& text) {
    const fs::path path = dir_.path() / name;
    std::ofstream(path) << text;
    return path;
  }

  testing::TempDir dir_;
};

TEST(FormatByteSizeTest, UsesLargestWholeUnit) {
  EXPECT_EQ(format_byte_size(0), "0 bytes");
  EXPECT_EQ(format_byte_size(1), "1 byte");
  EXPECT_EQ(format_byte_size(1024), "1 KiB");
  EXPECT_EQ(format_byte_size(8 * 1024 * 1024), "8 MiB");
  EXPECT_EQ(format_byte_size(uint64_t{3} << 30), "3 GiB");
  EXPECT_EQ(format_byte_size(1536 * 1024 + 1), "1.5 MiB (1572865 bytes)");
}

TEST_F(FileReadTest, FileAtLimitIsRead) {
  const fs::path path = write_text("at.json", std::string(64, 'x'));
  Result<std::string> text = read_file_limited(path.string(), 64, "file 'at.json'");
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(text->size(), 64u);
}

TEST_F(FileReadTest, EmptyFileIsRead) {
  const fs::path path = write_text("empty.json", "");
  Result<std::string> text = read_file_limited(path.string(), 64, "file 'empty.json'");
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(*text, "");
}

TEST_F(FileReadTest, SparseFileOverLimitNamesSize) {
  const fs::path path = dir_.path() / "sparse.json";
  std::ofstream(path).close();
  fs::resize_file(path, 300 * 1024 * 1024);
  Result<std::string> text = read_file_limited(path.string(), 8 * 1024 * 1024, "plan file 'p'");
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(),
            "plan file 'p' is 300 MiB, more than the limit of 8 MiB: check that it is the right "
            "file");
}

TEST_F(FileReadTest, OneByteOverLimitIsRejected) {
  const fs::path path = write_text("over.json", std::string(65, 'x'));
  Result<std::string> text = read_file_limited(path.string(), 64, "file 'over.json'");
  ASSERT_FALSE(text.is_ok());
  EXPECT_TRUE(contains(text.status().message(), "is 65 bytes, more than the limit of 64 bytes"))
      << text.status().message();
}

TEST_F(FileReadTest, EndlessDeviceIsRejected) {
  Result<std::string> text = read_file_limited("/dev/zero", 1024 * 1024, "file '/dev/zero'");
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_EQ(text.status().message(),
            "file '/dev/zero' is not a regular file and gives more than the limit of 1 MiB: pass "
            "a regular file");
}

TEST_F(FileReadTest, FifoWithinLimitIsRead) {
  const fs::path path = dir_.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  const std::string content(100000, 'p');
  std::thread writer([&path, &content] { std::ofstream(path) << content; });
  Result<std::string> text = read_file_limited(path.string(), 1024 * 1024, "file 'plan.fifo'");
  writer.join();
  ASSERT_TRUE(text.is_ok()) << text.status().to_string();
  EXPECT_EQ(*text, content);
}

void ignore_signal(int) {}

// Ctrl-C while the open of a FIFO waits for a writer cancels the read, as the commands install
// their handlers without SA_RESTART. Here SIGUSR1 with such a handler replaces SIGINT.
TEST_F(FileReadTest, SignalCancelsFifoWithoutWriter) {
  const fs::path path = dir_.path() / "plan.fifo";
  ASSERT_EQ(::mkfifo(path.c_str(), 0600), 0);
  struct sigaction action {};
  struct sigaction previous {};
  action.sa_handler = ignore_signal;
  sigemptyset(&action.sa_mask);
  ASSERT_EQ(sigaction(SIGUSR1, &action, &previous), 0);

  std::atomic<bool> done{false};
  Result<std::string> text = Status(ErrorCode::kInternal, "not read");
  std::thread reader([&] {
    text = read_file_limited(path.string(), 1024, "plan file 'plan.fifo'");
    done = true;
  });
  // The signal may come before the reader waits in open(), so it repeats until the read ends.
  for (int i = 0; i < 500 && !done; ++i) {
    pthread_kill(reader.native_handle(), SIGUSR1);
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!done) {
    std::ofstream(path) << "{}";  // lets the reader finish, so the test can fail instead of hang
  }
  reader.join();
  sigaction(SIGUSR1, &previous, nullptr);
  ASSERT_FALSE(text.is_ok());
  EXPECT_EQ(text.status().code(), ErrorCode::kCancelled) << text.status().to_string();
  EXPECT_TRUE(contains(text.status().message(), "plan file 'plan.fifo'"))
      << text.status().message();
  EXPECT_TRUE(contains(text.status().message(), "cancelled")) << text.status().message();
}

TEST_F(FileReadTest, FolderAndMissingFileAreNamed) {
  Result<std::string> folder = read_file_limited(dir_.path().string(), 64, "file 'd'");
  ASSERT_FALSE(folder.is_ok());
  EXPECT_EQ(folder.status().code(), ErrorCode::kInvalidArgument);
  EXPECT_TRUE(contains(folder.status().message(), "file 'd' is a folder"))
      << folder.status().message();

  Result<std::string> missing =
      read_file_limited((dir_.path() / "missing.json").string(), 64, "file 'm'");
  ASSERT_FALSE(missing.is_ok());
  EXPECT_EQ(missing.status().code(), ErrorCode::kNotFound);
  EXPECT_TRUE(contains(missing.status().message(), "file 'm' not found: No such file"))
      << missing.status().message();
}

}  // namespace
}  // namespace ollamaflow
