#include "kinesis/cbor.h"

#include "base/base64.h"
#include "base/bytes.h"
#include "base/check.h"

#include <fmt/format.h>

#include <cbor.h>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <limits>
#include <simdjson.h>
#include <span>
#include <vector>

namespace sluice::kinesis {

namespace {

// ---- Where blobs and timestamps sit ----

enum class MemberKind : uint8_t { kBlob, kTimestamp, kStructure, kStructureList };

// A member whose CBOR and JSON encodings differ, or a structure / list of structures that
// holds one. Members of every other type need no entry: both encodings carry them alike.
struct Member {
  std::string_view name;
  MemberKind kind;
  std::span<const Member> members{};  // kStructure: its members; kStructureList: each element's
};
using Members = std::span<const Member>;

// Derived from the Kinesis service model (botocore data/kinesis/2013-12-02/service-2.json):
// every member of type "blob" or "timestamp" reachable from an operation's input or output
// shape, with the structures and lists that lead to it. The model has no float or double
// members. SubscribeToShard's output is an event stream, not a CBOR body (spec 10.4).
constexpr Member kTimestampMember[] = {{"Timestamp", MemberKind::kTimestamp}};
constexpr Member kPutRecordsEntry[] = {{"Data", MemberKind::kBlob}};
constexpr Member kRecord[] = {{"ApproximateArrivalTimestamp", MemberKind::kTimestamp},
                              {"Data", MemberKind::kBlob}};
constexpr Member kStreamCreation[] = {{"StreamCreationTimestamp", MemberKind::kTimestamp}};
constexpr Member kConsumerCreation[] = {{"ConsumerCreationTimestamp", MemberKind::kTimestamp}};
constexpr Member kBillingCommitment[] = {{"StartedAt", MemberKind::kTimestamp},
                                         {"EndedAt", MemberKind::kTimestamp},
                                         {"EarliestAllowedEndAt", MemberKind::kTimestamp}};

// Inputs.
constexpr Member kGetShardIteratorIn[] = {{"Timestamp", MemberKind::kTimestamp}};
constexpr Member kListShardsIn[] = {{"StreamCreationTimestamp", MemberKind::kTimestamp},
                                    {"ShardFilter", MemberKind::kStructure, kTimestampMember}};
constexpr Member kListStreamConsumersIn[] = {{"StreamCreationTimestamp", MemberKind::kTimestamp}};
constexpr Member kPutRecordIn[] = {{"Data", MemberKind::kBlob}};
constexpr Member kPutRecordsIn[] = {{"Records", MemberKind::kStructureList, kPutRecordsEntry}};
constexpr Member kSubscribeToShardIn[] = {
    {"StartingPosition", MemberKind::kStructure, kTimestampMember}};

// Outputs.
constexpr Member kAccountSettingsOut[] = {
    {"MinimumThroughputBillingCommitment", MemberKind::kStructure, kBillingCommitment}};
constexpr Member kDescribeStreamOut[] = {
    {"StreamDescription", MemberKind::kStructure, kStreamCreation}};
constexpr Member kDescribeStreamConsumerOut[] = {
    {"ConsumerDescription", MemberKind::kStructure, kConsumerCreation}};
constexpr Member kDescribeStreamSummaryOut[] = {
    {"StreamDescriptionSummary", MemberKind::kStructure, kStreamCreation}};
constexpr Member kGetRecordsOut[] = {{"Records", MemberKind::kStructureList, kRecord}};
constexpr Member kListStreamConsumersOut[] = {
    {"Consumers", MemberKind::kStructureList, kConsumerCreation}};
constexpr Member kListStreamsOut[] = {
    {"StreamSummaries", MemberKind::kStructureList, kStreamCreation}};
constexpr Member kRegisterStreamConsumerOut[] = {
    {"Consumer", MemberKind::kStructure, kConsumerCreation}};

struct OperationShapes {
  std::string_view operation;
  Members input;
  Members output;
};

constexpr OperationShapes kOperationShapes[] = {
    {"DescribeAccountSettings", {}, kAccountSettingsOut},
    {"DescribeStream", {}, kDescribeStreamOut},
    {"DescribeStreamConsumer", {}, kDescribeStreamConsumerOut},
    {"DescribeStreamSummary", {}, kDescribeStreamSummaryOut},
    {"GetRecords", {}, kGetRecordsOut},
    {"GetShardIterator", kGetShardIteratorIn, {}},
    {"ListShards", kListShardsIn, {}},
    {"ListStreamConsumers", kListStreamConsumersIn, kListStreamConsumersOut},
    {"ListStreams", {}, kListStreamsOut},
    {"PutRecord", kPutRecordIn, {}},
    {"PutRecords", kPutRecordsIn, {}},
    {"RegisterStreamConsumer", {}, kRegisterStreamConsumerOut},
    {"SubscribeToShard", kSubscribeToShardIn, {}},
    {"UpdateAccountSettings", {}, kAccountSettingsOut},
};

const OperationShapes* shapes_of(std::string_view operation) {
  for (const OperationShapes& s : kOperationShapes) {
    if (s.operation == operation) return &s;
  }
  return nullptr;
}

const Member* find_member(Members members, std::string_view name) {
  for (const Member& m : members) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

Members nested(const Member* m, MemberKind kind) {
  return m != nullptr && m->kind == kind ? m->members : Members{};
}

// ---- JSON text helpers ----

void append_json_string(std::string& out, std::string_view s) {
  out.push_back('"');
  size_t plain = 0;  // start of the run of bytes that need no escape
  for (size_t i = 0; i < s.size(); ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out.append(s.data() + plain, i - plain);
    plain = i + 1;
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\u00";
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 0xf]);
    }
  }
  out.append(s.data() + plain, s.size() - plain);
  out.push_back('"');
}

