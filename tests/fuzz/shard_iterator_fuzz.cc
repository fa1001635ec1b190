// Fuzz target: the shard iterator codec of stream/ (internal/tokens.h), the parser of the
// opaque ShardIterator strings GetRecords receives from clients. The first input byte picks
// how the rest is used:
//   0: the rest is the iterator text, as a client sends it (quotes included, if any);
//   1: the rest is the body of an iterator that carries a valid MAC (computed here under the
//      test secret), so the field parser behind the MAC check sees arbitrary bytes;
//   2: the rest fills an IteratorPayload, which must survive encode then decode.
// Nothing may crash; whatever decodes must encode again to text that decodes to the same
// payload (decode(encode(x)) == x).

#include "base/bytes.h"
#include "stream/identifiers.h"
#include "stream/internal/crypto.h"
#include "stream/internal/tokens.h"

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

namespace sluice::stream::internal {
namespace {

#define FUZZ_CHECK(cond)       \
  do {                         \
    if (!(cond)) std::abort(); \
  } while (0)

constexpr std::string_view kSecret = "fuzz-secret-0123456789abcdef0123";

ByteView secret() { return as_bytes(kSecret); }

// A decoded payload must come back unchanged through encode and decode.
void check_round_trip(const IteratorPayload& p) {
  const std::string text = encode_shard_iterator(p, secret());
  FUZZ_CHECK(text.size() <= 512);
  auto again = decode_shard_iterator(text, secret());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == p);
  // Under another secret the same text is refused.
  FUZZ_CHECK(!decode_shard_iterator(text, as_bytes(std::string_view("other"))).ok());
}

void decode_text(std::string_view text) {
  auto p = decode_shard_iterator(text, secret());
  if (p.ok()) check_round_trip(*p);
}

void decode_signed_body(std::string_view body) {
  std::string signed_part("\0\0\0\0\0\0\0\1", 8);
  signed_part.append(body);
  const Sha256Mac mac = hmac_sha256(secret(), as_bytes(signed_part));
  signed_part.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  decode_text(base64_encode(as_bytes(signed_part)));
}

// Reads fixed-width fields and short strings from the input; zeros once it runs out.
class Source {
 public:
  explicit Source(std::string_view s) : s_(s) {}
  uint64_t u64() {
    uint64_t v = 0;
    for (int i = 0; i < 8 && !s_.empty(); ++i) {
      v = (v << 8) | static_cast<uint8_t>(s_.front());
      s_.remove_prefix(1);
    }
    return v;
  }
  std::string str(size_t max) {
    const size_t n = std::min<size_t>(u64() % (max + 1), s_.size());
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }

 private:
  std::string_view s_;
};

void encode_payload(std::string_view bytes) {
  Source src(bytes);
  IteratorPayload p;
  p.issued_ms = static_cast<int64_t>(src.u64());
  p.incarnation = src.u64();
  p.shard_index = static_cast<int32_t>(src.u64() & 0x7fffffff);
  p.position = LogOffset(src.u64());
  p.stream.account = src.str(64);
  p.stream.region = src.str(64);
  p.stream.name = src.str(128);
  if (!validate_stream_key(p.stream).ok()) return;  // encode's precondition
  check_round_trip(p);
}

}  // namespace
}  // namespace sluice::stream::internal

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sluice::stream::internal;
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 3) {
    case 0:
      decode_text(rest);
      break;
    case 1:
      decode_signed_body(rest);
      break;
    default:
      encode_payload(rest);
      break;
  }
  return 0;
}
