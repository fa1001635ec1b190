#include "lambda/internal/zip_extract.h"

#include "base/file.h"
#include "tests/lambda/zip_builder.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>

#include <string>
#include <sys/stat.h>
#include <unistd.h>

namespace sluice::lambda::internal {
namespace {

using sluice::testing::TempDir;
using testing::ZipBuilder;

std::string slurp(const std::string& path) {
  auto r = read_file(FileSystem::posix(), path);
  return r.ok() ? *r : "<missing>";
}

mode_t mode_of(const std::string& path) {
  struct stat st;
  if (::lstat(path.c_str(), &st) != 0) return 0;
  return st.st_mode;
}

class ZipExtractTest : public ::testing::Test {
 protected:
  std::string dest() const { return tmp_.path() + "/task"; }
  TempDir tmp_;
};

TEST_F(ZipExtractTest, ExtractsFilesAndDirectories) {
  ZipBuilder zip;
  zip.dir("pkg/").file("pkg/mod.py", "x = 1\n").file("app.py", "def handler(e, c): pass\n");
  ASSERT_TRUE(extract_zip(zip.bytes(), dest(), {}).ok());
  EXPECT_EQ(slurp(dest() + "/app.py"), "def handler(e, c): pass\n");
  EXPECT_EQ(slurp(dest() + "/pkg/mod.py"), "x = 1\n");
  EXPECT_TRUE(S_ISDIR(mode_of(dest() + "/pkg")));
  // The code is read-only: files, directories and the task root itself.
  EXPECT_EQ(mode_of(dest() + "/app.py") & 07777, 0444u);
  EXPECT_EQ(mode_of(dest() + "/pkg") & 07777, 0555u);
  EXPECT_EQ(mode_of(dest()) & 07777, 0555u);
  // And still removable by Sluice (a code update or DeleteFunction).
  ASSERT_TRUE(FileSystem::posix()->remove_all(dest()).ok());
  EXPECT_EQ(mode_of(dest()), 0u);
}

TEST_F(ZipExtractTest, KeepsTheExecutableBitAndDropsWriteBitsAndSetuid) {
  ZipBuilder zip;
  zip.file("bootstrap", "#!/bin/sh\n", 04775).file("data.txt", "d", 0600);
  ASSERT_TRUE(extract_zip(zip.bytes(), dest(), {}).ok());
  EXPECT_EQ(mode_of(dest() + "/bootstrap") & 07777, 0555u);
  EXPECT_EQ(::access((dest() + "/bootstrap").c_str(), X_OK), 0);
  EXPECT_EQ(mode_of(dest() + "/data.txt") & 07777, 0444u);
}

TEST_F(ZipExtractTest, ParentDirectoriesAreCreatedForFilesWithoutDirectoryEntries) {
  ZipBuilder zip;
  zip.file("a/b/c.txt", "deep");
  ASSERT_TRUE(extract_zip(zip.bytes(), dest(), {}).ok());
  EXPECT_EQ(slurp(dest() + "/a/b/c.txt"), "deep");
}

TEST_F(ZipExtractTest, RefusesDotDotEntries) {
  ZipBuilder zip;
  zip.file("ok.txt", "1").file("../evil.txt", "pwned");
  const Status s = extract_zip(zip.bytes(), dest(), {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("'../evil.txt'"), std::string_view::npos) << s;
  EXPECT_FALSE(FileSystem::posix()->exists(tmp_.path() + "/evil.txt"));
  EXPECT_FALSE(FileSystem::posix()->exists(dest()));  // refused before anything is written
}

TEST_F(ZipExtractTest, RefusesDotDotInTheMiddleOfAPath) {
  ZipBuilder zip;
  zip.file("a/../../evil.txt", "pwned");
  EXPECT_EQ(extract_zip(zip.bytes(), dest(), {}).code(), Code::kInvalidArgument);
  EXPECT_FALSE(FileSystem::posix()->exists(tmp_.path() + "/evil.txt"));
}

TEST_F(ZipExtractTest, RefusesAbsolutePaths) {
  ZipBuilder zip;
  zip.file("/tmp/sluice-absolute-entry", "pwned");
  const Status s = extract_zip(zip.bytes(), dest(), {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("outside"), std::string_view::npos) << s;
}

TEST_F(ZipExtractTest, RefusesSymlinksPointingOutside) {
  for (const char* target : {"/etc/passwd", "../../etc", "..", "sub/../../x"}) {
    SCOPED_TRACE(target);
    TempDir tmp;
    ZipBuilder zip;
    zip.symlink("link", target);
    const Status s = extract_zip(zip.bytes(), tmp.path() + "/task", {});
    EXPECT_EQ(s.code(), Code::kInvalidArgument);
    EXPECT_NE(s.message().find("symlink"), std::string_view::npos) << s;
  }
}

TEST_F(ZipExtractTest, KeepsSymlinksThatStayInside) {
  ZipBuilder zip;
  zip.file("lib/real.so", "elf").symlink("lib/alias.so", "real.so").symlink("top", "lib/../lib");
  ASSERT_TRUE(extract_zip(zip.bytes(), dest(), {}).ok());
  EXPECT_TRUE(S_ISLNK(mode_of(dest() + "/lib/alias.so")));
  EXPECT_EQ(slurp(dest() + "/lib/alias.so"), "elf");
  EXPECT_EQ(slurp(dest() + "/top/real.so"), "elf");
}

TEST_F(ZipExtractTest, RefusesEntriesWrittenThroughASymlink) {
  // "a" -> "." is harmless alone; "a/x" would be written through it.
  ZipBuilder zip;
  zip.symlink("a", ".").file("a/x", "through");
  const Status s = extract_zip(zip.bytes(), dest(), {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_NE(s.message().find("below a symlink"), std::string_view::npos) << s;
}

TEST_F(ZipExtractTest, GarbageIsNotAZip) {
  const Status s = extract_zip("this is not a zip file at all", dest(), {});
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), kCouldNotUnzip);
}

TEST_F(ZipExtractTest, TruncatedZipIsNotAZip) {
  ZipBuilder zip;
  zip.file("app.py", std::string(10000, 'x'));
  const std::string bytes = zip.bytes();
  const Status s = extract_zip(std::string_view(bytes).substr(0, bytes.size() / 2), dest(), {});
  EXPECT_EQ(s.message(), kCouldNotUnzip) << s;
}

TEST_F(ZipExtractTest, FlippedDataByteFailsTheCrc) {
  ZipBuilder zip;
  zip.file("app.py", "hello, stored contents", 0644, /*store=*/true);
  std::string bytes = zip.bytes();
  const size_t at = bytes.find("stored");
  ASSERT_NE(at, std::string::npos);
  bytes[at] ^= 0x20;
  EXPECT_EQ(extract_zip(bytes, dest(), {}).message(), kCouldNotUnzip);
}

TEST_F(ZipExtractTest, HighlyCompressedBombStopsAtTheLimit) {
  ZipBuilder zip;
  zip.file("zeros", std::string(size_t{8} << 20, '\0'));  // 8 MiB, a few KiB compressed
  const std::string bytes = zip.bytes();
  ASSERT_LT(bytes.size(), size_t{64} << 10);
  const ZipLimits limits{.max_unzipped_bytes = 1 << 20, .max_entries = 100};
  const Status s = extract_zip(bytes, dest(), limits);
  EXPECT_EQ(s.code(), Code::kInvalidArgument);
  EXPECT_EQ(s.message(), "Unzipped size must be smaller than 1048576 bytes");
  // Counting happens as bytes are written: the partial file never passed the limit.
  struct stat st;
  ASSERT_EQ(::stat((dest() + "/zeros").c_str(), &st), 0);
  EXPECT_LT(st.st_size, 1 << 20);
}

TEST_F(ZipExtractTest, SizeLimitCountsAllFilesTogether) {
  ZipBuilder zip;
  zip.file("a", std::string(600, 'a')).file("b", std::string(600, 'b'));
  EXPECT_EQ(
      extract_zip(zip.bytes(), dest(), {.max_unzipped_bytes = 1000, .max_entries = 100}).message(),
      unzipped_too_large_message(1000));
}

TEST_F(ZipExtractTest, SizeExactlyAtTheLimitIsRefused) {
  ZipBuilder zip;
  zip.file("a", std::string(1000, 'a'));
  EXPECT_EQ(
      extract_zip(zip.bytes(), dest(), {.max_unzipped_bytes = 1000, .max_entries = 100}).code(),
      Code::kInvalidArgument);
  TempDir other;
  ZipBuilder smaller;
  smaller.file("a", std::string(999, 'a'));
  EXPECT_TRUE(extract_zip(smaller.bytes(), other.path() + "/t",
                          {.max_unzipped_bytes = 1000, .max_entries = 100})
                  .ok());
}

TEST_F(ZipExtractTest, ScanOnlyChecksWithoutWriting) {
  ZipBuilder good;
  good.file("app.py", "x");
  EXPECT_TRUE(extract_zip(good.bytes(), "", {}).ok());
  ZipBuilder bad;
  bad.file("../x", "x");
  EXPECT_EQ(extract_zip(bad.bytes(), "", {}).code(), Code::kInvalidArgument);
  ZipBuilder big;
  big.file("a", std::string(5000, 'a'));
  EXPECT_EQ(extract_zip(big.bytes(), "", {.max_unzipped_bytes = 100, .max_entries = 100}).message(),
            unzipped_too_large_message(100));
}

TEST_F(ZipExtractTest, TooManyEntriesIsRefused) {
  ZipBuilder zip;
  for (int i = 0; i < 5; ++i) zip.file("f" + std::to_string(i), "x");
  EXPECT_EQ(
      extract_zip(zip.bytes(), dest(), {.max_unzipped_bytes = 1 << 20, .max_entries = 4}).code(),
      Code::kInvalidArgument);
}

}  // namespace
}  // namespace sluice::lambda::internal
