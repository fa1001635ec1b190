#include "stream/internal/metadata_codec.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <utility>

namespace sluice::stream::internal {
namespace {

constexpr std::string_view kFormatVersion = "1";

// '%', '=', control characters and DEL become %XX; everything else (UTF-8 included) stays.
std::string escape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '%' || c == '=' || u < 0x20 || u == 0x7f) {
      out += fmt::format("%{:02X}", u);
    } else {
      out += c;
    }
  }
  return out;
}

std::optional<std::string> unescape(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    unsigned v = 0;
    auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
    if (ec != std::errc() || p != s.data() + i + 3) return std::nullopt;
    out += static_cast<char>(v);
    i += 2;
  }
  return out;
}

class Writer {
 public:
  Writer() { add("format", kFormatVersion); }
  void add(std::string_view name, std::string_view value) {
    out_ += name;
    out_ += '=';
    out_ += escape(value);
    out_ += '\n';
  }
  void add_int(std::string_view name, int64_t v) { add(name, fmt::format("{}", v)); }
  void add_uint(std::string_view name, uint64_t v) { add(name, fmt::format("{}", v)); }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// The fields of one value, by name, in order; single fields must appear once.
class Reader {
 public:
  static Result<Reader> parse(std::string_view what, std::string_view text) {
    Reader r;
    r.what_ = what;
    while (!text.empty()) {
      const size_t nl = text.find('\n');
      if (nl == std::string_view::npos) return r.bad("a line without a newline");
      const std::string_view line = text.substr(0, nl);
      text.remove_prefix(nl + 1);
      const size_t eq = line.find('=');
      if (eq == std::string_view::npos || eq == 0) return r.bad("a line without a field name");
      auto value = unescape(line.substr(eq + 1));
      if (!value) return r.bad(fmt::format("a bad escape in field {}", line.substr(0, eq)));
      r.fields_.emplace_back(std::string(line.substr(0, eq)), std::move(*value));
    }
    auto format = r.single("format");
    if (!format.ok()) return format.status();
    if (*format != kFormatVersion) return r.bad(fmt::format("unknown format {}", *format));
    return r;
  }

  Status bad(std::string_view why) const {
    return Status::corruption(fmt::format("stream catalog {} value: {}", what_, why));
  }

  Result<std::string> single(std::string_view name) {
    std::optional<std::string> found;
    for (auto& [n, v] : fields_) {
      if (n != name) continue;
      if (found) return bad(fmt::format("field {} appears twice", name));
      found = v;
      n.clear();  // consumed
    }
    if (!found) return bad(fmt::format("field {} is missing", name));
    return *found;
  }
  Result<std::optional<std::string>> optional(std::string_view name) {
    if (std::none_of(fields_.begin(), fields_.end(), [&](auto& f) { return f.first == name; })) {
      return std::optional<std::string>();
    }
    SLUICE_ASSIGN_OR_RETURN(std::string v, single(name));
    return std::optional<std::string>(std::move(v));
  }
  std::vector<std::string> repeated(std::string_view name) {
    std::vector<std::string> out;
    for (auto& [n, v] : fields_) {
      if (n == name) {
        out.push_back(v);
        n.clear();
      }
    }
    return out;
  }
  template <typename T>
  Result<T> number(std::string_view name, std::string_view text) {
    T v{};
    auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || p != text.data() + text.size()) {
      return bad(fmt::format("field {} is not a number: '{}'", name, text));
    }
    return v;
  }
  template <typename T>
  Result<T> single_number(std::string_view name) {
    SLUICE_ASSIGN_OR_RETURN(std::string text, single(name));
    return number<T>(name, text);
  }
  template <typename T>
  Result<std::optional<T>> optional_number(std::string_view name) {
    SLUICE_ASSIGN_OR_RETURN(std::optional<std::string> text, optional(name));
    if (!text) return std::optional<T>();
    SLUICE_ASSIGN_OR_RETURN(T v, number<T>(name, *text));
    return std::optional<T>(v);
  }
  Result<HashKey> hash_key(std::string_view name) {
    SLUICE_ASSIGN_OR_RETURN(std::string text, single(name));
    auto v = parse_hash_key(text);
    if (!v) return bad(fmt::format("field {} is not a hash key: '{}'", name, text));
    return *v;
  }
  // Every field consumed (names are cleared once read).
  Status finish() const {
    for (const auto& [n, v] : fields_) {
      if (!n.empty()) return bad(fmt::format("unknown field {}", n));
    }
    return Status();
  }

