#include "base/checksum.h"

#define XXH_INLINE_ALL
#include <xxhash.h>

namespace sluice {

uint64_t checksum(ByteView data) { return XXH3_64bits(data.data(), data.size()); }

uint64_t checksum(std::span<const ByteView> parts) {
  if (parts.size() == 1) return checksum(parts[0]);
  XXH3_state_t state;
  XXH3_64bits_reset(&state);
  for (ByteView p : parts) XXH3_64bits_update(&state, p.data(), p.size());
  return XXH3_64bits_digest(&state);
}

}  // namespace sluice