template <typename T>
void append_integer(std::string& out, T v) {
  char buf[48];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  SLUICE_CHECK(ec == std::errc(), "to_chars failed");
  out.append(buf, end);
}

// ---- CBOR -> JSON ----

// Where the next item goes: what its container expects there.
struct Slot {
  enum class Role : uint8_t { kTop, kKey, kValue, kElement };
  Role role = Role::kTop;
  const Member* member = nullptr;  // kValue: the member it is, when that member has a table entry
  Members element_members{};       // kElement: the members of each element
};

// One cbor_stream_decode() call decodes one item head (or a whole definite string) and calls
// one callback; this class keeps the open containers and writes JSON as the items arrive.
// No item tree is built and no allocation depends on a length prefix: definite lengths are
// checked against the bytes left before they are trusted.
class CborToJson {
 public:
  CborToJson(std::string_view body, Members top, const CborLimits& limits)
      : body_(body), top_(top), limits_(limits) {}

  Result<std::string> run();

  // Callbacks (one per item head).
  void on_uint(uint64_t v);
  void on_negint(uint64_t n);  // the value -1 - n
  void on_float(double v);
  void on_bool(bool v);
  void on_null();
  void on_text(std::string_view s);
  void on_bytes(std::string_view s);
  void on_text_start();
  void on_bytes_start();
  void on_array_start(uint64_t count);
  void on_map_start(uint64_t count);
  void on_indefinite_array_start();
  void on_indefinite_map_start();
  void on_tag();
  void on_break();

 private:
  struct Frame {
    enum class Kind : uint8_t { kMap, kArray, kTextChunks, kByteChunks };
    Kind kind = Kind::kMap;
    bool indefinite = false;
    bool at_key = true;      // maps: the next item is a key
    bool empty = true;       // nothing written into it yet (comma placement)
    uint64_t remaining = 0;  // definite containers: items left; a map entry is two
    Members members{};       // maps: the members with table entries; arrays: each element's
    const Member* value_member = nullptr;  // maps: the member whose value comes next
    Slot slot{};                           // chunk frames: where the finished string goes
  };