 private:
  std::string_view what_;
  std::vector<std::pair<std::string, std::string>> fields_;
};

constexpr std::pair<PendingKind, std::string_view> kPendingNames[] = {
    {PendingKind::kNone, "NONE"},
    {PendingKind::kCreate, "CREATE"},
    {PendingKind::kSplit, "SPLIT"},
    {PendingKind::kMerge, "MERGE"},
    {PendingKind::kScale, "SCALE"},
    {PendingKind::kMode, "MODE"},
    {PendingKind::kEncryption, "ENCRYPTION"},
    {PendingKind::kDelete, "DELETE"},
};

std::string_view pending_name(PendingKind k) {
  for (const auto& [kind, name] : kPendingNames) {
    if (kind == k) return name;
  }
  return "NONE";
}

std::optional<PendingKind> parse_pending(std::string_view s) {
  for (const auto& [kind, name] : kPendingNames) {
    if (name == s) return kind;
  }
  return std::nullopt;
}

std::optional<StreamStatus> parse_status(std::string_view s) {
  for (StreamStatus st : {StreamStatus::kCreating, StreamStatus::kActive, StreamStatus::kUpdating,
                          StreamStatus::kDeleting}) {
    if (stream_status_name(st) == s) return st;
  }
  return std::nullopt;
}

}  // namespace

std::string encode_stream(const StreamMeta& m) {
  Writer w;
  w.add("account", m.key.account);
  w.add("region", m.key.region);
  w.add("name", m.key.name);
  w.add_uint("incarnation", m.incarnation);
  w.add("status", stream_status_name(m.status));
  w.add("mode", stream_mode_name(m.mode));
  w.add_int("initial_shard_count", m.initial_shard_count);
  w.add_int("retention_hours", m.retention_hours);
  w.add_int("trim_floor_ms", m.trim_floor_ms);
  w.add_int("creation_ms", m.creation_ms);
  w.add_int("next_shard_index", m.next_shard_index);
  w.add("encryption", encryption_type_name(m.encryption));
  if (!m.key_id.empty()) w.add("key_id", m.key_id);
  w.add_int("max_record_size_kib", m.max_record_size_kib);
  if (m.warm_throughput_mibps) w.add_int("warm_throughput_mibps", *m.warm_throughput_mibps);
  for (const std::string& metric : m.shard_level_metrics) w.add("metric", metric);
  for (const auto& [k, v] : m.tags) {
    w.add("tag_key", k);
    w.add("tag_value", v);
  }
  for (int64_t t : m.scaling_ms) w.add_int("scaling_ms", t);
  for (const ConsumerMeta& c : m.consumers) {
    std::string v = fmt::format("{},{},{}", c.name, c.registered_ms, c.creation_s);
    if (c.deleting_due_ms) v += fmt::format(",{}", *c.deleting_due_ms);
    w.add("consumer", v);
  }
  for (const ConsumerMeta& c : m.consumers) {
    for (const auto& [k, v] : c.tags) w.add("consumer_tag", fmt::format("{},{},{}", c.name, k, v));
    if (c.policy) w.add("consumer_policy", fmt::format("{},{}", c.name, *c.policy));
  }
  if (m.policy) w.add("policy", *m.policy);
  const PendingChange& p = m.pending;
  w.add("pending", pending_name(p.kind));
  if (p.kind != PendingKind::kNone) {
    w.add_int("pending_due_ms", p.due_ms);
    switch (p.kind) {
      case PendingKind::kSplit:
        w.add_int("pending_shard", p.shard);
        w.add("pending_hash_key", format_hash_key(p.hash_key));
        break;
      case PendingKind::kMerge:
        w.add_int("pending_shard", p.shard);
        w.add_int("pending_adjacent", p.adjacent);
        break;
      case PendingKind::kScale:
        w.add_int("pending_target", p.target);
        break;
      case PendingKind::kMode:
        w.add("pending_mode", stream_mode_name(p.mode));
        break;
      case PendingKind::kEncryption:
        w.add("pending_encryption", encryption_type_name(p.encryption));
        if (!p.key_id.empty()) w.add("pending_key_id", p.key_id);
        break;
      case PendingKind::kNone:
      case PendingKind::kCreate:
      case PendingKind::kDelete:
        break;
    }
  }
  return w.take();
}

