#include "esm/filter.h"

#include <algorithm>
#include <arpa/inet.h>
#include <array>
#include <charconv>
#include <cmath>
#include <cstring>
#include <optional>
#include <simdjson.h>
#include <utility>
#include <vector>

namespace sluice::esm {

namespace {

namespace od = simdjson::ondemand;

constexpr std::string_view kInvalidPattern = "Invalid filter pattern definition.";

// ---------------------------------------------------------------------------------------------
// A JSON document flattened into a vector, in document order. A container's children follow
// it and end at `next`; that gives random access (patterns look keys up in any order, $or
// looks at one object several times) after one pass of simdjson's On-Demand parser, which
// also validates the whole text before anything is matched.

enum class Kind : uint8_t { kObject, kArray, kString, kNumber, kTrue, kFalse, kNull, kPoison };

struct Item {
  Kind kind = Kind::kNull;
  std::string_view key;   // the unescaped member name, when the parent is an object
  std::string_view text;  // kString: unescaped text; kNumber: the JSON token as written
  double number = 0;      // kNumber
  uint32_t next = 0;      // index just past this item and its descendants
};

using Tape = std::vector<Item>;

std::string_view trim_right(std::string_view s) {
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

// Appends values read by the On-Demand parser. Views point into the parser's string buffer
// and into the padded input, so the tape is valid until that parser reads again.
class TapeBuilder {
 public:
  explicit TapeBuilder(Tape& tape) : tape_(tape) {}

  // Appends the whole document as one item named `key`. False (and the tape in an unspecified
  // state past its former size) when the text is not one complete JSON value.
  bool add_document(od::document& doc, std::string_view key) {
    od::json_type type;
    if (doc.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (doc.get_object().get(obj) != simdjson::SUCCESS) return false;
        if (!add_object(obj, key, 1)) return false;
        break;
      }
      case od::json_type::array: {
        od::array arr;
        if (doc.get_array().get(arr) != simdjson::SUCCESS) return false;
        if (!add_array(arr, key, 1)) return false;
        break;
      }
      case od::json_type::number: {
        std::string_view token;
        if (doc.raw_json_token().get(token) != simdjson::SUCCESS) return false;
        return add_number(doc.get_double(), token, key);
      }
      case od::json_type::string:
        return add_string(doc.get_string(), key);
      case od::json_type::boolean:
        return add_bool(doc.get_bool(), key);
      case od::json_type::null:
        return add_null(doc.is_null(), key);
    }
    // A container must be the last thing in the text: "{}{}" and "[] x" are not JSON.
    const char* at = nullptr;
    return doc.current_location().get(at) == simdjson::OUT_OF_BOUNDS;
  }

 private:
  bool add_value(od::value value, std::string_view key, int depth) {
    od::json_type type;
    if (value.type().get(type) != simdjson::SUCCESS) return false;
    switch (type) {
      case od::json_type::object: {
        od::object obj;
        if (value.get_object().get(obj) != simdjson::SUCCESS) return false;
        return add_object(obj, key, depth + 1);
      }
      case od::json_type::array: {
        od::array arr;
        if (value.get_array().get(arr) != simdjson::SUCCESS) return false;
        return add_array(arr, key, depth + 1);
      }
      case od::json_type::number: {
        const std::string_view token = value.raw_json_token();  // before get_double() moves on
        return add_number(value.get_double(), token, key);
      }
      case od::json_type::string:
        return add_string(value.get_string(), key);
      case od::json_type::boolean:
        return add_bool(value.get_bool(), key);
      case od::json_type::null:
        return add_null(value.is_null(), key);
    }
    return false;
  }

  bool add_object(od::object& obj, std::string_view key, int depth) {
    if (depth > FilterSet::kMaxDepth) return false;
    const size_t at = tape_.size();
    tape_.push_back(Item{Kind::kObject, key, {}, 0, 0});
    for (auto member : obj) {
      od::field field;
      if (std::move(member).get(field) != simdjson::SUCCESS) return false;
      std::string_view name;
      if (field.unescaped_key().get(name) != simdjson::SUCCESS) return false;
      if (!add_value(field.value(), name, depth)) return false;
    }
    tape_[at].next = static_cast<uint32_t>(tape_.size());
    return true;
  }

  bool add_array(od::array& arr, std::string_view key, int depth) {
    if (depth > FilterSet::kMaxDepth) return false;
    const size_t at = tape_.size();
    tape_.push_back(Item{Kind::kArray, key, {}, 0, 0});
    for (auto element : arr) {
      od::value value;
      if (std::move(element).get(value) != simdjson::SUCCESS) return false;
      if (!add_value(value, {}, depth)) return false;
    }
    tape_[at].next = static_cast<uint32_t>(tape_.size());
    return true;
  }

  bool add_number(simdjson::simdjson_result<double> parsed, std::string_view token,
                  std::string_view key) {
    double d = 0;
    if (std::move(parsed).get(d) != simdjson::SUCCESS) return false;
    push(Item{Kind::kNumber, key, trim_right(token), d, 0});
    return true;
  }
  bool add_string(simdjson::simdjson_result<std::string_view> parsed, std::string_view key) {
    std::string_view s;
    if (std::move(parsed).get(s) != simdjson::SUCCESS) return false;
    push(Item{Kind::kString, key, s, 0, 0});
    return true;
  }
  bool add_bool(simdjson::simdjson_result<bool> parsed, std::string_view key) {
    bool b = false;
    if (std::move(parsed).get(b) != simdjson::SUCCESS) return false;
    push(Item{b ? Kind::kTrue : Kind::kFalse, key, {}, 0, 0});
    return true;
  }
  bool add_null(simdjson::simdjson_result<bool> parsed, std::string_view key) {
    bool is_null = false;
    if (std::move(parsed).get(is_null) != simdjson::SUCCESS || !is_null) return false;
    push(Item{Kind::kNull, key, {}, 0, 0});
    return true;
  }
  void push(Item item) {
    item.next = static_cast<uint32_t>(tape_.size() + 1);
    tape_.push_back(item);
  }

  Tape& tape_;
};

// Copies `text` into `buffer` with simdjson's padding and parses it into `tape` (appending
// one item named `key`). False when `text` is not exactly one JSON value.
bool parse_into(od::parser& parser, std::string& buffer, std::string_view text,
                std::string_view key, Tape& tape) {
  buffer.assign(text);
  buffer.append(simdjson::SIMDJSON_PADDING, '\0');
  od::document doc;
  if (parser.iterate(buffer.data(), text.size(), buffer.size()).get(doc) != simdjson::SUCCESS) {
    return false;
  }
  return TapeBuilder(tape).add_document(doc, key);
}

// ---------------------------------------------------------------------------------------------
// Compiled patterns.

char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

bool equals_ignore_case(std::string_view a, std::string_view lowered_b) {
  if (a.size() != lowered_b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != lowered_b[i]) return false;
  }
  return true;
}

// A literal rule or an anything-but value: the kind of JSON scalar and its text.
struct Literal {
  Kind kind;         // kString, kNumber, kTrue, kFalse or kNull
  std::string text;  // kString: unescaped; kNumber: the token as written
};

bool literal_equals(const Literal& l, const Item& v) {
  if (l.kind != v.kind) return false;
  return (l.kind != Kind::kString && l.kind != Kind::kNumber) || l.text == v.text;
}

// `*` matches any run of bytes; `\*` and `\\` stand for themselves.
struct Wildcard {
  std::vector<int> tokens;  // a byte, or kStar
  static constexpr int kStar = -1;

