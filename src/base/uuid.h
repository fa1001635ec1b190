#pragma once

#include <string>

namespace sluice {

// A random, lowercase RFC 4122 version 4 UUID ("8-4-4-4-12" hex): request ids, mapping ids,
// revision ids. Thread-safe (a generator per thread, seeded from std::random_device).
std::string new_uuid();

}  // namespace sluice