  void fail(std::string_view why) {
    if (error_.empty()) error_ = std::string(why);
  }
  bool in_chunks() const {
    return !stack_.empty() && (stack_.back().kind == Frame::Kind::kTextChunks ||
                               stack_.back().kind == Frame::Kind::kByteChunks);
  }
  // The slot of the item that starts now; false (and failed) when no item may start here.
  bool begin_item(Slot& slot);
  // Commas: written before every key and every array element but the first.
  void open(const Slot& slot);
  // One item is complete: counts it in its container and closes definite containers that are
  // full, up the stack.
  void end_item();
  void start_container(Frame::Kind kind, bool indefinite, uint64_t count);
  void text_item(const Slot& slot, std::string_view s);
  void bytes_item(const Slot& slot, std::string_view s);
  static bool is(const Slot& slot, MemberKind kind) {
    return slot.role == Slot::Role::kValue && slot.member != nullptr && slot.member->kind == kind;
  }
  // Epoch milliseconds (sign and magnitude) as epoch seconds with a 3-digit fraction.
  void write_millis(bool negative, unsigned __int128 magnitude);

  const std::string_view body_;
  const Members top_;
  const CborLimits limits_;
  std::string out_;
  std::vector<Frame> stack_;
  std::string chunks_;  // the pieces of the indefinite-length string being read
  size_t input_left_ = 0;
  size_t depth_ = 0;  // open maps and arrays
  bool tagged_ = false;
  bool top_done_ = false;
  std::string error_;
};

bool CborToJson::begin_item(Slot& slot) {
  if (!error_.empty()) return false;
  const bool tagged = tagged_;
  tagged_ = false;
  if (stack_.empty()) {
    if (top_done_) {
      fail("a second top-level item");
      return false;
    }
    slot = Slot{};
    return true;
  }
  Frame& f = stack_.back();
  switch (f.kind) {
    case Frame::Kind::kTextChunks:
    case Frame::Kind::kByteChunks:
      fail("an indefinite-length string holds something other than a definite string");
      return false;
    case Frame::Kind::kMap:
      if (f.at_key && tagged) {
        fail("a tagged map key");
        return false;
      }
      slot = f.at_key ? Slot{Slot::Role::kKey} : Slot{Slot::Role::kValue, f.value_member};
      return true;
    case Frame::Kind::kArray:
      slot = Slot{Slot::Role::kElement, nullptr, f.members};
      return true;
  }
  return false;
}

void CborToJson::open(const Slot& slot) {
  if (slot.role != Slot::Role::kKey && slot.role != Slot::Role::kElement) return;
  Frame& f = stack_.back();
  if (!f.empty) out_.push_back(',');
  f.empty = false;
}

void CborToJson::end_item() {
  while (true) {
    if (stack_.empty()) {
      top_done_ = true;
      return;
    }
    Frame& f = stack_.back();
    if (f.kind == Frame::Kind::kMap) f.at_key = !f.at_key;
    if (f.indefinite || --f.remaining > 0) return;
    out_.push_back(f.kind == Frame::Kind::kMap ? '}' : ']');
    stack_.pop_back();
    --depth_;
  }
}

void CborToJson::start_container(Frame::Kind kind, bool indefinite, uint64_t count) {
  Slot slot;
  if (!begin_item(slot)) return;
  const bool map = kind == Frame::Kind::kMap;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop && !map) return fail("the top-level item is not a map");
  if (depth_ >= limits_.max_depth) return fail("nesting deeper than the limit");
  // Every item takes at least one byte: a length the rest of the body cannot hold is a lie.
  if (!indefinite && (map ? count > input_left_ / 2 : count > input_left_)) {
    return fail("a definite length larger than the rest of the body");
  }
  Members members;
  switch (slot.role) {
    case Slot::Role::kTop:
      members = top_;
      break;
    case Slot::Role::kValue:
      members = nested(slot.member, map ? MemberKind::kStructure : MemberKind::kStructureList);
      break;
    case Slot::Role::kElement:
      if (map) members = slot.element_members;
      break;
    case Slot::Role::kKey:
      break;
  }
  open(slot);
  out_.push_back(map ? '{' : '[');
  if (!indefinite && count == 0) {
    out_.push_back(map ? '}' : ']');
    end_item();
    return;
  }
  Frame f;
  f.kind = kind;
  f.indefinite = indefinite;
  f.remaining = map ? count * 2 : count;
  f.members = members;
  stack_.push_back(f);
  ++depth_;
}