  bool matches(std::string_view s) const {
    size_t t = 0, i = 0;
    std::optional<std::pair<size_t, size_t>> backtrack;  // (token after the star, input pos)
    while (i < s.size()) {
      if (t < tokens.size() && tokens[t] == kStar) {
        backtrack = std::pair{++t, i};
      } else if (t < tokens.size() && tokens[t] == static_cast<unsigned char>(s[i])) {
        ++t;
        ++i;
      } else if (backtrack) {
        t = backtrack->first;
        i = ++backtrack->second;
      } else {
        return false;
      }
    }
    while (t < tokens.size() && tokens[t] == kStar) ++t;
    return t == tokens.size();
  }
};

std::optional<Wildcard> compile_wildcard(std::string_view p) {
  Wildcard w;
  for (size_t i = 0; i < p.size(); ++i) {
    if (p[i] == '\\') {
      if (i + 1 == p.size() || (p[i + 1] != '*' && p[i + 1] != '\\')) return std::nullopt;
      w.tokens.push_back(static_cast<unsigned char>(p[++i]));
    } else if (p[i] == '*') {
      if (!w.tokens.empty() && w.tokens.back() == Wildcard::kStar) return std::nullopt;  // "**"
      w.tokens.push_back(Wildcard::kStar);
    } else {
      w.tokens.push_back(static_cast<unsigned char>(p[i]));
    }
  }
  return w;
}

// An IPv4 or IPv6 network.
struct Cidr {
  int family = AF_INET;
  std::array<unsigned char, 16> address{};
  int prefix_bits = 0;

