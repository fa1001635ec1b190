#include "s3/internal/aws_chunked.h"

#include <fmt/format.h>

#include <cctype>

namespace sluice::s3::internal {

namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Status broken(size_t at, std::string_view what) {
  return Status::invalid_argument(fmt::format("aws-chunked body: {} at byte {}", what, at));
}

// Sizes above this many hex digits cannot be real: the body is at most a few GiB.
constexpr size_t kMaxSizeDigits = 15;

}  // namespace

Result<DecodedChunks> decode_aws_chunked(std::string_view in) {
  DecodedChunks out;
  size_t pos = 0;
  while (true) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return broken(pos, "chunk size line without CRLF");
    std::string_view line = in.substr(pos, eol - pos);
    if (const size_t semi = line.find(';'); semi != std::string_view::npos) {
      line = line.substr(0, semi);
    }
    line = trim(line);
    if (line.empty() || line.size() > kMaxSizeDigits) return broken(pos, "bad chunk size");
    uint64_t size = 0;
    for (const char c : line) {
      if (!std::isxdigit(static_cast<unsigned char>(c))) return broken(pos, "bad chunk size");
      const int digit = std::isdigit(static_cast<unsigned char>(c))
                            ? c - '0'
                            : std::tolower(static_cast<unsigned char>(c)) - 'a' + 10;
      size = size * 16 + static_cast<uint64_t>(digit);
    }
    pos = eol + 2;
    if (size == 0) break;
    if (in.size() - pos < size) return broken(pos, "chunk data shorter than its size");
    out.body.append(in.substr(pos, size));
    pos += size;
    if (in.substr(pos, 2) != "\r\n") return broken(pos, "chunk data not followed by CRLF");
    pos += 2;
  }
  // Trailers, up to an empty line or the end of the body.
  while (pos < in.size()) {
    const size_t eol = in.find("\r\n", pos);
    if (eol == std::string_view::npos) return broken(pos, "trailer without CRLF");
    const std::string_view line = in.substr(pos, eol - pos);
    pos = eol + 2;
    if (line.empty()) {
      if (pos != in.size()) return broken(pos, "bytes after the end of the body");
      break;
    }
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return broken(eol, "malformed trailer");
    std::string name(trim(line.substr(0, colon)));
    if (name.empty()) return broken(eol, "malformed trailer");  // also a name of blanks only
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    out.trailers.emplace_back(std::move(name), std::string(trim(line.substr(colon + 1))));
  }
  return out;
}

}  // namespace sluice::s3::internal