void CborToJson::on_uint(uint64_t v) {
  Slot slot;
  if (!begin_item(slot)) return;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  if (is(slot, MemberKind::kTimestamp)) {
    write_millis(false, v);
  } else {
    append_integer(out_, v);
  }
  end_item();
}

void CborToJson::on_negint(uint64_t n) {
  Slot slot;
  if (!begin_item(slot)) return;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  if (is(slot, MemberKind::kTimestamp)) {
    write_millis(true, static_cast<unsigned __int128>(n) + 1);
  } else if (n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    append_integer(out_, -1 - static_cast<int64_t>(n));
  } else {
    // Below int64: as a JSON number in exponent form, which the coercion clamps like any other.
    out_ += fmt::format("{}", -(static_cast<double>(n) + 1.0));
  }
  end_item();
}

void CborToJson::on_float(double v) {
  Slot slot;
  if (!begin_item(slot)) return;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  if (!std::isfinite(v)) return fail("a float that is not finite");  // JSON has no such number
  open(slot);
  // The shortest text that reads back as `v`; at a timestamp member that is epoch seconds.
  out_ += fmt::format("{}", v);
  end_item();
}

void CborToJson::on_bool(bool v) {
  Slot slot;
  if (!begin_item(slot)) return;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  out_ += v ? "true" : "false";
  end_item();
}

void CborToJson::on_null() {
  Slot slot;
  if (!begin_item(slot)) return;
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  out_ += "null";
  end_item();
}

void CborToJson::text_item(const Slot& slot, std::string_view s) {
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  append_json_string(out_, s);
  if (slot.role == Slot::Role::kKey) {
    out_.push_back(':');
    Frame& f = stack_.back();
    f.value_member = find_member(f.members, s);
  }
  end_item();
}

void CborToJson::bytes_item(const Slot& slot, std::string_view s) {
  if (slot.role == Slot::Role::kKey) return fail("a map key that is not a text string");
  if (slot.role == Slot::Role::kTop) return fail("the top-level item is not a map");
  open(slot);
  if (is(slot, MemberKind::kBlob)) {
    out_.push_back('"');
    append_base64(out_, as_bytes(s));
    out_.push_back('"');
  } else {
    append_json_string(out_, s);
  }
  end_item();
}

void CborToJson::on_text(std::string_view s) {
  if (in_chunks()) {
    if (stack_.back().kind != Frame::Kind::kTextChunks) {
      return fail("a text chunk in an indefinite-length byte string");
    }
    chunks_.append(s);
    return;
  }
  Slot slot;
  if (begin_item(slot)) text_item(slot, s);
}

void CborToJson::on_bytes(std::string_view s) {
  if (in_chunks()) {
    if (stack_.back().kind != Frame::Kind::kByteChunks) {
      return fail("a byte chunk in an indefinite-length text string");
    }
    chunks_.append(s);
    return;
  }
  Slot slot;
  if (begin_item(slot)) bytes_item(slot, s);
}

void CborToJson::on_text_start() {
  Slot slot;
  if (!begin_item(slot)) return;  // also refuses one inside another
  Frame f;
  f.kind = Frame::Kind::kTextChunks;
  f.indefinite = true;
  f.slot = slot;
  stack_.push_back(f);
  chunks_.clear();
}