  bool contains(std::string_view ip) const {
    std::array<unsigned char, 16> other{};
    if (!parse_address(ip, family, other)) return false;
    int bits = prefix_bits;
    for (size_t i = 0; bits > 0; ++i, bits -= 8) {
      const unsigned mask = bits >= 8 ? 0xffu : (0xffu << (8 - bits)) & 0xffu;
      if ((address[i] & mask) != (other[i] & mask)) return false;
    }
    return true;
  }

  static bool parse_address(std::string_view ip, int family, std::array<unsigned char, 16>& out) {
    std::array<char, 64> z{};  // inet_pton wants a terminated string
    if (ip.size() >= z.size()) return false;
    std::memcpy(z.data(), ip.data(), ip.size());
    return inet_pton(family, z.data(), out.data()) == 1;
  }
};

std::optional<Cidr> compile_cidr(std::string_view s) {
  const size_t slash = s.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  Cidr c;
  c.family = s.substr(0, slash).find(':') == std::string_view::npos ? AF_INET : AF_INET6;
  if (!Cidr::parse_address(s.substr(0, slash), c.family, c.address)) return std::nullopt;
  const std::string_view bits = s.substr(slash + 1);
  const auto [end, ec] = std::from_chars(bits.data(), bits.data() + bits.size(), c.prefix_bits);
  const int max_bits = c.family == AF_INET ? 32 : 128;
  if (bits.empty() || ec != std::errc() || end != bits.data() + bits.size() || c.prefix_bits < 0 ||
      c.prefix_bits > max_bits) {
    return std::nullopt;
  }
  return c;
}

struct Rule {
  enum class Op {
    kLiteral,                // literals[0]
    kPrefix,                 // text
    kSuffix,                 // text
    kEqualsIgnoreCase,       // text, lowered
    kWildcard,               // wildcard
    kCidr,                   // cidr
    kAnythingBut,            // literals
    kAnythingButPrefix,      // text
    kAnythingButSuffix,      // text
    kAnythingButIgnoreCase,  // texts, lowered
    kNumeric,                // lower / upper
    kExists,                 // exists
  };
  Op op = Op::kLiteral;
  std::vector<Literal> literals;
  std::string text;
  std::vector<std::string> texts;
  Wildcard wildcard;
  Cidr cidr;
  std::optional<std::pair<double, bool>> lower;  // (bound, inclusive)
  std::optional<std::pair<double, bool>> upper;
  bool exists = false;

