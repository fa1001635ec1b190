#include "stream/identifiers.h"

#include <fmt/format.h>

#include <algorithm>

namespace sluice::stream {
namespace {

bool is_name_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '.' || c == '-';
}

bool is_name(std::string_view s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (char c : s) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

}  // namespace

std::string format_shard_id(int64_t index) { return fmt::format("shardId-{:012}", index); }

std::optional<int32_t> parse_shard_id(std::string_view text) {
  const size_t dash = text.find('-');
  if (dash != std::string_view::npos) text.remove_prefix(dash + 1);
  if (text.empty()) return std::nullopt;
  int64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
    if (v > INT32_MAX) return std::nullopt;
  }
  return static_cast<int32_t>(v);
}

std::string stream_arn(const StreamKey& key) {
  return fmt::format("arn:aws:kinesis:{}:{}:stream/{}", key.region, key.account, key.name);
}

std::optional<StreamKey> parse_stream_arn(std::string_view arn) {
  // arn : partition : service : region : account : resource
  std::string_view parts[6];
  for (int i = 0; i < 5; ++i) {
    const size_t colon = arn.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    parts[i] = arn.substr(0, colon);
    arn.remove_prefix(colon + 1);
  }
  parts[5] = arn;
  constexpr std::string_view kResourcePrefix = "stream/";
  if (parts[0] != "arn" || !parts[1].starts_with("aws") || parts[2] != "kinesis" ||
      !parts[5].starts_with(kResourcePrefix)) {
    return std::nullopt;
  }
  StreamKey key{std::string(parts[4]), std::string(parts[3]),
                std::string(parts[5].substr(kResourcePrefix.size()))};
  if (!validate_stream_key(key).ok()) return std::nullopt;
  return key;
}

std::string consumer_arn(const StreamKey& stream, std::string_view consumer_name,
                         int64_t creation_s) {
  return fmt::format("{}/consumer/{}:{}", stream_arn(stream), consumer_name, creation_s);
}

std::optional<ConsumerArn> parse_consumer_arn(std::string_view arn) {
  constexpr std::string_view kConsumer = "/consumer/";
  const size_t at = arn.rfind(kConsumer);
  if (at == std::string_view::npos) return std::nullopt;
  std::optional<StreamKey> stream = parse_stream_arn(arn.substr(0, at));
  if (!stream) return std::nullopt;
  const std::string_view rest = arn.substr(at + kConsumer.size());
  const size_t colon = rest.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  const std::string_view name = rest.substr(0, colon);
  const std::string_view seconds = rest.substr(colon + 1);
  if (!is_name(name, 128) || seconds.empty() || seconds.size() > 18 ||
      !std::all_of(seconds.begin(), seconds.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return std::nullopt;
  }
  int64_t creation_s = 0;
  for (char c : seconds) creation_s = creation_s * 10 + (c - '0');
  return ConsumerArn{std::move(*stream), std::string(name), creation_s};
}

Status validate_stream_key(const StreamKey& key) {
  if (!is_name(key.account, 64)) {
    return Status::invalid_argument(fmt::format("invalid account id '{}'", key.account));
  }
  if (!is_name(key.region, 64)) {
    return Status::invalid_argument(fmt::format("invalid region '{}'", key.region));
  }
  if (!is_name(key.name, 128)) {
    return Status::invalid_argument(fmt::format("invalid stream name '{}'", key.name));
  }
  return Status();
}

}  // namespace sluice::stream
