#include "s3/internal/object_format.h"

#include "base/bytes.h"
#include "base/checksum.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

namespace sluice::s3::internal {

namespace {

// Field names of the block; every other name is a stored response header.
constexpr std::string_view kKeyField = ":key";
constexpr std::string_view kEtagField = ":etag";
constexpr std::string_view kMtimeField = ":last-modified-ms";
constexpr std::string_view kContentTypeField = ":content-type";

void put_field(std::string& out, std::string_view name, std::string_view value) {
  std::array<std::byte, 4> len{};
  store_le16(len.data(), static_cast<uint16_t>(name.size()));
  out.append(reinterpret_cast<const char*>(len.data()), 2);
  out.append(name);
  store_le32(len.data(), static_cast<uint32_t>(value.size()));
  out.append(reinterpret_cast<const char*>(len.data()), 4);
  out.append(value);
}

const std::byte* bytes_of(std::string_view s) {
  return reinterpret_cast<const std::byte*>(s.data());
}

uint64_t header_checksum(std::string_view fixed_without_checksum, std::string_view fields) {
  const std::array<ByteView, 2> parts = {as_bytes(fixed_without_checksum), as_bytes(fields)};
  return checksum(parts);
}

}  // namespace

std::string encode_object_header(const ObjectHeader& h) {
  std::string fields;
  put_field(fields, kKeyField, h.key);
  put_field(fields, kEtagField, h.etag);
  put_field(fields, kMtimeField, std::to_string(h.last_modified_ms));
  put_field(fields, kContentTypeField, h.content_type);
  for (const auto& [name, value] : h.headers) put_field(fields, name, value);

  std::string out(kFixedBytes, '\0');
  auto* p = reinterpret_cast<std::byte*>(out.data());
  out.replace(0, kObjectMagic.size(), kObjectMagic);
  store_le32(p + 8, static_cast<uint32_t>(fields.size()));
  store_le64(p + 12, h.body_bytes);
  store_le64(p + 20, h.body_checksum);
  store_le64(p + 28, header_checksum(std::string_view(out).substr(0, 28), fields));
  out += fields;
  return out;
}

Result<uint32_t> field_block_bytes(std::string_view fixed, std::string_view where) {
  if (fixed.size() < kFixedBytes) {
    return Status::corruption(
        fmt::format("{}: short object header ({} bytes)", where, fixed.size()));
  }
  if (fixed.substr(0, kObjectMagic.size()) != kObjectMagic) {
    return Status::corruption(fmt::format("{}: bad magic at byte 0", where));
  }
  const uint32_t n = load_le32(bytes_of(fixed) + 8);
  if (n > kMaxFieldBytes) {
    return Status::corruption(
        fmt::format("{}: impossible field block of {} bytes at byte 8", where, n));
  }
  return n;
}

Result<ObjectHeader> decode_object_header(std::string_view bytes, std::string_view where) {
  SLUICE_ASSIGN_OR_RETURN(const uint32_t n, field_block_bytes(bytes, where));
  if (bytes.size() < kFixedBytes + n) {
    return Status::corruption(fmt::format("{}: field block cut short", where));
  }
  const std::string_view fields = bytes.substr(kFixedBytes, n);
  const uint64_t stored = load_le64(bytes_of(bytes) + 28);
  if (stored != header_checksum(bytes.substr(0, 28), fields)) {
    return Status::corruption(fmt::format("{}: header checksum mismatch at byte 28", where));
  }
  ObjectHeader h;
  h.body_bytes = load_le64(bytes_of(bytes) + 12);
  h.body_checksum = load_le64(bytes_of(bytes) + 20);
  bool have_key = false, have_etag = false, have_mtime = false;
  size_t pos = 0;
  while (pos < fields.size()) {
    const size_t at = kFixedBytes + pos;
    if (fields.size() - pos < 2) {
      return Status::corruption(fmt::format("{}: truncated field at byte {}", where, at));
    }
    const uint16_t name_len = load_le16(bytes_of(fields) + pos);
    pos += 2;
    if (fields.size() - pos < size_t{name_len} + 4) {
      return Status::corruption(fmt::format("{}: truncated field at byte {}", where, at));
    }
    const std::string_view name = fields.substr(pos, name_len);
    pos += name_len;
    const uint32_t value_len = load_le32(bytes_of(fields) + pos);
    pos += 4;
    if (fields.size() - pos < value_len) {
      return Status::corruption(fmt::format("{}: truncated field at byte {}", where, at));
    }
    const std::string_view value = fields.substr(pos, value_len);
    pos += value_len;
    if (name == kKeyField) {
      h.key = value;
      have_key = true;
    } else if (name == kEtagField) {
      h.etag = value;
      have_etag = true;
    } else if (name == kMtimeField) {
      const auto r = std::from_chars(value.data(), value.data() + value.size(), h.last_modified_ms);
      if (r.ec != std::errc() || r.ptr != value.data() + value.size()) {
        return Status::corruption(fmt::format("{}: bad mtime field at byte {}", where, at));
      }
      have_mtime = true;
    } else if (name == kContentTypeField) {
      h.content_type = value;
    } else {
      h.headers.emplace_back(name, value);
    }
  }
  if (!have_key || !have_etag || !have_mtime) {
    return Status::corruption(fmt::format("{}: required field missing", where));
  }
  return h;
}

}  // namespace sluice::s3::internal