  // Whether the scalar `v` satisfies this rule; kExists is decided by the caller.
  bool matches(const Item& v) const {
    const bool is_string = v.kind == Kind::kString;
    const std::string_view s = v.text;
    switch (op) {  // no default: -Wswitch points here when an Op is added
      case Op::kLiteral:
        return literal_equals(literals[0], v);
      case Op::kPrefix:
        return is_string && s.starts_with(text);
      case Op::kSuffix:
        return is_string && s.ends_with(text);
      case Op::kEqualsIgnoreCase:
        return is_string && equals_ignore_case(s, text);
      case Op::kWildcard:
        return is_string && wildcard.matches(s);
      case Op::kCidr:
        return is_string && cidr.contains(s);
      case Op::kAnythingBut:
        return std::none_of(literals.begin(), literals.end(),
                            [&](const Literal& l) { return literal_equals(l, v); });
      case Op::kAnythingButPrefix:
        return is_string && !s.starts_with(text);
      case Op::kAnythingButSuffix:
        return is_string && !s.ends_with(text);
      case Op::kAnythingButIgnoreCase:
        return is_string && std::none_of(texts.begin(), texts.end(), [&](const std::string& t) {
                 return equals_ignore_case(s, t);
               });
      case Op::kNumeric:
        if (v.kind != Kind::kNumber) return false;
        if (lower && (lower->second ? v.number < lower->first : v.number <= lower->first)) {
          return false;
        }
        if (upper && (upper->second ? v.number > upper->first : v.number >= upper->first)) {
          return false;
        }
        return true;
      case Op::kExists:
        return false;
    }
    return false;
  }
};

struct Node;

struct Field {
  std::string key;
  std::vector<Rule> rules;      // a leaf, when child is null
  std::unique_ptr<Node> child;  // a nested pattern object
};

struct Node {
  std::vector<Field> fields;
  std::vector<Node> any_of;  // $or: empty, or at least two alternatives
};

// ---------------------------------------------------------------------------------------------
// Compiling a pattern from its tape. Every function returns false for an invalid pattern.

bool is_scalar(Kind k) { return k != Kind::kObject && k != Kind::kArray && k != Kind::kPoison; }

Literal literal_of(const Item& v) { return Literal{v.kind, std::string(v.text)}; }

// The children of container `at`, as tape indexes.
template <typename F>
void for_each_child(const Tape& t, size_t at, F&& f) {
  for (size_t i = at + 1; i < t[at].next; i = t[i].next) f(i);
}

size_t child_count(const Tape& t, size_t at) {
  size_t n = 0;
  for_each_child(t, at, [&](size_t) { ++n; });
  return n;
}

bool compile_numeric(const Tape& t, size_t at, Rule& r) {
  if (t[at].kind != Kind::kArray) return false;
  std::vector<size_t> parts;
  for_each_child(t, at, [&](size_t i) { parts.push_back(i); });
  if (parts.size() != 2 && parts.size() != 4) return false;
  for (size_t p = 0; p < parts.size(); p += 2) {
    const Item& op = t[parts[p]];
    const Item& bound = t[parts[p + 1]];
    if (op.kind != Kind::kString || bound.kind != Kind::kNumber) return false;
    if (!std::isfinite(bound.number)) return false;
    const std::pair<double, bool> b{bound.number, op.text == "=" || op.text.size() == 2};
    if (op.text == "=") {
      if (parts.size() != 2) return false;  // "=" stands alone
      r.lower = r.upper = b;
    } else if (op.text == ">" || op.text == ">=") {
      if (r.lower) return false;
      r.lower = b;
    } else if (op.text == "<" || op.text == "<=") {
      if (r.upper) return false;
      r.upper = b;
    } else {
      return false;
    }
  }
  if (r.lower && r.upper) {
    // An empty range is a mistake in the pattern, not a filter that drops everything.
    if (r.lower->first > r.upper->first) return false;
    if (r.lower->first == r.upper->first && !(r.lower->second && r.upper->second)) return false;
  }
  return true;
}

bool compile_anything_but(const Tape& t, size_t at, Rule& r) {
  const Item& v = t[at];
  if (v.kind == Kind::kString || v.kind == Kind::kNumber) {
    r.op = Rule::Op::kAnythingBut;
    r.literals.push_back(literal_of(v));
    return true;
  }
  if (v.kind == Kind::kArray) {
    r.op = Rule::Op::kAnythingBut;
    bool ok = true;
    for_each_child(t, at, [&](size_t i) {
      if (t[i].kind != Kind::kString && t[i].kind != Kind::kNumber) ok = false;
      r.literals.push_back(literal_of(t[i]));
    });
    return ok && !r.literals.empty();
  }
  if (v.kind != Kind::kObject || child_count(t, at) != 1) return false;
  const Item& inner = t[at + 1];
  if (inner.key == "prefix" || inner.key == "suffix") {
    if (inner.kind != Kind::kString || inner.text.empty()) return false;
    r.op = inner.key == "prefix" ? Rule::Op::kAnythingButPrefix : Rule::Op::kAnythingButSuffix;
    r.text = std::string(inner.text);
    return true;
  }
  if (inner.key == "equals-ignore-case") {
    r.op = Rule::Op::kAnythingButIgnoreCase;
    if (inner.kind == Kind::kString) {
      r.texts.push_back(lowered(inner.text));
      return true;
    }
    if (inner.kind != Kind::kArray) return false;
    bool ok = true;
    for_each_child(t, at + 1, [&](size_t i) {
      if (t[i].kind != Kind::kString) ok = false;
      r.texts.push_back(lowered(t[i].text));
    });
    return ok && !r.texts.empty();
  }
  return false;
}

// One element of a leaf array: a literal, or an object with exactly one operator.
bool compile_rule(const Tape& t, size_t at, Rule& r) {
  const Item& v = t[at];
  if (is_scalar(v.kind)) {
    r.op = Rule::Op::kLiteral;
    r.literals.push_back(literal_of(v));
    return true;
  }
  if (v.kind != Kind::kObject || child_count(t, at) != 1) return false;
  const size_t arg_at = at + 1;
  const Item& arg = t[arg_at];
  const std::string_view op = arg.key;
  if (op == "prefix" || op == "suffix" || op == "equals-ignore-case") {
    if (arg.kind != Kind::kString) return false;
    r.op = op == "prefix"   ? Rule::Op::kPrefix
           : op == "suffix" ? Rule::Op::kSuffix
                            : Rule::Op::kEqualsIgnoreCase;
    r.text = op == "equals-ignore-case" ? lowered(arg.text) : std::string(arg.text);
    return true;
  }
  if (op == "wildcard") {
    if (arg.kind != Kind::kString) return false;
    auto w = compile_wildcard(arg.text);
    if (!w) return false;
    r.op = Rule::Op::kWildcard;
    r.wildcard = std::move(*w);
    return true;
  }
  if (op == "cidr") {
    if (arg.kind != Kind::kString) return false;
    auto c = compile_cidr(arg.text);
    if (!c) return false;
    r.op = Rule::Op::kCidr;
    r.cidr = *c;
    return true;
  }
  if (op == "exists") {
    if (arg.kind != Kind::kTrue && arg.kind != Kind::kFalse) return false;
    r.op = Rule::Op::kExists;
    r.exists = arg.kind == Kind::kTrue;
    return true;
  }
  if (op == "numeric") {
    r.op = Rule::Op::kNumeric;
    return compile_numeric(t, arg_at, r);
  }
  if (op == "anything-but") return compile_anything_but(t, arg_at, r);
  return false;
}

bool compile_object(const Tape& t, size_t at, Node& node, int depth);

// "$or": [ {..}, {..}, ... ] when every element is an object; otherwise an ordinary key.
bool is_or(const Tape& t, size_t at) {
  if (t[at].key != "$or" || t[at].kind != Kind::kArray || child_count(t, at) == 0) return false;
  bool objects = true;
  for_each_child(t, at, [&](size_t i) { objects = objects && t[i].kind == Kind::kObject; });
  return objects;
}

bool compile_object(const Tape& t, size_t at, Node& node, int depth) {
  if (t[at].kind != Kind::kObject || depth > FilterSet::kMaxDepth) return false;
  if (child_count(t, at) == 0) return false;  // {} says nothing; EventBridge refuses it too
  bool ok = true;
  for_each_child(t, at, [&](size_t i) {
    if (!ok) return;
    const Item& member = t[i];
    if (is_or(t, i)) {
      node.any_of.clear();
      for_each_child(t, i, [&](size_t j) {
        Node alternative;
        ok = ok && compile_object(t, j, alternative, depth + 1);
        node.any_of.push_back(std::move(alternative));
      });
      ok = ok && node.any_of.size() >= 2;
      return;
    }
    Field field;
    field.key = std::string(member.key);
    if (member.kind == Kind::kArray) {
      for_each_child(t, i, [&](size_t j) {
        Rule rule;
        ok = ok && compile_rule(t, j, rule);
        field.rules.push_back(std::move(rule));
      });
    } else if (member.kind == Kind::kObject) {
      field.child = std::make_unique<Node>();
      ok = compile_object(t, i, *field.child, depth + 1);
    } else {
      ok = false;  // a leaf must be an array of rules
    }
    // The last occurrence of a repeated key wins (spec 11.1).
    auto same = std::find_if(node.fields.begin(), node.fields.end(),
                             [&](const Field& f) { return f.key == field.key; });
    if (same != node.fields.end()) {
      *same = std::move(field);
    } else {
      node.fields.push_back(std::move(field));
    }
  });
  return ok;
}

bool names_data(const Node& n) {
  return std::any_of(n.fields.begin(), n.fields.end(),
                     [](const Field& f) { return f.key == "data"; }) ||
         std::any_of(n.any_of.begin(), n.any_of.end(), names_data);
}

// ---------------------------------------------------------------------------------------------
// Matching. `at` is the tape index of an object, or kAbsent for "nothing there".

constexpr size_t kAbsent = SIZE_MAX;

// Calls f(scalar index) for each scalar under `at` (arrays flattened, objects skipped) until
// f returns true; returns whether it did.
template <typename F>
bool any_scalar(const Tape& t, size_t at, F&& f) {
  if (t[at].kind == Kind::kArray) {
    for (size_t i = at + 1; i < t[at].next; i = t[i].next) {
      if (any_scalar(t, i, f)) return true;
    }
    return false;
  }
  return is_scalar(t[at].kind) && f(t[at]);
}

// The same for each object under `at` (the object itself, or inside arrays).
template <typename F>
bool any_object(const Tape& t, size_t at, F&& f) {
  if (t[at].kind == Kind::kArray) {
    for (size_t i = at + 1; i < t[at].next; i = t[i].next) {
      if (any_object(t, i, f)) return true;
    }
    return false;
  }
  return t[at].kind == Kind::kObject && f(at);
}

bool match_node(const Node& n, const Tape& t, size_t at);

bool match_field(const Field& f, const Tape& t, size_t object_at) {
  bool has_scalar = false;
  bool has_object = false;
  if (object_at != kAbsent) {
    for (size_t i = object_at + 1; i < t[object_at].next; i = t[i].next) {
      if (t[i].key != f.key) continue;
      if (t[i].kind == Kind::kPoison) return false;  // `data` that is not JSON
      if (f.child) {
        const bool hit = any_object(t, i, [&](size_t o) {
          has_object = true;
          return match_node(*f.child, t, o);
        });
        if (hit) return true;
      } else {
        const bool hit = any_scalar(t, i, [&](const Item& v) {
          has_scalar = true;
          return std::any_of(f.rules.begin(), f.rules.end(),
                             [&](const Rule& r) { return r.matches(v); });
        });
        if (hit) return true;
      }
    }
  }
  // Nothing under the key matched; what is left is what absence satisfies.
  if (f.child) return !has_object && match_node(*f.child, t, kAbsent);
  return std::any_of(f.rules.begin(), f.rules.end(), [&](const Rule& r) {
    return r.op == Rule::Op::kExists && r.exists == has_scalar;
  });
}

bool match_node(const Node& n, const Tape& t, size_t at) {
  for (const Field& f : n.fields) {
    if (!match_field(f, t, at)) return false;
  }
  if (n.any_of.empty()) return true;
  return std::any_of(n.any_of.begin(), n.any_of.end(),
                     [&](const Node& alt) { return match_node(alt, t, at); });
}

// What one thread reuses from record to record.
struct Scratch {
  od::parser parser;
  std::string padded;
  Tape tape;
  std::array<char, 32> timestamp{};
};

Scratch& scratch() {
  thread_local Scratch s;
  return s;
}

// Seconds with three decimals, as in the event (spec 2.1): 1767225600.125.
std::string_view format_arrival(int64_t ms, std::array<char, 32>& out) {
  char* p = out.data();
  char* const end = out.data() + out.size();
  uint64_t abs = ms < 0 ? 0 - static_cast<uint64_t>(ms) : static_cast<uint64_t>(ms);
  if (ms < 0) *p++ = '-';
  p = std::to_chars(p, end, abs / 1000).ptr;
  const uint64_t frac = abs % 1000;
  *p++ = '.';
  *p++ = static_cast<char>('0' + frac / 100);
  *p++ = static_cast<char>('0' + frac / 10 % 10);
  *p++ = static_cast<char>('0' + frac % 10);
  return {out.data(), static_cast<size_t>(p - out.data())};
}

}  // namespace

