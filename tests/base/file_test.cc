#include "base/file.h"

#include "base/bytes.h"
#include "tests/support/fault_injection_file_system.h"
#include "tests/support/mem_file_system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <thread>
#include <type_traits>
#include <unistd.h>
#include <vector>

namespace sluice {
namespace {

using testing::HasSubstr;
using testing::UnorderedElementsAre;

// ---- Environments: the same suite runs on the real disk and in memory ----

// A fresh directory under testing::TempDir() on the real file system, removed afterwards.
class PosixEnv {
 public:
  PosixEnv() {
    std::string tmpl = testing::TempDir() + "sluice_file_test_XXXXXX";
    const char* dir = ::mkdtemp(tmpl.data());
    SLUICE_CHECK(dir != nullptr, "mkdtemp {} failed", tmpl);
    root_ = dir;
  }
  ~PosixEnv() { (void)FileSystem::posix()->remove_all(root_); }
  PosixEnv(const PosixEnv&) = delete;
  PosixEnv& operator=(const PosixEnv&) = delete;

  FileSystem* fs() { return FileSystem::posix(); }
  const std::string& root() const { return root_; }

 private:
  std::string root_;
};

class MemEnv {
 public:
  MemEnv() { SLUICE_CHECK(mem_.create_dirs(root_).ok(), "create {}", root_); }
  FileSystem* fs() { return &mem_; }
  const std::string& root() const { return root_; }

 private:
  MemFileSystem mem_;
  std::string root_ = "/sluice/test";
};

class EnvNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    if constexpr (std::is_same_v<T, PosixEnv>) return "Posix";
    return "Mem";
  }
};

using Envs = testing::Types<PosixEnv, MemEnv>;

// ---- Helpers ----

Status write_at(File& file, uint64_t pos, std::string_view data) {
  const ByteView part = as_bytes(data);
  return file.pwritev(pos, std::span(&part, 1));
}

Status write_parts(File& file, uint64_t pos, const std::vector<std::string>& parts) {
  std::vector<ByteView> views;
  for (const std::string& p : parts) views.push_back(as_bytes(p));
  return file.pwritev(pos, views);
}

// Up to `n` bytes at `pos`; the result is shorter only at end of file.
std::string read_at(const File& file, uint64_t pos, size_t n) {
  std::string out(n, '\0');
  auto got = file.pread(pos, std::as_writable_bytes(std::span(out.data(), out.size())));
  SLUICE_CHECK(got.ok(), "pread: {}", got.status().to_string());
  out.resize(*got);
  return out;
}

uint64_t size_of(const File& file) {
  auto size = file.size();
  SLUICE_CHECK(size.ok(), "size: {}", size.status().to_string());
  return *size;
}

std::string read_all(FileSystem* fs, const std::string& path) {
  auto data = read_file(fs, path);
  SLUICE_CHECK(data.ok(), "read_file {}: {}", path, data.status().to_string());
  return *std::move(data);
}

template <typename Env>
class FileSystemTest : public testing::Test {
 protected:
  FileSystem* fs() { return env_.fs(); }
  std::string path(std::string_view name) const { return env_.root() + "/" + std::string(name); }

  std::unique_ptr<File> open(const std::string& p, OpenMode mode) {
    auto file = fs()->open(p, mode);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : nullptr;
  }
  // Creates (or replaces) file `p` holding `data`, through the file system under test.
  void make_file(const std::string& p, std::string_view data) {
    auto file = open(p, OpenMode::kCreate);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(file->truncate(0).ok());
    ASSERT_TRUE(write_at(*file, 0, data).ok());
  }

  Env env_;
};

TYPED_TEST_SUITE(FileSystemTest, Envs, EnvNames);

// ---- Open modes ----

TYPED_TEST(FileSystemTest, OpeningAMissingFileForReadOrReadWriteIsNotFound) {
  const std::string p = this->path("missing");
  for (OpenMode mode : {OpenMode::kRead, OpenMode::kReadWrite}) {
    auto file = this->fs()->open(p, mode);
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), Code::kNotFound) << file.status();
  }
  EXPECT_FALSE(this->fs()->exists(p));
}

TYPED_TEST(FileSystemTest, CreateMakesAnEmptyFileWhenMissing) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(size_of(*file), 0u);
  EXPECT_TRUE(this->fs()->exists(this->path("f")));
}

TYPED_TEST(FileSystemTest, CreateKeepsTheBytesOfAnExistingFile) {
  this->make_file(this->path("f"), "kept");
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(read_at(*file, 0, 100), "kept");
}

TYPED_TEST(FileSystemTest, CreateNewMakesAnEmptyFileWhenMissing) {
  auto file = this->open(this->path("f"), OpenMode::kCreateNew);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(size_of(*file), 0u);
  ASSERT_TRUE(write_at(*file, 0, "new").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "new");
}

