#pragma once

#include <cstdint>
#include <string>

namespace sluice::lambda::internal {

// A random lowercase UUID v4 ("6f1c...-4...-[89ab]..."), for request ids, RevisionIds and
// code directory names. Thread-safe (a generator per thread, seeded from random_device).
std::string new_uuid();

// "2024-05-01T12:34:56.789+0000" (UTC), the LastModified format of spec 2.2.
std::string format_last_modified(int64_t unix_ms);

// "Wed, 01 May 2024 12:34:56 GMT", for the Date header.
std::string format_http_date(int64_t unix_ms);

}  // namespace sluice::lambda::internal
