#pragma once

#include "base/status.h"

#include <cstdint>
#include <string>
#include <string_view>

namespace sluice::lambda::internal {

struct ZipLimits {
  // Extraction fails once this many bytes (file contents and symlink targets, counted as
  // written, never taken from the zip's headers) have been written or would be.
  uint64_t max_unzipped_bytes = 262'144'000;
  uint64_t max_entries = 100'000;  // a cap on inodes a tiny zip could make us create
};

// The client-facing texts of spec 2.3 step 7 (the second takes the limit).
inline constexpr std::string_view kCouldNotUnzip =
    "Could not unzip uploaded file. Please check your file, then try to upload again.";
std::string unzipped_too_large_message(uint64_t limit);

// Extracts the zip archive `zip` into the directory `dest`, which must not exist yet (its
// parent must). With an empty `dest` nothing is written: every check below still runs and
// every entry is still decompressed and counted (CreateFunction checks the zip before its
// later validation steps, spec 2.3 step 7). Entries keep their Unix permission bits, less set-id,
// sticky and group/other write bits, plus owner read (a `bootstrap` stays executable); directories
// are 0755. Symlinks are recreated when their target stays inside `dest`. Every file is fsynced,
// then every directory, so that a rename of `dest` afterwards publishes complete contents.
//
// Refused, with kInvalidArgument and a message fit for the client:
//   - not a readable zip, a damaged or encrypted entry, a duplicate path: kCouldNotUnzip;
//   - more than limits.max_unzipped_bytes: unzipped_too_large_message(limit);
//   - an entry with an absolute path or a ".." component, a symlink whose target is absolute
//     or leaves `dest`, an entry below a symlink entry: a message naming the entry.
// kIOError when the local file system fails. On any failure `dest` may be left partly
// written: the caller removes it. Never runs a shell or any other program.
Status extract_zip(std::string_view zip, const std::string& dest, const ZipLimits& limits);

}  // namespace sluice::lambda::internal