TYPED_TEST(FileSystemTest, CreateNewOfAnExistingFileOrDirectoryIsAlreadyExists) {
  this->make_file(this->path("f"), "old");
  ASSERT_TRUE(this->fs()->create_dirs(this->path("d")).ok());
  for (const char* name : {"f", "d"}) {
    auto file = this->fs()->open(this->path(name), OpenMode::kCreateNew);
    ASSERT_FALSE(file.ok()) << name;
    EXPECT_EQ(file.status().code(), Code::kAlreadyExists) << file.status();
  }
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "old");
}

TYPED_TEST(FileSystemTest, CreatingAFileInAMissingDirectoryIsNotFound) {
  for (OpenMode mode : {OpenMode::kCreate, OpenMode::kCreateNew}) {
    auto file = this->fs()->open(this->path("no_dir/f"), mode);
    ASSERT_FALSE(file.ok());
    EXPECT_EQ(file.status().code(), Code::kNotFound) << file.status();
  }
  EXPECT_FALSE(this->fs()->exists(this->path("no_dir")));
}

TYPED_TEST(FileSystemTest, ReadOnlyHandleRejectsWritesAndTruncation) {
  this->make_file(this->path("f"), "abc");
  auto file = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(read_at(*file, 0, 10), "abc");
  const Status w = write_at(*file, 0, "x");
  EXPECT_EQ(w.code(), Code::kIOError) << w;
  EXPECT_FALSE(file->truncate(0).ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "abc");
}

TYPED_TEST(FileSystemTest, ReadWriteHandleChangesAnExistingFile) {
  this->make_file(this->path("f"), "abc");
  auto file = this->open(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 1, "XY").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "aXY");
}

TYPED_TEST(FileSystemTest, ReopeningAPathSeesTheSameBytes) {
  {
    auto file = this->open(this->path("f"), OpenMode::kCreate);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(write_at(*file, 0, "persisted").ok());
  }
  auto again = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(read_at(*again, 0, 100), "persisted");
}

TYPED_TEST(FileSystemTest, PathIsTheOneOpened) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(file->path(), this->path("f"));
}

// ---- pwritev ----

TYPED_TEST(FileSystemTest, PwritevWritesEveryPartInOrder) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_parts(*file, 0, {"head", "|", "payload"}).ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "head|payload");
  EXPECT_EQ(size_of(*file), 12u);
}

// More parts than one iovec array holds (file.cc writes 512 at a time), with empty parts
// scattered around and across the chunk boundaries.
TYPED_TEST(FileSystemTest, PwritevWritesMoreThan512PartsIncludingEmptyOnes) {
  std::vector<std::string> parts;
  std::string expected;
  for (int i = 0; i < 1700; ++i) {
    // A run of empty parts straddling the first chunk boundary, then sizes 0..6.
    const size_t len = (i >= 500 && i < 530) ? 0 : static_cast<size_t>(i % 7);
    std::string part(len, static_cast<char>('a' + i % 26));
    expected += part;
    parts.push_back(std::move(part));
  }
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "0123").ok());
  ASSERT_TRUE(write_parts(*file, 4, parts).ok());
  EXPECT_EQ(size_of(*file), 4 + expected.size());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "0123" + expected);
}

TYPED_TEST(FileSystemTest, PwritevOfOnlyEmptyPartsOrNoPartsChangesNothing) {
  this->make_file(this->path("f"), "abc");
  auto file = this->open(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  EXPECT_TRUE(write_parts(*file, 10, std::vector<std::string>(1200, "")).ok());
  EXPECT_TRUE(file->pwritev(10, {}).ok());
  EXPECT_EQ(size_of(*file), 3u);
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "abc");
}

TYPED_TEST(FileSystemTest, PwritevPastTheEndFillsTheGapWithZeros) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "ab").ok());
  ASSERT_TRUE(write_at(*file, 5, "cd").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), std::string("ab\0\0\0cd", 7));
}

TYPED_TEST(FileSystemTest, PwritevOverwritesInPlaceWithoutChangingTheSize) {
  this->make_file(this->path("f"), "0123456789");
  auto file = this->open(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_parts(*file, 3, {"ab", "c"}).ok());
  EXPECT_EQ(size_of(*file), 10u);
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "012abc6789");
}

TYPED_TEST(FileSystemTest, WrittenBytesAreVisibleToPreadAtOnceThroughEveryHandle) {
  auto writer = this->open(this->path("f"), OpenMode::kCreate);
  auto reader = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(writer, nullptr);
  ASSERT_NE(reader, nullptr);
  ASSERT_TRUE(write_at(*writer, 0, "fresh").ok());
  EXPECT_EQ(read_at(*writer, 0, 5), "fresh");
  EXPECT_EQ(read_at(*reader, 0, 5), "fresh");
  EXPECT_EQ(size_of(*reader), 5u);
}

// ---- pread, truncate, size, sync ----

TYPED_TEST(FileSystemTest, PreadIsShortOnlyAtTheEndOfTheFile) {
  this->make_file(this->path("f"), "0123456789");
  auto file = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(read_at(*file, 0, 4), "0123");
  EXPECT_EQ(read_at(*file, 6, 8), "6789");
  EXPECT_EQ(read_at(*file, 10, 8), "");
  EXPECT_EQ(read_at(*file, 1000, 8), "");
  EXPECT_EQ(read_at(*file, 3, 0), "");
}

