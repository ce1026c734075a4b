#include "core/folder_check.h"

#include <sys/vfs.h>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "fakes/test_paths.h"

namespace ollamaflow {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Whether statfs(2) can read `folder`: a container may mount no /proc or /sys.
bool mounted(const fs::path& folder) {
  struct statfs info {};
  return ::statfs(folder.c_str(), &info) == 0;
}

TEST(FolderCheckTest, NamesKernelFileSystems) {
  if (!mounted("/proc/self") || !mounted("/sys/kernel")) {
    GTEST_SKIP() << "this host mounts no /proc or /sys";
  }
  EXPECT_EQ(kernel_file_system("/proc/self"), "proc");
  EXPECT_EQ(kernel_file_system("/sys/kernel"), "sysfs");
  const ollamaflow::testing::TempDir dir;
  EXPECT_EQ(kernel_file_system(dir.path()), std::nullopt);
  EXPECT_EQ(kernel_file_system(dir.path() / "missing"), std::nullopt);
}

// access(2) grants root every folder of sysfs, though none of them takes a file.
TEST(FolderCheckTest, RejectsSysfsFolder) {
  if (!fs::is_directory("/sys/kernel")) {
    GTEST_SKIP() << "this host has no /sys/kernel";
  }
  const Status status = check_output_folder("/sys/kernel", "workspace", "--workspace");
  ASSERT_FALSE(status);
  EXPECT_EQ(status.code(), ErrorCode::kInvalidArgument);
  EXPECT_THAT(status.message(),
              HasSubstr("the workspace '/sys/kernel' is on the kernel's sysfs file system"));
  EXPECT_THAT(status.message(), HasSubstr("--workspace"));
}

TEST(FolderCheckTest, RejectsNewFolderUnderProc) {
  if (!fs::is_directory("/proc/self")) {
    GTEST_SKIP() << "this host has no /proc";
  }
  const Status status = check_output_folder("/proc/self/no-such/out", "output folder", "--out");
  ASSERT_FALSE(status);
  EXPECT_THAT(status.message(), HasSubstr("(it would be created in '/proc/self')"));
  EXPECT_THAT(status.message(), HasSubstr("proc file system"));
  EXPECT_THAT(status.message(), HasSubstr("--out"));
}

TEST(FolderCheckTest, AcceptsTempFolder) {
  const ollamaflow::testing::TempDir dir;
  EXPECT_TRUE(check_output_folder(dir.path(), "workspace", "--workspace"));
  EXPECT_TRUE(check_output_folder(dir.path() / "new" / "deeper", "workspace", "--workspace"));
}

}  // namespace
}  // namespace ollamaflow
