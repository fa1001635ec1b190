#include "stream/internal/tokens.h"

#include "base/check.h"
#include "stream/identifiers.h"
#include "stream/internal/crypto.h"

#include <fmt/format.h>

#include <chrono>

namespace sluice::stream::internal {
namespace {

constexpr uint8_t kIteratorPrefix[8] = {0, 0, 0, 0, 0, 0, 0, 1};
constexpr uint8_t kIteratorVersion = 1;
constexpr size_t kMacBytes = 32;
constexpr size_t kMinIteratorBytes = 152;
constexpr size_t kMaxIteratorBytes = 384;  // 512 base64 characters
// prefix(8) version(1) issued(8) incarnation(8) shard(4) position(8)
constexpr size_t kFixedBytes = 8 + 1 + 8 + 8 + 4 + 8;

Status invalid_iterator() { return Status::invalid_argument(kInvalidIteratorMessage); }

void put_string(std::string& out, std::string_view s) {
  SLUICE_CHECK(s.size() <= 255, "iterator field of {} bytes", s.size());
  out += static_cast<char>(s.size());
  out += s;
}

template <typename T>
void put_le(std::string& out, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) {
    out += static_cast<char>(static_cast<uint64_t>(v) >> (8 * i));
  }
}

// Reads fields front to back from a byte string; any overrun sets failed().
class Cursor {
 public:
  explicit Cursor(std::string_view s) : s_(s) {}
  uint64_t le(size_t n) {
    if (s_.size() < n) return fail();
    uint64_t v = 0;
    for (size_t i = 0; i < n; ++i) v |= uint64_t(static_cast<uint8_t>(s_[i])) << (8 * i);
    s_.remove_prefix(n);
    return v;
  }
  std::string str() {
    const auto n = static_cast<size_t>(le(1));
    if (failed_ || s_.size() < n) {
      fail();
      return {};
    }
    std::string out(s_.substr(0, n));
    s_.remove_prefix(n);
    return out;
  }
  std::string_view rest() const { return s_; }
  bool failed() const { return failed_; }

 private:
  uint64_t fail() {
    failed_ = true;
    return 0;
  }
  std::string_view s_;
  bool failed_ = false;
};

ByteView bytes_of(std::string_view s) { return as_bytes(s); }

}  // namespace

std::string encode_shard_iterator(const IteratorPayload& p, ByteView secret) {
  std::string out(reinterpret_cast<const char*>(kIteratorPrefix), sizeof(kIteratorPrefix));
  out += static_cast<char>(kIteratorVersion);
  put_le(out, p.issued_ms);
  put_le(out, p.incarnation);
  put_le(out, p.shard_index);
  put_le(out, p.position.value());
  put_string(out, p.stream.account);
  put_string(out, p.stream.region);
  put_string(out, p.stream.name);
  size_t total = out.size() + kMacBytes;
  total = total <= kMinIteratorBytes
              ? kMinIteratorBytes
              : kMinIteratorBytes + (total - kMinIteratorBytes + 15) / 16 * 16;
  SLUICE_CHECK(total <= kMaxIteratorBytes, "iterator of {} bytes", total);
  out.resize(total - kMacBytes, '\0');
  const Sha256Mac mac = hmac_sha256(secret, bytes_of(out));
  out.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return base64_encode(bytes_of(out));
}

Result<IteratorPayload> decode_shard_iterator(std::string_view text, ByteView secret) {
  if (text.size() >= 2 && text.front() == '"' && text.back() == '"') {
    text = text.substr(1, text.size() - 2);
  }
  auto decoded = base64_decode(text);
  if (!decoded) return invalid_iterator();
  const std::string& d = *decoded;
  if (d.size() < kMinIteratorBytes || d.size() > kMaxIteratorBytes ||
      (d.size() - kMinIteratorBytes) % 16 != 0) {
    return invalid_iterator();
  }
  if (std::string_view(d).substr(0, 8) !=
      std::string_view(reinterpret_cast<const char*>(kIteratorPrefix), 8)) {
    return invalid_iterator();
  }
  const std::string_view signed_part = std::string_view(d).substr(0, d.size() - kMacBytes);
  const Sha256Mac mac = hmac_sha256(secret, bytes_of(signed_part));
  if (!constant_time_equal(as_bytes(std::string_view(d).substr(d.size() - kMacBytes)),
                           ByteView(reinterpret_cast<const std::byte*>(mac.data()), mac.size()))) {
    return invalid_iterator();
  }
  Cursor c(signed_part.substr(8));
  if (c.le(1) != kIteratorVersion) return invalid_iterator();
  IteratorPayload p;
  p.issued_ms = static_cast<int64_t>(c.le(8));
  p.incarnation = c.le(8);
  p.shard_index = static_cast<int32_t>(static_cast<uint32_t>(c.le(4)));
  p.position = LogOffset(c.le(8));
  p.stream.account = c.str();
  p.stream.region = c.str();
  p.stream.name = c.str();
  if (c.failed()) return invalid_iterator();
  for (char z : c.rest()) {
    if (z != '\0') return invalid_iterator();
  }
  if (p.shard_index < 0 || !validate_stream_key(p.stream).ok()) return invalid_iterator();
  static_assert(kFixedBytes + 3 + 64 + 64 + 128 + kMacBytes <= kMaxIteratorBytes);
  return p;
}

std::string seal_token(std::string_view kind, const std::vector<std::string>& fields,
                       ByteView secret) {
  std::string body(kind);
  for (const std::string& f : fields) {
    SLUICE_CHECK(f.find('\0') == std::string::npos, "token field with a NUL byte");
    body += '\0';
    body += f;
  }
  const Sha256Mac mac = hmac_sha256(secret, bytes_of(body));
  body.append(reinterpret_cast<const char*>(mac.data()), mac.size());
  return base64_encode(bytes_of(body));
}

Result<std::vector<std::string>> open_token(std::string_view kind, std::string_view token,
                                            ByteView secret) {
  const Status bad = Status::invalid_argument("The NextToken is invalid.");
  auto decoded = base64_decode(token);
  if (!decoded || decoded->size() < kMacBytes) return bad;
  const std::string_view d = *decoded;
  const std::string_view body = d.substr(0, d.size() - kMacBytes);
  const Sha256Mac mac = hmac_sha256(secret, bytes_of(body));
  if (!constant_time_equal(as_bytes(d.substr(body.size())),
                           ByteView(reinterpret_cast<const std::byte*>(mac.data()), mac.size()))) {
    return bad;
  }
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t nul = body.find('\0', start);
    parts.emplace_back(body.substr(start, nul == std::string_view::npos ? nul : nul - start));
    if (nul == std::string_view::npos) break;
    start = nul + 1;
  }
  if (parts.front() != kind) return bad;
  parts.erase(parts.begin());
  return parts;
}

std::string java_utc_date(int64_t ms) {
  using namespace std::chrono;
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  const sys_time<milliseconds> t{milliseconds(ms)};
  const sys_days day = floor<days>(t);
  const year_month_day ymd{day};
  const weekday wd{day};
  const hh_mm_ss<milliseconds> hms{t - day};
  return fmt::format("{} {} {:02} {:02}:{:02}:{:02} UTC {}", kDays[wd.c_encoding()],
                     kMonths[static_cast<unsigned>(ymd.month()) - 1],
                     static_cast<unsigned>(ymd.day()), hms.hours().count(), hms.minutes().count(),
                     hms.seconds().count(), static_cast<int>(ymd.year()));
}

}  // namespace sluice::stream::internal