TYPED_TEST(FileSystemTest, PreadOfALargeFileReturnsEveryByte) {
  std::string big(300'000, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 131 % 251);
  this->make_file(this->path("f"), big);
  auto file = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(read_at(*file, 0, big.size() + 10), big);
  EXPECT_EQ(read_at(*file, 123'456, 1000), big.substr(123'456, 1000));
}

TYPED_TEST(FileSystemTest, TruncateShrinksTheFile) {
  this->make_file(this->path("f"), "0123456789");
  auto file = this->open(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->truncate(4).ok());
  EXPECT_EQ(size_of(*file), 4u);
  EXPECT_EQ(read_at(*file, 0, 10), "0123");
}

TYPED_TEST(FileSystemTest, TruncateExtendsTheFileWithZeros) {
  this->make_file(this->path("f"), "ab");
  auto file = this->open(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(file->truncate(5).ok());
  EXPECT_EQ(size_of(*file), 5u);
  EXPECT_EQ(read_at(*file, 0, 10), std::string("ab\0\0\0", 5));
}

TYPED_TEST(FileSystemTest, SizeCountsTheHighestByteWritten) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(size_of(*file), 0u);
  ASSERT_TRUE(write_at(*file, 0, "abc").ok());
  EXPECT_EQ(size_of(*file), 3u);
  ASSERT_TRUE(write_at(*file, 1, "b").ok());
  EXPECT_EQ(size_of(*file), 3u);
  ASSERT_TRUE(write_at(*file, 3, "defg").ok());
  EXPECT_EQ(size_of(*file), 7u);
}

TYPED_TEST(FileSystemTest, SyncOfAWrittenFileSucceedsAndKeepsItsBytes) {
  auto file = this->open(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "durable").ok());
  EXPECT_TRUE(file->sync().ok());
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "durable");
}

// ---- Directories ----

TYPED_TEST(FileSystemTest, CreateDirsMakesEveryParentAndIsIdempotent) {
  const std::string deep = this->path("a/b/c");
  ASSERT_TRUE(this->fs()->create_dirs(deep).ok());
  EXPECT_TRUE(this->fs()->exists(this->path("a")));
  EXPECT_TRUE(this->fs()->exists(this->path("a/b")));
  EXPECT_TRUE(this->fs()->exists(deep));
  EXPECT_TRUE(this->fs()->create_dirs(deep).ok());
  EXPECT_TRUE(this->fs()->create_dirs(this->path("a")).ok());
  this->make_file(this->path("a/b/c/f"), "x");  // a file can be created inside
}

TYPED_TEST(FileSystemTest, CreateDirsThroughAFileFails) {
  this->make_file(this->path("f"), "x");
  const Status s = this->fs()->create_dirs(this->path("f/sub"));
  EXPECT_EQ(s.code(), Code::kIOError) << s;
  EXPECT_EQ(this->fs()->create_dirs(this->path("f")).code(), Code::kIOError);
}

TYPED_TEST(FileSystemTest, ListDirNamesDirectChildrenOnly) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("d/sub/deeper")).ok());
  this->make_file(this->path("d/one"), "1");
  this->make_file(this->path("d/two"), "2");
  this->make_file(this->path("d/sub/nested"), "3");
  this->make_file(this->path("d_sibling"), "4");  // shares a prefix with d, not a child
  auto names = this->fs()->list_dir(this->path("d"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_THAT(*names, UnorderedElementsAre("one", "two", "sub"));
}

TYPED_TEST(FileSystemTest, ListDirOfAnEmptyDirectoryIsEmpty) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("empty")).ok());
  auto names = this->fs()->list_dir(this->path("empty"));
  ASSERT_TRUE(names.ok()) << names.status();
  EXPECT_TRUE(names->empty());
}

TYPED_TEST(FileSystemTest, ListDirOfAMissingDirectoryIsNotFound) {
  auto names = this->fs()->list_dir(this->path("missing"));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().code(), Code::kNotFound) << names.status();
}

TYPED_TEST(FileSystemTest, ListDirOfAFileIsAnIOError) {
  this->make_file(this->path("f"), "x");
  auto names = this->fs()->list_dir(this->path("f"));
  ASSERT_FALSE(names.ok());
  EXPECT_EQ(names.status().code(), Code::kIOError) << names.status();
}

TYPED_TEST(FileSystemTest, ExistsIsTrueForFilesAndDirectoriesOnly) {
  this->make_file(this->path("f"), "");
  ASSERT_TRUE(this->fs()->create_dirs(this->path("d")).ok());
  EXPECT_TRUE(this->fs()->exists(this->path("f")));
  EXPECT_TRUE(this->fs()->exists(this->path("d")));
  EXPECT_TRUE(this->fs()->exists(this->env_.root()));
  EXPECT_FALSE(this->fs()->exists(this->path("nothing")));
  EXPECT_FALSE(this->fs()->exists(this->path("d/nothing")));
}