void CborToJson::on_bytes_start() {
  Slot slot;
  if (!begin_item(slot)) return;
  Frame f;
  f.kind = Frame::Kind::kByteChunks;
  f.indefinite = true;
  f.slot = slot;
  stack_.push_back(f);
  chunks_.clear();
}

void CborToJson::on_array_start(uint64_t count) {
  start_container(Frame::Kind::kArray, false, count);
}
void CborToJson::on_map_start(uint64_t count) { start_container(Frame::Kind::kMap, false, count); }
void CborToJson::on_indefinite_array_start() { start_container(Frame::Kind::kArray, true, 0); }
void CborToJson::on_indefinite_map_start() { start_container(Frame::Kind::kMap, true, 0); }

void CborToJson::on_tag() {
  // Tags do not change how a member converts (an integer timestamp is milliseconds whether
  // tag 1 wraps it or not); the tagged item must still follow.
  if (in_chunks()) return fail("a tag inside an indefinite-length string");
  if (stack_.empty() && top_done_) return fail("a second top-level item");
  tagged_ = true;
}

void CborToJson::on_break() {
  if (!error_.empty()) return;
  if (stack_.empty() || !stack_.back().indefinite)
    return fail("a break outside any indefinite item");
  if (tagged_) return fail("a tag without an item");
  const Frame f = stack_.back();
  stack_.pop_back();
  switch (f.kind) {
    case Frame::Kind::kTextChunks:
      text_item(f.slot, chunks_);
      return;
    case Frame::Kind::kByteChunks:
      bytes_item(f.slot, chunks_);
      return;
    case Frame::Kind::kMap:
      if (!f.at_key) return fail("a map that ends between a key and its value");
      out_.push_back('}');
      break;
    case Frame::Kind::kArray:
      out_.push_back(']');
      break;
  }
  --depth_;
  end_item();
}

void CborToJson::write_millis(bool negative, unsigned __int128 magnitude) {
  if (negative) out_.push_back('-');
  append_integer(out_, static_cast<uint64_t>(magnitude / 1000));  // < 2^64 / 1000 + 1
  const auto frac = static_cast<unsigned>(magnitude % 1000);
  out_.push_back('.');
  out_.push_back(static_cast<char>('0' + frac / 100));
  out_.push_back(static_cast<char>('0' + frac / 10 % 10));
  out_.push_back(static_cast<char>('0' + frac % 10));
}

