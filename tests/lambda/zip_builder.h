#pragma once

#include "base/check.h"

#include <deque>
#include <string>
#include <string_view>
#include <sys/stat.h>
#include <zip.h>

namespace sluice::lambda::testing {

// Builds a zip archive in memory with libzip, for fixtures: regular files with Unix modes,
// directories, symlinks, any entry name (including hostile ones). Every entry gets the same
// fixed modification time, so the same entries give the same bytes whenever they are built
// (with the clock's time, two archives built across a two-second boundary differed). Not
// thread-safe.
class ZipBuilder {
 public:
  ZipBuilder() {
    zip_error_t error;
    zip_error_init(&error);
    source_ = zip_source_buffer_create(nullptr, 0, 0, &error);
    SLUICE_CHECK(source_ != nullptr, "zip_source_buffer_create");
    zip_source_keep(source_);  // survives zip_close, which writes into it
    archive_ = zip_open_from_source(source_, ZIP_TRUNCATE, &error);
    SLUICE_CHECK(archive_ != nullptr, "zip_open_from_source");
    zip_error_fini(&error);
  }
  ~ZipBuilder() {
    if (archive_ != nullptr) zip_discard(archive_);
    zip_source_free(source_);
  }
  ZipBuilder(const ZipBuilder&) = delete;
  ZipBuilder& operator=(const ZipBuilder&) = delete;

  ZipBuilder& file(std::string_view name, std::string_view data, mode_t mode = 0644,
                   bool store = false) {
    const std::string& kept = data_.emplace_back(data);
    zip_source_t* s = zip_source_buffer(archive_, kept.data(), kept.size(), 0);
    const zip_int64_t i = zip_file_add(archive_, std::string(name).c_str(), s, ZIP_FL_ENC_UTF_8);
    SLUICE_CHECK(i >= 0, "zip_file_add {}", name);
    zip_file_set_external_attributes(archive_, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                     static_cast<zip_uint32_t>(S_IFREG | mode) << 16);
    if (store) zip_set_file_compression(archive_, static_cast<zip_uint64_t>(i), ZIP_CM_STORE, 0);
    fix_mtime(i);
    return *this;
  }
  ZipBuilder& symlink(std::string_view name, std::string_view target) {
    const std::string& kept = data_.emplace_back(target);
    zip_source_t* s = zip_source_buffer(archive_, kept.data(), kept.size(), 0);
    const zip_int64_t i = zip_file_add(archive_, std::string(name).c_str(), s, ZIP_FL_ENC_UTF_8);
    SLUICE_CHECK(i >= 0, "zip_file_add {}", name);
    zip_file_set_external_attributes(archive_, static_cast<zip_uint64_t>(i), 0, ZIP_OPSYS_UNIX,
                                     static_cast<zip_uint32_t>(S_IFLNK | 0777) << 16);
    fix_mtime(i);
    return *this;
  }
  ZipBuilder& dir(std::string_view name) {
    const zip_int64_t i = zip_dir_add(archive_, std::string(name).c_str(), ZIP_FL_ENC_UTF_8);
    SLUICE_CHECK(i >= 0, "zip_dir_add {}", name);
    fix_mtime(i);
    return *this;
  }

  // The archive's bytes. REQUIRES: called once.
  std::string bytes() {
    SLUICE_CHECK(zip_close(archive_) == 0, "zip_close");
    archive_ = nullptr;
    zip_stat_t st;
    zip_source_stat(source_, &st);
    std::string out(st.size, '\0');
    SLUICE_CHECK(zip_source_open(source_) == 0, "zip_source_open");
    const zip_int64_t n = zip_source_read(source_, out.data(), out.size());
    SLUICE_CHECK(n == static_cast<zip_int64_t>(out.size()), "zip_source_read");
    zip_source_close(source_);
    return out;
  }

 private:
  void fix_mtime(zip_int64_t index) {
    constexpr time_t kMtime = 1577880000;  // 2020-01-01 12:00 UTC: the same day in every zone
    SLUICE_CHECK(zip_file_set_mtime(archive_, static_cast<zip_uint64_t>(index), kMtime, 0) == 0,
                 "zip_file_set_mtime");
  }

  zip_source_t* source_ = nullptr;
  zip_t* archive_ = nullptr;
  std::deque<std::string> data_;  // contents borrowed by libzip until zip_close
};

}  // namespace sluice::lambda::testing