TYPED_TEST(FileSystemTest, SyncDirSucceedsForADirectoryAndFailsWhenMissing) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("d")).ok());
  EXPECT_TRUE(this->fs()->sync_dir(this->path("d")).ok());
  EXPECT_TRUE(this->fs()->sync_dir(this->env_.root()).ok());
  const Status s = this->fs()->sync_dir(this->path("missing"));
  EXPECT_EQ(s.code(), Code::kIOError) << s;
}

// ---- Removal ----

TYPED_TEST(FileSystemTest, RemoveFileDeletesOnlyThatFile) {
  this->make_file(this->path("a"), "1");
  this->make_file(this->path("b"), "2");
  ASSERT_TRUE(this->fs()->remove_file(this->path("a")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("a")));
  EXPECT_EQ(read_all(this->fs(), this->path("b")), "2");
}

// PosixFileSystem reports a missing file here as kIOError (unlink's ENOENT), unlike open()
// and list_dir(), which say kNotFound; MemFileSystem mirrors it.
TYPED_TEST(FileSystemTest, RemoveFileOfAMissingFileIsAnIOError) {
  const Status s = this->fs()->remove_file(this->path("missing"));
  EXPECT_EQ(s.code(), Code::kIOError) << s;
  EXPECT_THAT(std::string(s.message()), HasSubstr("No such file or directory"));
}

TYPED_TEST(FileSystemTest, RemoveFileOfADirectoryFailsAndKeepsIt) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("d")).ok());
  EXPECT_FALSE(this->fs()->remove_file(this->path("d")).ok());
  EXPECT_TRUE(this->fs()->exists(this->path("d")));
}

TYPED_TEST(FileSystemTest, OpenHandleKeepsItsBytesAfterTheFileIsRemoved) {
  this->make_file(this->path("f"), "still here");
  auto file = this->open(this->path("f"), OpenMode::kRead);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(this->fs()->remove_file(this->path("f")).ok());
  EXPECT_EQ(read_at(*file, 0, 100), "still here");
  // A new file at the same path starts empty.
  auto fresh = this->open(this->path("f"), OpenMode::kCreateNew);
  ASSERT_NE(fresh, nullptr);
  EXPECT_EQ(size_of(*fresh), 0u);
}

TYPED_TEST(FileSystemTest, RemoveAllDeletesAWholeTree) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("t/a/b")).ok());
  this->make_file(this->path("t/a/b/f"), "1");
  this->make_file(this->path("t/g"), "2");
  this->make_file(this->path("t_sibling"), "3");
  ASSERT_TRUE(this->fs()->remove_all(this->path("t")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("t")));
  EXPECT_FALSE(this->fs()->exists(this->path("t/a/b/f")));
  EXPECT_TRUE(this->fs()->exists(this->path("t_sibling")));
  auto names = this->fs()->list_dir(this->env_.root());
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("t_sibling"));
}

TYPED_TEST(FileSystemTest, RemoveAllOfAFileRemovesIt) {
  this->make_file(this->path("f"), "x");
  ASSERT_TRUE(this->fs()->remove_all(this->path("f")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("f")));
}

TYPED_TEST(FileSystemTest, RemoveAllOfAMissingPathIsOk) {
  EXPECT_TRUE(this->fs()->remove_all(this->path("missing")).ok());
  EXPECT_TRUE(this->fs()->remove_all(this->path("missing/deeper")).ok());
}

// ---- Rename ----

TYPED_TEST(FileSystemTest, RenameMovesAFile) {
  this->make_file(this->path("from"), "bytes");
  ASSERT_TRUE(this->fs()->rename(this->path("from"), this->path("to")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("from")));
  EXPECT_EQ(read_all(this->fs(), this->path("to")), "bytes");
}

TYPED_TEST(FileSystemTest, RenameReplacesAnExistingFile) {
  this->make_file(this->path("from"), "new");
  this->make_file(this->path("to"), "old and longer");
  ASSERT_TRUE(this->fs()->rename(this->path("from"), this->path("to")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("from")));
  EXPECT_EQ(read_all(this->fs(), this->path("to")), "new");
  auto names = this->fs()->list_dir(this->env_.root());
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("to"));
}

TYPED_TEST(FileSystemTest, RenameOfAMissingFileFailsAndLeavesTheTarget) {
  this->make_file(this->path("to"), "old");
  const Status s = this->fs()->rename(this->path("missing"), this->path("to"));
  EXPECT_EQ(s.code(), Code::kIOError) << s;
  EXPECT_EQ(read_all(this->fs(), this->path("to")), "old");
}

TYPED_TEST(FileSystemTest, RenameIntoAMissingDirectoryFailsAndKeepsTheSource) {
  this->make_file(this->path("from"), "x");
  EXPECT_FALSE(this->fs()->rename(this->path("from"), this->path("no_dir/to")).ok());
  EXPECT_TRUE(this->fs()->exists(this->path("from")));
}

