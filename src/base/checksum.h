#pragma once

#include "base/bytes.h"

#include <cstdint>
#include <span>

namespace sluice {

// XXH3-64 of the concatenation of `parts` (libxxhash). The checksum of every persistent
// format in Sluice; docs/formats/*.md say which bytes each one covers.
uint64_t checksum(ByteView data);
uint64_t checksum(std::span<const ByteView> parts);

}  // namespace sluice