struct FilterSet::Compiled {
  std::vector<Node> patterns;
  bool needs_data = false;
};

Result<FilterSet> FilterSet::compile(std::span<const std::string> patterns) {
  if (patterns.empty()) return FilterSet();
  auto compiled = std::make_shared<Compiled>();
  od::parser parser;
  std::string padded;
  Tape tape;
  for (const std::string& text : patterns) {
    if (text.size() > kMaxPatternChars) return Status::invalid_argument(kInvalidPattern);
    tape.clear();
    if (!parse_into(parser, padded, text, {}, tape)) {
      return Status::invalid_argument(kInvalidPattern);
    }
    Node node;
    if (!compile_object(tape, 0, node, 1)) return Status::invalid_argument(kInvalidPattern);
    compiled->needs_data = compiled->needs_data || names_data(node);
    compiled->patterns.push_back(std::move(node));
  }
  return FilterSet(std::move(compiled));
}

Status FilterSet::validate(std::string_view pattern) {
  const std::string one(pattern);
  return compile(std::span<const std::string>(&one, 1)).status();
}

bool FilterSet::matches(const FilterRecord& record) const {
  if (compiled_ == nullptr) return true;
  Scratch& s = scratch();
  Tape& t = s.tape;
  t.clear();
  // The root object (spec 11.2); its `next` is set once `data` is in.
  t.push_back(Item{Kind::kObject, {}, {}, 0, 0});
  auto add = [&t](Item item) {
    item.next = static_cast<uint32_t>(t.size() + 1);
    t.push_back(item);
  };
  add(Item{Kind::kString, "kinesisSchemaVersion", "1.0", 0, 0});
  add(Item{Kind::kString, "partitionKey", record.partition_key, 0, 0});
  add(Item{Kind::kString, "sequenceNumber", record.sequence_number, 0, 0});
  add(Item{Kind::kNumber, "approximateArrivalTimestamp",
           format_arrival(record.arrival_ms, s.timestamp),
           static_cast<double>(record.arrival_ms) / 1000.0, 0});
  if (compiled_->needs_data) {
    const size_t data_at = t.size();
    if (!parse_into(s.parser, s.padded, as_string_view(record.data), "data", t)) {
      t.resize(data_at);
      add(Item{Kind::kPoison, "data", {}, 0, 0});
    }
  }
  t[0].next = static_cast<uint32_t>(t.size());
  return std::any_of(compiled_->patterns.begin(), compiled_->patterns.end(),
                     [&](const Node& n) { return match_node(n, t, 0); });
}

}  // namespace sluice::esm