TYPED_TEST(FileSystemTest, RenameMovesADirectoryWithEverythingBelowIt) {
  ASSERT_TRUE(this->fs()->create_dirs(this->path("old/sub")).ok());
  this->make_file(this->path("old/f"), "1");
  this->make_file(this->path("old/sub/g"), "2");
  ASSERT_TRUE(this->fs()->rename(this->path("old"), this->path("new")).ok());
  EXPECT_FALSE(this->fs()->exists(this->path("old")));
  EXPECT_EQ(read_all(this->fs(), this->path("new/f")), "1");
  EXPECT_EQ(read_all(this->fs(), this->path("new/sub/g")), "2");
  auto names = this->fs()->list_dir(this->path("new"));
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("f", "sub"));
}

TYPED_TEST(FileSystemTest, HandleOpenedBeforeARenameWritesToTheRenamedFile) {
  auto file = this->open(this->path("from"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(this->fs()->rename(this->path("from"), this->path("to")).ok());
  ASSERT_TRUE(write_at(*file, 0, "late").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("to")), "late");
}

// ---- read_file / write_file_atomic ----

TYPED_TEST(FileSystemTest, ReadFileReturnsEveryByteIncludingZeros) {
  const std::string data("a\0b\0\0c", 6);
  this->make_file(this->path("f"), data);
  EXPECT_EQ(read_all(this->fs(), this->path("f")), data);
}

TYPED_TEST(FileSystemTest, ReadFileOfAnEmptyFileIsEmpty) {
  this->make_file(this->path("f"), "");
  EXPECT_EQ(read_all(this->fs(), this->path("f")), "");
}

TYPED_TEST(FileSystemTest, ReadFileOfAMissingFileIsNotFound) {
  auto data = read_file(this->fs(), this->path("missing"));
  ASSERT_FALSE(data.ok());
  EXPECT_EQ(data.status().code(), Code::kNotFound) << data.status();
}

TYPED_TEST(FileSystemTest, WriteFileAtomicCreatesTheFileAndLeavesNoTemporary) {
  ASSERT_TRUE(write_file_atomic(this->fs(), this->path("meta"), "v1").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("meta")), "v1");
  auto names = this->fs()->list_dir(this->env_.root());
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("meta"));
}

TYPED_TEST(FileSystemTest, WriteFileAtomicReplacesLongerContentsCompletely) {
  ASSERT_TRUE(write_file_atomic(this->fs(), this->path("meta"), "a much longer first value").ok());
  // A leftover temporary from an earlier crash must not leak into the new value either.
  this->make_file(this->path("meta.tmp"), "garbage left by a crash, longer than v2");
  ASSERT_TRUE(write_file_atomic(this->fs(), this->path("meta"), "v2").ok());
  EXPECT_EQ(read_all(this->fs(), this->path("meta")), "v2");
  EXPECT_FALSE(this->fs()->exists(this->path("meta.tmp")));
}

TYPED_TEST(FileSystemTest, WriteFileAtomicIntoAMissingDirectoryIsNotFound) {
  const Status s = write_file_atomic(this->fs(), this->path("no_dir/meta"), "v");
  EXPECT_EQ(s.code(), Code::kNotFound) << s;
}

// ---- MemFileSystem and MemFile only ----

TEST(MemFileSystemTest, PathsNamingTheSameFileAfterNormalisingAgree) {
  MemFileSystem fs;
  ASSERT_TRUE(fs.create_dirs("/a//b/").ok());
  fs.set_contents("/a/b/f", "x");
  EXPECT_TRUE(fs.exists("/a/./b//f"));
  EXPECT_EQ(fs.contents("/a//b/./f"), "x");
  auto names = fs.list_dir("/a/b/");
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("f"));
}

TEST(MemFileSystemTest, RelativePathsLiveInTheirOwnRoot) {
  MemFileSystem fs;
  auto file = fs.open("seg.log", OpenMode::kCreate);
  ASSERT_TRUE(file.ok()) << file.status();
  EXPECT_TRUE(fs.exists("seg.log"));
  EXPECT_TRUE(fs.exists("./seg.log"));
  EXPECT_FALSE(fs.exists("/seg.log"));
  EXPECT_FALSE(fs.exists(""));
  auto names = fs.list_dir(".");
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("seg.log"));
}

TEST(MemFileSystemTest, SetContentsCreatesParentsAndOpenHandlesSeeIt) {
  MemFileSystem fs;
  fs.set_contents("/x/y/f", "first");
  EXPECT_TRUE(fs.exists("/x/y"));
  auto file = fs.open("/x/y/f", OpenMode::kRead);
  ASSERT_TRUE(file.ok());
  fs.set_contents("/x/y/f", "second, longer");
  EXPECT_EQ(read_at(**file, 0, 100), "second, longer");
}

TEST(MemFileSystemTest, ContentsShowWhatFilesWrote) {
  MemFileSystem fs;
  auto file = fs.open("/f", OpenMode::kCreate);
  ASSERT_TRUE(file.ok());
  ASSERT_TRUE(write_parts(**file, 0, {"ab", "cd"}).ok());
  EXPECT_EQ(fs.contents("/f"), "abcd");
}