CborToJson* self(void* context) { return static_cast<CborToJson*>(context); }
std::string_view text_of(cbor_data data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

cbor_callbacks make_callbacks() {
  cbor_callbacks c = cbor_empty_callbacks;
  c.uint8 = [](void* ctx, uint8_t v) { self(ctx)->on_uint(v); };
  c.uint16 = [](void* ctx, uint16_t v) { self(ctx)->on_uint(v); };
  c.uint32 = [](void* ctx, uint32_t v) { self(ctx)->on_uint(v); };
  c.uint64 = [](void* ctx, uint64_t v) { self(ctx)->on_uint(v); };
  c.negint8 = [](void* ctx, uint8_t v) { self(ctx)->on_negint(v); };
  c.negint16 = [](void* ctx, uint16_t v) { self(ctx)->on_negint(v); };
  c.negint32 = [](void* ctx, uint32_t v) { self(ctx)->on_negint(v); };
  c.negint64 = [](void* ctx, uint64_t v) { self(ctx)->on_negint(v); };
  c.float2 = [](void* ctx, float v) { self(ctx)->on_float(v); };
  c.float4 = [](void* ctx, float v) { self(ctx)->on_float(v); };
  c.float8 = [](void* ctx, double v) { self(ctx)->on_float(v); };
  c.boolean = [](void* ctx, bool v) { self(ctx)->on_bool(v); };
  c.null = [](void* ctx) { self(ctx)->on_null(); };
  c.undefined = [](void* ctx) { self(ctx)->on_null(); };
  c.string = [](void* ctx, cbor_data d, size_t n) { self(ctx)->on_text(text_of(d, n)); };
  c.byte_string = [](void* ctx, cbor_data d, size_t n) { self(ctx)->on_bytes(text_of(d, n)); };
  c.string_start = [](void* ctx) { self(ctx)->on_text_start(); };
  c.byte_string_start = [](void* ctx) { self(ctx)->on_bytes_start(); };
  c.array_start = [](void* ctx, size_t n) { self(ctx)->on_array_start(n); };
  c.map_start = [](void* ctx, size_t n) { self(ctx)->on_map_start(n); };
  c.indef_array_start = [](void* ctx) { self(ctx)->on_indefinite_array_start(); };
  c.indef_map_start = [](void* ctx) { self(ctx)->on_indefinite_map_start(); };
  c.tag = [](void* ctx, uint64_t) { self(ctx)->on_tag(); };
  c.indef_break = [](void* ctx) { self(ctx)->on_break(); };
  return c;
}

const cbor_callbacks kCallbacks = make_callbacks();

Result<std::string> CborToJson::run() {
  // Base64 makes blobs a third longer; most other items grow by a byte or two.
  out_.reserve(body_.size() + body_.size() / 3 + 16);
  const auto* data = reinterpret_cast<cbor_data>(body_.data());
  size_t pos = 0;
  while (!top_done_) {
    if (pos == body_.size()) {
      return Status::invalid_argument(fmt::format("CBOR body ends inside an item at {}", pos));
    }
    input_left_ = body_.size() - pos;
    const cbor_decoder_result r = cbor_stream_decode(data + pos, input_left_, &kCallbacks, this);
    if (r.status != CBOR_DECODER_FINISHED) {
      return Status::invalid_argument(
          fmt::format("CBOR body {} at {}",
                      r.status == CBOR_DECODER_NEDATA ? "is truncated" : "is malformed", pos));
    }
    if (!error_.empty()) {
      return Status::invalid_argument(fmt::format("CBOR body has {} at {}", error_, pos));
    }
    pos += r.read;
  }
  if (pos != body_.size()) {
    return Status::invalid_argument(fmt::format("CBOR body has trailing bytes at {}", pos));
  }
  return std::move(out_);
}

// ---- JSON -> CBOR ----

class JsonToCbor {
 public:
  std::string take() { return std::move(out_); }

  void value(simdjson::dom::element e, const Member* member);
  void object(simdjson::dom::object o, Members members);

 private:
  // Appends one item head written by a libcbor encoder (9 bytes at most).
  template <typename Encode>
  void head(Encode encode) {
    unsigned char buf[9];
    const size_t n = encode(buf, sizeof buf);
    SLUICE_CHECK(n > 0, "CBOR head did not fit");
    out_.append(reinterpret_cast<const char*>(buf), n);
  }
  void integer(int64_t v) {
    if (v >= 0) {
      head([&](unsigned char* b, size_t n) { return cbor_encode_uint(uint64_t(v), b, n); });
    } else {
      const auto magnitude = static_cast<uint64_t>(-(v + 1));
      head([&](unsigned char* b, size_t n) { return cbor_encode_negint(magnitude, b, n); });
    }
  }
  void text(std::string_view s) {
    head([&](unsigned char* b, size_t n) { return cbor_encode_string_start(s.size(), b, n); });
    out_.append(s);
  }

  std::string out_;
  std::string scratch_;
};

void JsonToCbor::object(simdjson::dom::object o, Members members) {
  head([&](unsigned char* b, size_t n) { return cbor_encode_map_start(o.size(), b, n); });
  for (auto field : o) {
    text(field.key);
    value(field.value, find_member(members, field.key));
  }
}

void JsonToCbor::value(simdjson::dom::element e, const Member* member) {
  using simdjson::dom::element_type;
  const bool timestamp = member != nullptr && member->kind == MemberKind::kTimestamp;
  switch (e.type()) {
    case element_type::OBJECT:
      object(simdjson::dom::object(e), nested(member, MemberKind::kStructure));
      return;
    case element_type::ARRAY: {
      const auto a = simdjson::dom::array(e);
      const Members element_members = nested(member, MemberKind::kStructureList);
      head([&](unsigned char* b, size_t n) { return cbor_encode_array_start(a.size(), b, n); });
      for (auto elem : a) {
        if (elem.type() == element_type::OBJECT) {
          object(simdjson::dom::object(elem), element_members);
        } else {
          value(elem, nullptr);
        }
      }
      return;
    }
    case element_type::STRING: {
      const std::string_view s(e);
      if (member != nullptr && member->kind == MemberKind::kBlob && !base64_decode(s, scratch_)) {
        head([&](unsigned char* b, size_t n) {
          return cbor_encode_bytestring_start(scratch_.size(), b, n);
        });
        out_.append(scratch_);
      } else {
        text(s);
      }
      return;
    }
    case element_type::INT64:
      if (timestamp) {
        head([](unsigned char* b, size_t n) { return cbor_encode_tag(1, b, n); });
        const int64_t s = int64_t(e);
        constexpr int64_t kLimit = std::numeric_limits<int64_t>::max() / 1000;
        integer(s > kLimit    ? std::numeric_limits<int64_t>::max()
                : s < -kLimit ? std::numeric_limits<int64_t>::min()
                              : s * 1000);
      } else {
        integer(int64_t(e));
      }
      return;
    case element_type::UINT64:
      if (timestamp) {
        // Seconds beyond int64 are no real time; saturate rather than wrap.
        head([](unsigned char* b, size_t n) { return cbor_encode_tag(1, b, n); });
        integer(std::numeric_limits<int64_t>::max());
      } else {
        head([&](unsigned char* b, size_t n) { return cbor_encode_uint(uint64_t(e), b, n); });
      }
      return;
    case element_type::DOUBLE: {
      const double d = double(e);
      if (timestamp) {
        // Never a float timestamp on the wire (spec 3.2): whole milliseconds.
        head([](unsigned char* b, size_t n) { return cbor_encode_tag(1, b, n); });
        const double ms = std::round(d * 1000.0);
        constexpr double kLimit = 9.2e18;  // inside int64
        integer(static_cast<int64_t>(ms > kLimit ? kLimit : ms < -kLimit ? -kLimit : ms));
      } else {
        head([&](unsigned char* b, size_t n) { return cbor_encode_double(d, b, n); });
      }
      return;
    }
    case element_type::BOOL:
      head([&](unsigned char* b, size_t n) { return cbor_encode_bool(bool(e), b, n); });
      return;
    case element_type::NULL_VALUE:
      head([](unsigned char* b, size_t n) { return cbor_encode_null(b, n); });
      return;
  }
}

}  // namespace

Result<std::string> cbor_to_json(std::string_view body, std::string_view operation,
                                 const CborLimits& limits) {
  const OperationShapes* shapes = shapes_of(operation);
  CborToJson transcoder(body, shapes != nullptr ? shapes->input : Members{}, limits);
  return transcoder.run();
}

Result<std::string> json_to_cbor(std::string_view json, std::string_view operation) {
  if (json.empty()) return std::string();
  thread_local simdjson::dom::parser parser;
  simdjson::dom::element doc;
  if (parser.parse(json.data(), json.size()).get(doc) != simdjson::SUCCESS) {
    return Status::invalid_argument("response is not JSON");
  }
  const OperationShapes* shapes = shapes_of(operation);
  const Members top = shapes != nullptr ? shapes->output : Members{};
  JsonToCbor encoder;
  if (doc.type() == simdjson::dom::element_type::OBJECT) {
    encoder.object(simdjson::dom::object(doc), top);
  } else {
    encoder.value(doc, nullptr);
  }
  return encoder.take();
}

}  // namespace sluice::kinesis
