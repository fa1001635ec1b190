#pragma once

#include "base/uuid.h"

#include <cstdint>
#include <string>

namespace sluice::lambda::internal {

// Request ids, RevisionIds and code directory names: base/uuid.h.
inline std::string new_uuid() { return sluice::new_uuid(); }

// "2024-05-01T12:34:56.789+0000" (UTC), the LastModified format of spec 2.2.
std::string format_last_modified(int64_t unix_ms);

// "Wed, 01 May 2024 12:34:56 GMT", for the Date header.
std::string format_http_date(int64_t unix_ms);

}  // namespace sluice::lambda::internal