TEST(MemFileSystemTest, InstancesShareNothing) {
  MemFileSystem a;
  MemFileSystem b;
  a.set_contents("/f", "a");
  EXPECT_FALSE(b.exists("/f"));
}

TEST(MemFileSystemDeathTest, ContentsOfAMissingFileAborts) {
  MemFileSystem fs;
  EXPECT_DEATH((void)fs.contents("/nothing"), "no file /nothing");
}

TEST(MemFileTest, StandaloneFileNeedsNoFileSystem) {
  MemFile file;
  ASSERT_TRUE(write_at(file, 0, "abcdef").ok());
  ASSERT_TRUE(file.truncate(file.size().value() - 2).ok());
  EXPECT_EQ(file.contents(), "abcd");
  EXPECT_TRUE(file.sync().ok());
  file.set_contents("z");
  EXPECT_EQ(read_at(file, 0, 10), "z");
  EXPECT_EQ(MemFile("seg-0.log").path(), "seg-0.log");
}

TEST(MemFileTest, WritesBeyondTheSizeCapFailAndChangeNothing) {
  MemFile file;
  ASSERT_TRUE(write_at(file, 0, "ab").ok());
  const Status s = write_at(file, MemFile::kMaxBytes, "x");
  EXPECT_EQ(s.code(), Code::kIOError) << s;
  EXPECT_EQ(file.truncate(MemFile::kMaxBytes + 1).code(), Code::kIOError);
  EXPECT_EQ(file.contents(), "ab");
}

// pread() runs under the file's mutex, so a reader racing one writer sees every pwritev()
// wholly or not at all: always a prefix of the words written, in order.
TEST(MemFileTest, PreadSeesEachWriteWhollyOrNotAtAllUnderAConcurrentWriter) {
  MemFile file;
  constexpr uint32_t kWords = 2000;
  std::thread writer([&file] {
    for (uint32_t i = 0; i < kWords; ++i) {
      std::byte word[4];
      store_le32(word, i + 1);
      const ByteView halves[] = {ByteView(word, 2), ByteView(word + 2, 2)};
      SLUICE_CHECK(file.pwritev(4ull * i, halves).ok(), "write {}", i);
    }
  });
  uint64_t seen = 0;
  while (seen < kWords * 4ull) {
    const std::string now = read_at(file, 0, kWords * 4);
    ASSERT_EQ(now.size() % 4, 0u) << "a torn write was visible";
    ASSERT_GE(now.size(), seen) << "the file shrank";
    for (size_t w = 0; w < now.size() / 4; ++w) {
      ASSERT_EQ(load_le32(reinterpret_cast<const std::byte*>(now.data()) + 4 * w), w + 1);
    }
    seen = now.size();
  }
  writer.join();
}

// ---- FaultInjectionFileSystem, over both real and in-memory file systems ----

template <typename Env>
class FaultInjectionTest : public FileSystemTest<Env> {
 protected:
  FaultInjectionFileSystem& fault() { return fault_; }
  std::unique_ptr<File> open_faulty(const std::string& p, OpenMode mode) {
    auto file = fault_.open(p, mode);
    EXPECT_TRUE(file.ok()) << file.status();
    return file.ok() ? *std::move(file) : nullptr;
  }
  // What the underlying file system holds, bypassing the wrapper.
  std::string base_contents(const std::string& p) { return read_all(this->fs(), p); }

  FaultInjectionFileSystem fault_{this->fs()};
};

TYPED_TEST_SUITE(FaultInjectionTest, Envs, EnvNames);

TYPED_TEST(FaultInjectionTest, WithoutFaultsEverythingPassesThrough) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_parts(*file, 0, {"ab", "cd"}).ok());
  ASSERT_TRUE(file->sync().ok());
  EXPECT_EQ(read_at(*file, 0, 10), "abcd");
  EXPECT_EQ(size_of(*file), 4u);
  EXPECT_EQ(file->path(), this->path("f"));
  EXPECT_EQ(this->base_contents(this->path("f")), "abcd");
  ASSERT_TRUE(this->fault().create_dirs(this->path("d")).ok());
  EXPECT_TRUE(this->fault().exists(this->path("d")));
  EXPECT_TRUE(this->fault().sync_dir(this->path("d")).ok());
  auto names = this->fault().list_dir(this->env_.root());
  ASSERT_TRUE(names.ok());
  EXPECT_THAT(*names, UnorderedElementsAre("f", "d"));
}

TYPED_TEST(FaultInjectionTest, EnospcWriteFailsWithIOErrorAndWritesNothing) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "abc").ok());
  this->fault().fail_writes_with_enospc(true);
  const Status s = write_parts(*file, 3, {"def", "ghi"});
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "pwritev " + this->path("f") + ": No space left on device");
  EXPECT_EQ(size_of(*file), 3u);
  EXPECT_EQ(this->base_contents(this->path("f")), "abc");
}