Result<StreamMeta> decode_stream(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(Reader r, Reader::parse("stream", text));
  StreamMeta m;
  SLUICE_ASSIGN_OR_RETURN(m.key.account, r.single("account"));
  SLUICE_ASSIGN_OR_RETURN(m.key.region, r.single("region"));
  SLUICE_ASSIGN_OR_RETURN(m.key.name, r.single("name"));
  SLUICE_ASSIGN_OR_RETURN(m.incarnation, r.single_number<uint64_t>("incarnation"));
  SLUICE_ASSIGN_OR_RETURN(std::string status, r.single("status"));
  auto st = parse_status(status);
  if (!st) return r.bad("bad status " + status);
  m.status = *st;
  SLUICE_ASSIGN_OR_RETURN(std::string mode, r.single("mode"));
  auto md = parse_stream_mode(mode);
  if (!md) return r.bad("bad mode " + mode);
  m.mode = *md;
  SLUICE_ASSIGN_OR_RETURN(m.initial_shard_count, r.single_number<int32_t>("initial_shard_count"));
  SLUICE_ASSIGN_OR_RETURN(m.retention_hours, r.single_number<int32_t>("retention_hours"));
  SLUICE_ASSIGN_OR_RETURN(m.trim_floor_ms, r.single_number<int64_t>("trim_floor_ms"));
  SLUICE_ASSIGN_OR_RETURN(m.creation_ms, r.single_number<int64_t>("creation_ms"));
  SLUICE_ASSIGN_OR_RETURN(m.next_shard_index, r.single_number<int32_t>("next_shard_index"));
  SLUICE_ASSIGN_OR_RETURN(std::string enc, r.single("encryption"));
  auto e = parse_encryption_type(enc);
  if (!e) return r.bad("bad encryption " + enc);
  m.encryption = *e;
  SLUICE_ASSIGN_OR_RETURN(auto key_id, r.optional("key_id"));
  m.key_id = key_id.value_or("");
  SLUICE_ASSIGN_OR_RETURN(m.max_record_size_kib, r.single_number<int32_t>("max_record_size_kib"));
  SLUICE_ASSIGN_OR_RETURN(m.warm_throughput_mibps,
                          r.optional_number<int32_t>("warm_throughput_mibps"));
  m.shard_level_metrics = r.repeated("metric");
  const std::vector<std::string> tag_keys = r.repeated("tag_key");
  const std::vector<std::string> tag_values = r.repeated("tag_value");
  if (tag_keys.size() != tag_values.size()) return r.bad("tag_key and tag_value do not pair up");
  for (size_t i = 0; i < tag_keys.size(); ++i) m.tags[tag_keys[i]] = tag_values[i];
  for (const std::string& t : r.repeated("scaling_ms")) {
    SLUICE_ASSIGN_OR_RETURN(int64_t v, r.number<int64_t>("scaling_ms", t));
    m.scaling_ms.push_back(v);
  }
  for (const std::string& field : r.repeated("consumer")) {
    // name "," registered_ms "," creation_s [ "," deleting_due_ms ]
    std::vector<std::string_view> parts;
    std::string_view rest = field;
    while (true) {
      const size_t comma = rest.find(',');
      parts.push_back(rest.substr(0, comma));
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
    if (parts.size() < 3 || parts.size() > 4 || parts[0].empty()) {
      return r.bad(fmt::format("field consumer is malformed: '{}'", field));
    }
    ConsumerMeta c;
    c.name = std::string(parts[0]);
    SLUICE_ASSIGN_OR_RETURN(c.registered_ms, r.number<int64_t>("consumer", parts[1]));
    SLUICE_ASSIGN_OR_RETURN(c.creation_s, r.number<int64_t>("consumer", parts[2]));
    if (parts.size() == 4) {
      SLUICE_ASSIGN_OR_RETURN(int64_t due, r.number<int64_t>("consumer", parts[3]));
      c.deleting_due_ms = due;
    }
    m.consumers.push_back(std::move(c));
  }
  auto consumer_named = [&](std::string_view name) -> ConsumerMeta* {
    for (ConsumerMeta& c : m.consumers) {
      if (c.name == name) return &c;
    }
    return nullptr;
  };
  for (const std::string& field : r.repeated("consumer_tag")) {
    // consumer "," key "," value (names and tag keys hold no comma; values may)
    const size_t first = field.find(',');
    const size_t second = first == std::string::npos ? first : field.find(',', first + 1);
    ConsumerMeta* c =
        second == std::string::npos ? nullptr : consumer_named(field.substr(0, first));
    if (c == nullptr) return r.bad(fmt::format("field consumer_tag is malformed: '{}'", field));
    c->tags[field.substr(first + 1, second - first - 1)] = field.substr(second + 1);
  }
  for (const std::string& field : r.repeated("consumer_policy")) {
    const size_t comma = field.find(',');
    ConsumerMeta* c = comma == std::string::npos ? nullptr : consumer_named(field.substr(0, comma));
    if (c == nullptr || c->policy) {
      return r.bad(fmt::format("field consumer_policy is malformed: '{}'", field));
    }
    c->policy = field.substr(comma + 1);
  }
  SLUICE_ASSIGN_OR_RETURN(m.policy, r.optional("policy"));
  SLUICE_ASSIGN_OR_RETURN(std::string pending, r.single("pending"));
  auto pk = parse_pending(pending);
  if (!pk) return r.bad("bad pending change " + pending);
  PendingChange& p = m.pending;
  p.kind = *pk;
  if (p.kind != PendingKind::kNone) {
    SLUICE_ASSIGN_OR_RETURN(p.due_ms, r.single_number<int64_t>("pending_due_ms"));
  }
  switch (p.kind) {
    case PendingKind::kSplit: {
      SLUICE_ASSIGN_OR_RETURN(p.shard, r.single_number<int32_t>("pending_shard"));
      SLUICE_ASSIGN_OR_RETURN(p.hash_key, r.hash_key("pending_hash_key"));
      break;
    }
    case PendingKind::kMerge: {
      SLUICE_ASSIGN_OR_RETURN(p.shard, r.single_number<int32_t>("pending_shard"));
      SLUICE_ASSIGN_OR_RETURN(p.adjacent, r.single_number<int32_t>("pending_adjacent"));
      break;
    }
    case PendingKind::kScale: {
      SLUICE_ASSIGN_OR_RETURN(p.target, r.single_number<int32_t>("pending_target"));
      break;
    }
    case PendingKind::kMode: {
      SLUICE_ASSIGN_OR_RETURN(std::string pm, r.single("pending_mode"));
      auto v = parse_stream_mode(pm);
      if (!v) return r.bad("bad pending mode " + pm);
      p.mode = *v;
      break;
    }
    case PendingKind::kEncryption: {
      SLUICE_ASSIGN_OR_RETURN(std::string pe, r.single("pending_encryption"));
      auto v = parse_encryption_type(pe);
      if (!v) return r.bad("bad pending encryption " + pe);
      p.encryption = *v;
      SLUICE_ASSIGN_OR_RETURN(auto pk_id, r.optional("pending_key_id"));
      p.key_id = pk_id.value_or("");
      break;
    }
    case PendingKind::kNone:
    case PendingKind::kCreate:
    case PendingKind::kDelete:
      break;
  }
  SLUICE_RETURN_IF_ERROR(r.finish());
  return m;
}

std::string encode_shard(const ShardMeta& m) {
  Writer w;
  w.add_uint("incarnation", m.incarnation);
  w.add_int("index", m.index);
  w.add("starting_hash_key", format_hash_key(m.range.starting));
  w.add("ending_hash_key", format_hash_key(m.range.ending));
  w.add_int("seq_creation_s", m.seq_creation_s);
  w.add_int("created_ms", m.created_ms);
  if (m.closed_ms) w.add_int("closed_ms", *m.closed_ms);
  if (m.parent) w.add_int("parent", *m.parent);
  if (m.adjacent_parent) w.add_int("adjacent_parent", *m.adjacent_parent);
  w.add("log", m.log_name);
  return w.take();
}

Result<ShardMeta> decode_shard(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(Reader r, Reader::parse("shard", text));
  ShardMeta m;
  SLUICE_ASSIGN_OR_RETURN(m.incarnation, r.single_number<uint64_t>("incarnation"));
  SLUICE_ASSIGN_OR_RETURN(m.index, r.single_number<int32_t>("index"));
  SLUICE_ASSIGN_OR_RETURN(m.range.starting, r.hash_key("starting_hash_key"));
  SLUICE_ASSIGN_OR_RETURN(m.range.ending, r.hash_key("ending_hash_key"));
  SLUICE_ASSIGN_OR_RETURN(m.seq_creation_s, r.single_number<int64_t>("seq_creation_s"));
  SLUICE_ASSIGN_OR_RETURN(m.created_ms, r.single_number<int64_t>("created_ms"));
  SLUICE_ASSIGN_OR_RETURN(m.closed_ms, r.optional_number<int64_t>("closed_ms"));
  SLUICE_ASSIGN_OR_RETURN(m.parent, r.optional_number<int32_t>("parent"));
  SLUICE_ASSIGN_OR_RETURN(m.adjacent_parent, r.optional_number<int32_t>("adjacent_parent"));
  SLUICE_ASSIGN_OR_RETURN(m.log_name, r.single("log"));
  if (m.range.starting > m.range.ending) return r.bad("starting hash key above the ending one");
  SLUICE_RETURN_IF_ERROR(r.finish());
  return m;
}

std::string encode_account_settings(const AccountSettings& a) {
  Writer w;
  w.add("commitment", a.commitment_enabled ? "ENABLED" : "DISABLED");
  if (a.started_at_ms) w.add_int("started_at_ms", *a.started_at_ms);
  if (a.ended_at_ms) w.add_int("ended_at_ms", *a.ended_at_ms);
  return w.take();
}

Result<AccountSettings> decode_account_settings(std::string_view text) {
  SLUICE_ASSIGN_OR_RETURN(Reader r, Reader::parse("account settings", text));
  AccountSettings a;
  SLUICE_ASSIGN_OR_RETURN(std::string commitment, r.single("commitment"));
  if (commitment != "ENABLED" && commitment != "DISABLED") {
    return r.bad("bad commitment " + commitment);
  }
  a.commitment_enabled = commitment == "ENABLED";
  SLUICE_ASSIGN_OR_RETURN(a.started_at_ms, r.optional_number<int64_t>("started_at_ms"));
  SLUICE_ASSIGN_OR_RETURN(a.ended_at_ms, r.optional_number<int64_t>("ended_at_ms"));
  SLUICE_RETURN_IF_ERROR(r.finish());
  return a;
}

std::string account_settings_key(std::string_view account, std::string_view region) {
  return fmt::format("{}/{}", account, region);
}

std::string stream_meta_key(const StreamKey& key) {
  return fmt::format("{}/{}/{}", key.account, key.region, key.name);
}
std::string shard_meta_key(uint64_t incarnation, int32_t index) {
  return fmt::format("{:016x}/{:010}", incarnation, index);
}
std::string counter_key(uint64_t incarnation) { return fmt::format("{:016x}", incarnation); }
std::string shard_log_name(uint64_t incarnation, int32_t index) {
  return fmt::format("{}{:016x}-{:010}", kLogNamePrefix, incarnation, index);
}

}  // namespace sluice::stream::internal