TYPED_TEST(FaultInjectionTest, PartialWriteWritesExactlyThePrefixThenFails) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "0123").ok());
  this->fault().fail_writes_with_enospc(true);
  this->fault().set_partial_write_bytes(5);
  EXPECT_EQ(this->fault().partial_write_bytes(), 5u);
  const Status s = write_parts(*file, 4, {"abc", "", "defg", "hi"});  // torn inside "defg"
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_THAT(std::string(s.message()), HasSubstr("No space left on device"));
  EXPECT_EQ(this->base_contents(this->path("f")), "0123abcde");
}

TYPED_TEST(FaultInjectionTest, PartialWriteLongerThanTheWriteWritesAllOfItAndStillFails) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  this->fault().fail_writes_with_enospc(true);
  this->fault().set_partial_write_bytes(100);
  EXPECT_EQ(write_parts(*file, 0, {"abc", "def"}).code(), Code::kIOError);
  EXPECT_EQ(this->base_contents(this->path("f")), "abcdef");
}

TYPED_TEST(FaultInjectionTest, WritesSucceedAgainOnceEnospcIsCleared) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  this->fault().fail_writes_with_enospc(true);
  EXPECT_FALSE(write_at(*file, 0, "lost").ok());
  this->fault().fail_writes_with_enospc(false);
  ASSERT_TRUE(write_at(*file, 0, "kept").ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "kept");
}

TYPED_TEST(FaultInjectionTest, FailedSyncIsAnIOErrorAndSyncsNothing) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "abc").ok());
  this->fault().fail_syncs(true);
  const Status s = file->sync();
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "fdatasync " + this->path("f") + ": Input/output error");
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 0u);
  this->fault().fail_syncs(false);
  ASSERT_TRUE(file->sync().ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 3u);
}

TYPED_TEST(FaultInjectionTest, DropUnsyncedDataDropsExactlyTheBytesAfterTheLastSync) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "first|").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(write_at(*file, 6, "second|").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(write_parts(*file, 13, {"un", "synced"}).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 13u);
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "first|second|");
}

TYPED_TEST(FaultInjectionTest, DropUnsyncedDataKeepsOnlyTheSyncBeforeAFailedOne) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "acked").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(write_at(*file, 5, "+lost").ok());
  this->fault().fail_syncs(true);
  ASSERT_FALSE(file->sync().ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "acked");
}

TYPED_TEST(FaultInjectionTest, DropUnsyncedDataTruncatesANeverSyncedFileToZero) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreateNew);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "never synced").ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "");
}

TYPED_TEST(FaultInjectionTest, FileThatExistedBeforeCountsAsSynced) {
  this->make_file(this->path("f"), "older");  // through the base, not the wrapper
  auto file = this->open_faulty(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 5u);
  ASSERT_TRUE(write_at(*file, 5, " and newer").ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "older");
}

TYPED_TEST(FaultInjectionTest, ReopeningATrackedFileKeepsItsSyncedSize) {
  {
    auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(write_at(*file, 0, "ab").ok());
    ASSERT_TRUE(file->sync().ok());
    ASSERT_TRUE(write_at(*file, 2, "cd").ok());
  }
  auto again = this->open_faulty(this->path("f"), OpenMode::kReadWrite);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 2u);
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "ab");
}

TYPED_TEST(FaultInjectionTest, TruncateLowersTheSyncedSize) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "abcdef").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(file->truncate(2).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("f")), 2u);
  ASSERT_TRUE(write_at(*file, 2, "XY").ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "ab");
}

TYPED_TEST(FaultInjectionTest, SyncedSizeFollowsARenameAndItsOpenHandle) {
  auto file = this->open_faulty(this->path("from"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "abc").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(this->fault().rename(this->path("from"), this->path("to")).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("from")), std::nullopt);
  EXPECT_EQ(this->fault().synced_bytes(this->path("to")), 3u);
  ASSERT_TRUE(write_at(*file, 3, "def").ok());
  ASSERT_TRUE(file->sync().ok());  // through the handle opened under the old name
  EXPECT_EQ(this->fault().synced_bytes(this->path("to")), 6u);
  ASSERT_TRUE(write_at(*file, 6, "ghi").ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("to")), "abcdef");
}

TYPED_TEST(FaultInjectionTest, RenamingADirectoryCarriesTheSyncedSizesBelowIt) {
  ASSERT_TRUE(this->fault().create_dirs(this->path("old")).ok());
  auto file = this->open_faulty(this->path("old/f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "ab").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(write_at(*file, 2, "cd").ok());
  ASSERT_TRUE(this->fault().rename(this->path("old"), this->path("new")).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("new/f")), 2u);
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("new/f")), "ab");
}

TYPED_TEST(FaultInjectionTest, RenamingAnUntrackedFileOverATrackedOneLeavesItUntracked) {
  auto tracked = this->open_faulty(this->path("to"), OpenMode::kCreate);
  ASSERT_NE(tracked, nullptr);
  this->make_file(this->path("from"), "outside");  // through the base: counts as synced
  ASSERT_TRUE(this->fault().rename(this->path("from"), this->path("to")).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("to")), std::nullopt);
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("to")), "outside");
}

TYPED_TEST(FaultInjectionTest, RemovedFilesAreForgottenAndNotRecreated) {
  ASSERT_TRUE(this->fault().create_dirs(this->path("d")).ok());
  for (const char* name : {"a", "d/b"}) {
    auto file = this->open_faulty(this->path(name), OpenMode::kCreate);
    ASSERT_NE(file, nullptr);
    ASSERT_TRUE(write_at(*file, 0, "x").ok());
  }
  ASSERT_TRUE(this->fault().remove_file(this->path("a")).ok());
  ASSERT_TRUE(this->fault().remove_all(this->path("d")).ok());
  EXPECT_EQ(this->fault().synced_bytes(this->path("a")), std::nullopt);
  EXPECT_EQ(this->fault().synced_bytes(this->path("d/b")), std::nullopt);
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_FALSE(this->fs()->exists(this->path("a")));
  EXPECT_FALSE(this->fs()->exists(this->path("d")));
}

TYPED_TEST(FaultInjectionTest, FilesStayUsableAfterDroppingUnsyncedData) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  ASSERT_TRUE(write_at(*file, 0, "ab").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(write_at(*file, 2, "cd").ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(size_of(*file), 2u);
  ASSERT_TRUE(write_at(*file, 2, "ef").ok());
  ASSERT_TRUE(file->sync().ok());
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("f")), "abef");
}

TYPED_TEST(FaultInjectionTest, CountersCountEveryCallIncludingFailures) {
  auto file = this->open_faulty(this->path("f"), OpenMode::kCreate);
  ASSERT_NE(file, nullptr);
  EXPECT_EQ(this->fault().write_calls(), 0u);
  EXPECT_EQ(this->fault().sync_calls(), 0u);
  ASSERT_TRUE(write_at(*file, 0, "a").ok());
  ASSERT_TRUE(file->sync().ok());
  this->fault().fail_writes_with_enospc(true);
  this->fault().fail_syncs(true);
  EXPECT_FALSE(write_at(*file, 1, "b").ok());
  EXPECT_FALSE(file->sync().ok());
  EXPECT_FALSE(file->sync().ok());
  (void)read_at(*file, 0, 1);  // reads are not counted
  EXPECT_EQ(this->fault().write_calls(), 2u);
  EXPECT_EQ(this->fault().sync_calls(), 3u);
}

TYPED_TEST(FaultInjectionTest, WriteFileAtomicFailsWhenSyncsFailAndKeepsTheOldValue) {
  ASSERT_TRUE(write_file_atomic(&this->fault(), this->path("meta"), "old").ok());
  this->fault().fail_syncs(true);
  const Status s = write_file_atomic(&this->fault(), this->path("meta"), "new");
  EXPECT_EQ(s.code(), Code::kIOError) << s;
  EXPECT_EQ(this->base_contents(this->path("meta")), "old");
  ASSERT_TRUE(this->fault().drop_unsynced_data().ok());
  EXPECT_EQ(this->base_contents(this->path("meta")), "old");
}

TYPED_TEST(FaultInjectionTest, ConcurrentWritersAreAllCounted) {
  constexpr int kThreads = 4;
  constexpr int kWrites = 200;
  std::vector<std::unique_ptr<File>> files;
  for (int t = 0; t < kThreads; ++t) {
    files.push_back(this->open_faulty(this->path("f" + std::to_string(t)), OpenMode::kCreate));
    ASSERT_NE(files.back(), nullptr);
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([file = files[t].get()] {
      for (int i = 0; i < kWrites; ++i) {
        SLUICE_CHECK(write_at(*file, static_cast<uint64_t>(i), "x").ok(), "write {}", i);
        if (i % 50 == 0) SLUICE_CHECK(file->sync().ok(), "sync {}", i);
      }
    });
  }
  this->fault().set_partial_write_bytes(0);  // flipping controls while others write is safe
  for (auto& t : threads) t.join();
  EXPECT_EQ(this->fault().write_calls(), uint64_t{kThreads * kWrites});
  EXPECT_EQ(this->fault().sync_calls(), uint64_t{kThreads * kWrites / 50});
}

// A function's extracted code is read-only (0555 directories); Sluice still removes it when
// the code is replaced or the function deleted. (As root the permission bits do not bind, so
// this exercises the retry only for other users.)
TEST(PosixRemoveAllTest, RemovesReadOnlyDirectories) {
  char pattern[] = "/tmp/sluice-remove-XXXXXX";
  ASSERT_NE(::mkdtemp(pattern), nullptr);
  const std::string root = pattern;
  FileSystem* fs = FileSystem::posix();
  ASSERT_TRUE(fs->create_dirs(root + "/code/task/pkg").ok());
  ASSERT_TRUE(write_file_atomic(fs, root + "/code/task/pkg/mod.py", "x = 1\n").ok());
  for (const char* dir : {"/code/task/pkg", "/code/task", "/code"}) {
    ASSERT_EQ(::chmod((root + dir).c_str(), 0555), 0);
  }
  ASSERT_TRUE(fs->remove_all(root + "/code").ok());
  EXPECT_FALSE(fs->exists(root + "/code"));
  ASSERT_TRUE(fs->remove_all(root).ok());
}

}  // namespace
}  // namespace sluice
