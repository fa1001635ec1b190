#include "esm/filter.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace sluice::esm {
namespace {

constexpr std::string_view kPartitionKey = "customer-42";
constexpr std::string_view kSequence = "49651234567890123456789012345678901234567890123456";
constexpr int64_t kArrivalMs = 1767225600125;  // "approximateArrivalTimestamp":1767225600.125

FilterRecord record(std::string_view data, std::string_view partition_key = kPartitionKey) {
  FilterRecord r;
  r.partition_key = partition_key;
  r.sequence_number = kSequence;
  r.arrival_ms = kArrivalMs;
  r.data = as_bytes(data);
  return r;
}

FilterSet compiled(std::vector<std::string> patterns) {
  auto set = FilterSet::compile(patterns);
  if (!set.ok()) {
    ADD_FAILURE() << "pattern refused: " << patterns.front() << ": " << set.status().to_string();
    return FilterSet();
  }
  return *set;
}

// Whether a single `pattern` lets a record with `data` through.
bool passes(const std::string& pattern, std::string_view data) {
  return compiled({pattern}).matches(record(data));
}

bool valid(std::string_view pattern) { return FilterSet::validate(pattern).ok(); }

// ---- spec 11.3, row by row (case 52) --------------------------------------------------------

TEST(FilterTest, LiteralStringMatchesOnlyTheExactString) {
  const std::string p = R"({"data":{"status":["PAID"]}})";
  EXPECT_TRUE(passes(p, R"({"status":"PAID"})"));
  EXPECT_FALSE(passes(p, R"({"status":"paid"})"));
  EXPECT_FALSE(passes(p, R"({"status":"PAID "})"));
  EXPECT_FALSE(passes(p, R"({"other":"PAID"})"));
  EXPECT_FALSE(passes(p, R"({"status":{"PAID":1}})"));
}

TEST(FilterTest, LiteralNumberAndBooleanMatchByTextAndType) {
  EXPECT_TRUE(passes(R"({"data":{"qty":[3]}})", R"({"qty":3})"));
  EXPECT_FALSE(passes(R"({"data":{"qty":[3]}})", R"({"qty":"3"})"));
  EXPECT_FALSE(passes(R"({"data":{"qty":[3]}})", R"({"qty":4})"));
  EXPECT_TRUE(passes(R"({"data":{"ok":[true]}})", R"({"ok":true})"));
  EXPECT_FALSE(passes(R"({"data":{"ok":[true]}})", R"({"ok":false})"));
  EXPECT_FALSE(passes(R"({"data":{"ok":[true]}})", R"({"ok":"true"})"));
  EXPECT_FALSE(passes(R"({"data":{"ok":["true"]}})", R"({"ok":true})"));
}

TEST(FilterTest, LiteralNumbersCompareByTheirTextNotTheirValue) {
  EXPECT_TRUE(passes(R"({"data":{"n":[300]}})", R"({"n":300})"));
  EXPECT_FALSE(passes(R"({"data":{"n":[300]}})", R"({"n":300.0})"));
  EXPECT_FALSE(passes(R"({"data":{"n":[300]}})", R"({"n":3e2})"));
  EXPECT_TRUE(passes(R"({"data":{"n":[300.0]}})", R"({"n":300.0 })"));
  EXPECT_TRUE(passes(R"({"data":{"n":[{"numeric":["=",300]}]}})", R"({"n":3e2})"));
}

TEST(FilterTest, NullMatchesOnlyAPresentNull) {
  const std::string p = R"({"data":{"refund":[null]}})";
  EXPECT_TRUE(passes(p, R"({"refund":null})"));
  EXPECT_FALSE(passes(p, R"({})"));
  EXPECT_FALSE(passes(p, R"({"refund":"null"})"));
  EXPECT_FALSE(passes(p, R"({"refund":""})"));
}

TEST(FilterTest, EmptyStringMatchesOnlyTheEmptyString) {
  const std::string p = R"({"data":{"note":[""]}})";
  EXPECT_TRUE(passes(p, R"({"note":""})"));
  EXPECT_FALSE(passes(p, R"({"note":null})"));
  EXPECT_FALSE(passes(p, R"({})"));
  EXPECT_FALSE(passes(p, R"({"note":" "})"));
}

TEST(FilterTest, SeveralLiteralsMatchAnyOfThem) {
  const std::string p = R"({"data":{"kind":["sale","refund"]}})";
  EXPECT_TRUE(passes(p, R"({"kind":"sale"})"));
  EXPECT_TRUE(passes(p, R"({"kind":"refund"})"));
  EXPECT_FALSE(passes(p, R"({"kind":"void"})"));
}

TEST(FilterTest, PrefixAndSuffixMatchStringsOnly) {
  EXPECT_TRUE(passes(R"({"data":{"region":[{"prefix":"eu-"}]}})", R"({"region":"eu-west-1"})"));
  EXPECT_FALSE(passes(R"({"data":{"region":[{"prefix":"eu-"}]}})", R"({"region":"us-east-1"})"));
  EXPECT_FALSE(passes(R"({"data":{"region":[{"prefix":"EU-"}]}})", R"({"region":"eu-west-1"})"));
  EXPECT_TRUE(passes(R"({"data":{"file":[{"suffix":".png"}]}})", R"({"file":"a/b.png"})"));
  EXPECT_FALSE(passes(R"({"data":{"file":[{"suffix":".png"}]}})", R"({"file":"a.png.gz"})"));
  EXPECT_FALSE(passes(R"({"data":{"n":[{"prefix":"1"}]}})", R"({"n":12})"));
}

TEST(FilterTest, EqualsIgnoreCaseFoldsCase) {
  const std::string p = R"({"data":{"name":[{"equals-ignore-case":"bob"}]}})";
  EXPECT_TRUE(passes(p, R"({"name":"BoB"})"));
  EXPECT_TRUE(passes(p, R"({"name":"bob"})"));
  EXPECT_FALSE(passes(p, R"({"name":"bobby"})"));
  EXPECT_FALSE(passes(p, R"({"name":["x","BOB "]})"));
}

TEST(FilterTest, AnythingButListRequiresAPresentOtherValue) {
  const std::string p = R"({"data":{"state":[{"anything-but":["DONE","FAILED"]}]}})";
  EXPECT_TRUE(passes(p, R"({"state":"RUNNING"})"));
  EXPECT_FALSE(passes(p, R"({"state":"DONE"})"));
  EXPECT_FALSE(passes(p, R"({"state":"FAILED"})"));
  EXPECT_FALSE(passes(p, R"({})"));  // absent is not "anything"
}

TEST(FilterTest, AnythingButSingleValueAndNumbers) {
  EXPECT_TRUE(passes(R"({"data":{"state":[{"anything-but":"DONE"}]}})", R"({"state":"done"})"));
  EXPECT_FALSE(passes(R"({"data":{"state":[{"anything-but":"DONE"}]}})", R"({"state":"DONE"})"));
  EXPECT_FALSE(passes(R"({"data":{"n":[{"anything-but":[1,2]}]}})", R"({"n":2})"));
  EXPECT_TRUE(passes(R"({"data":{"n":[{"anything-but":[1,2]}]}})", R"({"n":3})"));
}

TEST(FilterTest, AnythingButPrefixSuffixAndIgnoreCase) {
  const std::string prefix = R"({"data":{"f":[{"anything-but":{"prefix":"tmp"}}]}})";
  EXPECT_TRUE(passes(prefix, R"({"f":"data.csv"})"));
  EXPECT_FALSE(passes(prefix, R"({"f":"tmp.csv"})"));
  EXPECT_FALSE(passes(prefix, R"({})"));
  const std::string suffix = R"({"data":{"f":[{"anything-but":{"suffix":".tmp"}}]}})";
  EXPECT_TRUE(passes(suffix, R"({"f":"a.csv"})"));
  EXPECT_FALSE(passes(suffix, R"({"f":"a.tmp"})"));
  const std::string nocase =
      R"({"data":{"f":[{"anything-but":{"equals-ignore-case":["ab","CD"]}}]}})";
  EXPECT_TRUE(passes(nocase, R"({"f":"abc"})"));
  EXPECT_FALSE(passes(nocase, R"({"f":"AB"})"));
  EXPECT_FALSE(passes(nocase, R"({"f":"cd"})"));
}

TEST(FilterTest, NumericRangeComparesValues) {
  const std::string p = R"({"data":{"amount":[{"numeric":[">",100,"<=",500]}]}})";
  EXPECT_FALSE(passes(p, R"({"amount":100})"));
  EXPECT_TRUE(passes(p, R"({"amount":100.5})"));
  EXPECT_TRUE(passes(p, R"({"amount":500})"));
  EXPECT_TRUE(passes(p, R"({"amount":5e2})"));
  EXPECT_FALSE(passes(p, R"({"amount":500.01})"));
  EXPECT_FALSE(passes(p, R"({"amount":"200"})"));
  const std::string eq = R"({"data":{"n":[{"numeric":["=",7]}]}})";
  EXPECT_TRUE(passes(eq, R"({"n":7.0})"));
  EXPECT_FALSE(passes(eq, R"({"n":7.5})"));
  const std::string open = R"({"data":{"n":[{"numeric":["<",0]}]}})";
  EXPECT_TRUE(passes(open, R"({"n":-1})"));
  EXPECT_FALSE(passes(open, R"({"n":0})"));
  const std::string inclusive = R"({"data":{"n":[{"numeric":[">=",1,"<",2]}]}})";
  EXPECT_TRUE(passes(inclusive, R"({"n":1})"));
  EXPECT_FALSE(passes(inclusive, R"({"n":2})"));
}

TEST(FilterTest, ExistsTrueAndFalse) {
  const std::string present = R"({"data":{"coupon":[{"exists":true}]}})";
  const std::string absent = R"({"data":{"coupon":[{"exists":false}]}})";
  EXPECT_TRUE(passes(present, R"({"coupon":"X1"})"));
  EXPECT_TRUE(passes(present, R"({"coupon":null})"));
  EXPECT_FALSE(passes(present, R"({"other":1})"));
  EXPECT_FALSE(passes(absent, R"({"coupon":"X1"})"));
  EXPECT_TRUE(passes(absent, R"({"other":1})"));
  // Only leaves count: an object or an empty array holds no value at this key.
  EXPECT_FALSE(passes(present, R"({"coupon":{"code":"X1"}})"));
  EXPECT_TRUE(passes(absent, R"({"coupon":{"code":"X1"}})"));
  EXPECT_TRUE(passes(absent, R"({"coupon":[]})"));
}

TEST(FilterTest, NestedObjectsRecurse) {
  const std::string p = R"({"data":{"order":{"type":["buy"],"meta":{"src":["web"]}}}})";
  EXPECT_TRUE(passes(p, R"({"order":{"type":"buy","meta":{"src":"web","x":1}}})"));
  EXPECT_FALSE(passes(p, R"({"order":{"type":"buy","meta":{"src":"app"}}})"));
  EXPECT_FALSE(passes(p, R"({"order":{"type":"buy"}})"));
  EXPECT_FALSE(passes(p, R"({"type":"buy","meta":{"src":"web"}})"));
  EXPECT_FALSE(passes(p, R"({"order":"buy"})"));
}

TEST(FilterTest, AllKeysOfAPatternMustMatch) {
  const std::string p = R"({"data":{"kind":["refund"],"amount":[{"numeric":[">",100]}]}})";
  EXPECT_TRUE(passes(p, R"({"kind":"refund","amount":150})"));
  EXPECT_FALSE(passes(p, R"({"kind":"refund","amount":50})"));
  EXPECT_FALSE(passes(p, R"({"kind":"sale","amount":150})"));
}

TEST(FilterTest, DocumentArraysMatchWhenAnyElementMatches) {
  EXPECT_TRUE(passes(R"({"data":{"tags":["red"]}})", R"({"tags":["blue","red"]})"));
  EXPECT_TRUE(passes(R"({"data":{"tags":["red"]}})", R"({"tags":[["blue"],["red"]]})"));
  EXPECT_FALSE(passes(R"({"data":{"tags":["red"]}})", R"({"tags":["blue"]})"));
  // A nested pattern object is matched element by element: both keys from one element.
  const std::string p = R"({"data":{"items":{"sku":["a"],"qty":[2]}}})";
  EXPECT_TRUE(passes(p, R"({"items":[{"sku":"b","qty":2},{"sku":"a","qty":2}]})"));
  EXPECT_FALSE(passes(p, R"({"items":[{"sku":"a","qty":1},{"sku":"b","qty":2}]})"));
}

TEST(FilterTest, OrOperatorAddsAlternativesAtItsLevel) {
  const std::string p = R"({"data":{"kind":["sale"],"$or":[{"amount":[{"numeric":[">",100]}]},)"
                        R"({"vip":[true]}]}})";
  EXPECT_TRUE(passes(p, R"({"kind":"sale","amount":200})"));
  EXPECT_TRUE(passes(p, R"({"kind":"sale","amount":1,"vip":true})"));
  EXPECT_FALSE(passes(p, R"({"kind":"sale","amount":1})"));
  EXPECT_FALSE(passes(p, R"({"kind":"refund","vip":true})"));
  // At the top level, one alternative may ignore `data` altogether.
  const std::string top = R"({"$or":[{"partitionKey":["customer-42"]},{"data":{"a":[1]}}]})";
  EXPECT_TRUE(passes(top, "not json"));
  EXPECT_TRUE(compiled({top}).matches(record(R"({"a":1})", "other")));
  EXPECT_FALSE(compiled({top}).matches(record("not json", "other")));
}

TEST(FilterTest, WildcardAndCidr) {
  const std::string w = R"({"data":{"f":[{"wildcard":"img/*.png"}]}})";
  EXPECT_TRUE(passes(w, R"({"f":"img/a/b.png"})"));
  EXPECT_TRUE(passes(w, R"({"f":"img/.png"})"));
  EXPECT_FALSE(passes(w, R"({"f":"img/a.jpg"})"));
  EXPECT_TRUE(passes(R"({"data":{"f":[{"wildcard":"a\\*b"}]}})", R"({"f":"a*b"})"));
  EXPECT_FALSE(passes(R"({"data":{"f":[{"wildcard":"a\\*b"}]}})", R"({"f":"axb"})"));
  const std::string c = R"({"data":{"ip":[{"cidr":"10.0.0.0/24"}]}})";
  EXPECT_TRUE(passes(c, R"({"ip":"10.0.0.255"})"));
  EXPECT_FALSE(passes(c, R"({"ip":"10.0.1.0"})"));
  EXPECT_FALSE(passes(c, R"({"ip":"not an ip"})"));
  EXPECT_TRUE(passes(R"({"data":{"ip":[{"cidr":"2001:db8::/32"}]}})", R"({"ip":"2001:db8::1"})"));
}

TEST(FilterTest, StringsCompareAfterUnescaping) {
  EXPECT_TRUE(passes(R"({"data":{"k\u0065y":["\u00e9"]}})", R"({"key":"é"})"));
  EXPECT_TRUE(passes(R"({"data":{"key":["é"]}})", R"({"k\u0065y":"\u00e9"})"));
  EXPECT_FALSE(passes(R"({"data":{"key":["é"]}})", R"({"key":"e\u0301"})"));  // no normalising
}

TEST(FilterTest, LastOccurrenceOfARepeatedKeyWins) {
  const std::string p = R"({"data":{"a":["x"],"a":["y"]}})";
  EXPECT_TRUE(passes(p, R"({"a":"y"})"));
  EXPECT_FALSE(passes(p, R"({"a":"x"})"));
}

// ---- spec 11.2: what a pattern sees ---------------------------------------------------------

TEST(FilterTest, DataPatternFiltersValidJson) {
  EXPECT_TRUE(passes(R"({"data":{"orderId":[1]}})", R"({"orderId":1})"));
  EXPECT_TRUE(passes(R"({"data":[5]})", "5"));
  EXPECT_TRUE(passes(R"({"data":["plain"]})", R"("plain")"));
}

TEST(FilterTest, DataPatternDropsDataThatIsNotJson) {
  for (std::string_view data : {"not json", "", "{\"a\":1", "{} {}", "[1,]", "\xff\xfe", "tru"}) {
    SCOPED_TRACE(testing::Message() << "data=" << data);
    EXPECT_FALSE(passes(R"({"data":{"a":[1]}})", data));
    EXPECT_FALSE(passes(R"({"data":{"a":[{"exists":false}]}})", data));
    EXPECT_FALSE(passes(R"({"data":[{"exists":false}]})", data));
  }
}

TEST(FilterTest, PatternWithoutDataSeesOnlyMetadata) {
  const std::string p = R"({"partitionKey":[{"prefix":"customer-"}]})";
  EXPECT_TRUE(passes(p, R"({"a":1})"));
  EXPECT_TRUE(passes(p, "not json at all"));
  EXPECT_FALSE(compiled({p}).matches(record("not json", "vendor-1")));
}

TEST(FilterTest, MetadataKeysHaveTheEventsValues) {
  EXPECT_TRUE(passes(R"({"kinesisSchemaVersion":["1.0"]})", "x"));
  EXPECT_TRUE(passes(R"({"sequenceNumber":[")" + std::string(kSequence) + R"("]})", "x"));
  EXPECT_TRUE(passes(R"({"approximateArrivalTimestamp":[1767225600.125]})", "x"));
  EXPECT_TRUE(passes(
      R"({"approximateArrivalTimestamp":[{"numeric":[">",1767225600,"<",1767225601]}]})", "x"));
  EXPECT_FALSE(passes(R"({"approximateArrivalTimestamp":[{"numeric":[">=",1767225601]}]})", "x"));
  EXPECT_FALSE(passes(R"({"eventSource":["aws:kinesis"]})", "x"));  // outside `kinesis`
  FilterRecord whole_second = record("x");
  whole_second.arrival_ms = 1767225600000;
  EXPECT_TRUE(
      compiled({R"({"approximateArrivalTimestamp":[1767225600.000]})"}).matches(whole_second));
}

// ---- sets of patterns ----------------------------------------------------------------------

TEST(FilterTest, NoPatternsPassEverything) {
  auto set = FilterSet::compile({});
  ASSERT_TRUE(set.ok());
  EXPECT_TRUE(set->empty());
  EXPECT_TRUE(set->matches(record("not json")));
  EXPECT_TRUE(FilterSet().matches(record("{}")));
}

TEST(FilterTest, RecordPassesWhenAnyPatternMatches) {
  const FilterSet set = compiled({R"({"data":{"k":["a"]}})", R"({"data":{"k":["b"]}})"});
  EXPECT_FALSE(set.empty());
  EXPECT_TRUE(set.matches(record(R"({"k":"a"})")));
  EXPECT_TRUE(set.matches(record(R"({"k":"b"})")));
  EXPECT_FALSE(set.matches(record(R"({"k":"c"})")));
}

// Case 49 at the matcher level: two mappings, each sees only its own event type.
TEST(FilterTest, TwoMappingsSplitRecordsByEventType) {
  const FilterSet one = compiled({R"({"data":{"event_type":["function_1"]}})"});
  const FilterSet two = compiled({R"({"data":{"event_type":["function_2"]}})"});
  const std::string r1 = R"({"event_type":"function_1","payload":{"n":1}})";
  const std::string r2 = R"({"event_type":"function_2","payload":{"n":2}})";
  EXPECT_TRUE(one.matches(record(r1)));
  EXPECT_FALSE(one.matches(record(r2)));
  EXPECT_FALSE(two.matches(record(r1)));
  EXPECT_TRUE(two.matches(record(r2)));
}

// Cases 50 and 51: non-JSON data never passes a data pattern; one record of three passes.
TEST(FilterTest, OnlyTheMatchingRecordOfABatchPasses) {
  const FilterSet set = compiled({R"({"data":{"kind":["refund"]}})"});
  const std::vector<std::string> batch = {"\x01\x02 binary", R"({"kind":"sale"})",
                                          R"({"kind":"refund"})"};
  std::vector<size_t> passed;
  for (size_t i = 0; i < batch.size(); ++i) {
    if (set.matches(record(batch[i]))) passed.push_back(i);
  }
  EXPECT_EQ(passed, std::vector<size_t>{2});
}

TEST(FilterTest, ConcurrentMatchesAgree) {
  const FilterSet set = compiled({R"({"data":{"n":[{"numeric":[">=",50]}]}})"});
  std::vector<int> hits(4, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 2000; ++i) {
        const std::string data = R"({"n":)" + std::to_string(i % 100) + "}";
        if (set.matches(record(data))) ++hits[t];
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int h : hits) EXPECT_EQ(h, 1000);
}

// ---- invalid patterns (case 13 and more) ----------------------------------------------------

TEST(FilterTest, InvalidPatternsAreRefused) {
  const std::vector<std::string> bad = {
      "single-string",
      R"([{"a": ["x"=1}])",
      "",
      "[]",
      R"(["a"])",
      "{}",
      R"({"data":{}})",
      R"({"data":"x"})",
      R"({"data":{"n":1}})",
      R"({"data":{"n":null}})",
      R"({"data":{"n":[[1]]}})",
      R"({"a":["x"]} trailing)",
      R"({"a":["x"]}{"b":["y"]})",
      R"({"a":[{"unknown-op":"x"}]})",
      R"({"a":[{}]})",
      R"({"a":[{"prefix":"x","suffix":"y"}]})",
      R"({"a":[{"prefix":1}]})",
      R"({"a":[{"exists":"true"}]})",
      R"({"a":[{"numeric":[">"]}]})",
      R"({"a":[{"numeric":["~",1]}]})",
      R"({"a":[{"numeric":[">","1"]}]})",
      R"({"a":[{"numeric":[">",1,">",2]}]})",
      R"({"a":[{"numeric":["<",1,"<=",2]}]})",
      R"({"a":[{"numeric":["=",1,"<",2]}]})",
      R"({"a":[{"numeric":[">",5,"<",1]}]})",
      R"({"a":[{"numeric":[">",5,"<",5]}]})",
      R"({"a":[{"numeric":[">",1,"<",2,">",0]}]})",
      R"({"a":[{"anything-but":[]}]})",
      R"({"a":[{"anything-but":true}]})",
      R"({"a":[{"anything-but":[null]}]})",
      R"({"a":[{"anything-but":{"wildcard":"x"}}]})",
      R"({"a":[{"wildcard":"a**b"}]})",
      R"({"a":[{"wildcard":"a\\b"}]})",
      R"({"a":[{"cidr":"10.0.0.0/33"}]})",
      R"({"a":[{"cidr":"10.0.0.0"}]})",
      R"({"a":[{"cidr":"nonsense/8"}]})",
      R"({"$or":[{"a":["x"]}]})",
      R"({"$or":[{"a":["x"]},{}]})",
      R"({"$or":[{"a":["x"]},{"b":"y"}]})",
  };
  for (const std::string& p : bad) {
    const Status s = FilterSet::validate(p);
    EXPECT_FALSE(s.ok()) << p;
    EXPECT_EQ(s.code(), Code::kInvalidArgument) << p;
    EXPECT_EQ(s.message(), "Invalid filter pattern definition.") << p;
  }
}

TEST(FilterTest, OneBadPatternFailsTheWholeSet) {
  const std::vector<std::string> patterns = {R"({"a":["x"]})", "nope"};
  EXPECT_FALSE(FilterSet::compile(patterns).ok());
}

TEST(FilterTest, PatternsUpTo4096CharactersAreAccepted) {
  const std::string head = R"({"data":{"k":[")";
  const std::string tail = R"("]}})";
  const std::string fits = head + std::string(4096 - head.size() - tail.size(), 'x') + tail;
  ASSERT_EQ(fits.size(), 4096u);
  EXPECT_TRUE(valid(fits));
  EXPECT_FALSE(valid(head + std::string(4097 - head.size() - tail.size(), 'x') + tail));
}

TEST(FilterTest, ValidPatternsFromTheSpecAreAccepted) {
  for (std::string_view p : {
           R"({"data":{"kind":["refund"],"amount":[{"numeric":[">",100]}]}})",
           R"({"partitionKey":[{"prefix":"a"}]})",
           R"({"data":{"a":[]}})",
           R"({"$or":["x"]})",  // not alternatives: a key named "$or"
           R"({"data":{"a":["x",1,2.5,true,false,null,{"prefix":"p"}]}})",
       }) {
    EXPECT_TRUE(valid(p)) << p;
  }
}

// ---- property test against a reference matcher ---------------------------------------------

// A JSON value, generated directly (never parsed) so the reference does not share a parser.
struct JValue {
  enum class T { kString, kNumber, kTrue, kFalse, kNull, kArray, kObject } t = T::kNull;
  std::string text;  // kString: the string; kNumber: its JSON text
  std::vector<JValue> elements;
  std::vector<std::string> keys;  // kObject: keys[i] names values[i]
  std::vector<JValue> values;
};

std::string to_json(const JValue& v) {
  switch (v.t) {
    case JValue::T::kString:
      return "\"" + v.text + "\"";  // generated strings need no escaping
    case JValue::T::kNumber:
      return v.text;
    case JValue::T::kTrue:
      return "true";
    case JValue::T::kFalse:
      return "false";
    case JValue::T::kNull:
      return "null";
    case JValue::T::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < v.elements.size(); ++i) {
        out += (i ? "," : "") + to_json(v.elements[i]);
      }
      return out + "]";
    }
    case JValue::T::kObject: {
      std::string out = "{";
      for (size_t i = 0; i < v.keys.size(); ++i) {
        out += (i ? ",\"" : "\"") + v.keys[i] + "\":" + to_json(v.values[i]);
      }
      return out + "}";
    }
  }
  return "null";
}

struct RefRule {
  enum class Op { kString, kNumber, kPrefix, kSuffix, kAnythingBut, kNumeric, kExists } op;
  std::string text;               // kString, kNumber, kPrefix, kSuffix
  std::vector<std::string> list;  // kAnythingBut: strings
  double lo = 0, hi = 0;          // kNumeric: [lo, hi)
  bool exists = false;
};

struct RefNode;
struct RefField {
  std::string key;
  std::vector<RefRule> rules;
  std::shared_ptr<RefNode> child;
};
struct RefNode {
  std::vector<RefField> fields;
};

std::string to_json(const RefRule& r) {
  switch (r.op) {
    case RefRule::Op::kString:
      return "\"" + r.text + "\"";
    case RefRule::Op::kNumber:
      return r.text;
    case RefRule::Op::kPrefix:
      return R"({"prefix":")" + r.text + "\"}";
    case RefRule::Op::kSuffix:
      return R"({"suffix":")" + r.text + "\"}";
    case RefRule::Op::kAnythingBut: {
      std::string out = R"({"anything-but":[)";
      for (size_t i = 0; i < r.list.size(); ++i) out += (i ? ",\"" : "\"") + r.list[i] + "\"";
      return out + "]}";
    }
    case RefRule::Op::kNumeric:
      return R"({"numeric":[">=",)" + std::to_string(static_cast<int>(r.lo)) + R"(,"<",)" +
             std::to_string(static_cast<int>(r.hi)) + "]}";
    case RefRule::Op::kExists:
      return std::string(R"({"exists":)") + (r.exists ? "true" : "false") + "}";
  }
  return "";
}

std::string to_json(const RefNode& n) {
  std::string out = "{";
  for (size_t i = 0; i < n.fields.size(); ++i) {
    const RefField& f = n.fields[i];
    out += (i ? ",\"" : "\"") + f.key + "\":";
    if (f.child) {
      out += to_json(*f.child);
    } else {
      out += "[";
      for (size_t j = 0; j < f.rules.size(); ++j) out += (j ? "," : "") + to_json(f.rules[j]);
      out += "]";
    }
  }
  return out + "}";
}

// The reference: collect, then decide, with no early exits and no tape.
void collect(const JValue& v, std::vector<const JValue*>& scalars,
             std::vector<const JValue*>& objects) {
  if (v.t == JValue::T::kArray) {
    for (const JValue& e : v.elements) collect(e, scalars, objects);
  } else if (v.t == JValue::T::kObject) {
    objects.push_back(&v);
  } else {
    scalars.push_back(&v);
  }
}

bool ref_rule(const RefRule& r, const JValue& v) {
  const bool is_string = v.t == JValue::T::kString;
  switch (r.op) {
    case RefRule::Op::kString:
      return is_string && v.text == r.text;
    case RefRule::Op::kNumber:
      return v.t == JValue::T::kNumber && v.text == r.text;
    case RefRule::Op::kPrefix:
      return is_string && v.text.substr(0, r.text.size()) == r.text;
    case RefRule::Op::kSuffix:
      return is_string && v.text.size() >= r.text.size() &&
             v.text.substr(v.text.size() - r.text.size()) == r.text;
    case RefRule::Op::kAnythingBut:
      for (const std::string& s : r.list) {
        if (is_string && v.text == s) return false;
      }
      return true;
    case RefRule::Op::kNumeric: {
      if (v.t != JValue::T::kNumber) return false;
      const double d = std::strtod(v.text.c_str(), nullptr);
      return d >= r.lo && d < r.hi;
    }
    case RefRule::Op::kExists:
      return false;
  }
  return false;
}

bool ref_node(const RefNode& n, const JValue* object) {
  for (const RefField& f : n.fields) {
    std::vector<const JValue*> scalars, objects;
    if (object != nullptr) {
      for (size_t i = 0; i < object->keys.size(); ++i) {
        if (object->keys[i] == f.key) collect(object->values[i], scalars, objects);
      }
    }
    bool ok = false;
    if (f.child) {
      if (objects.empty()) ok = ref_node(*f.child, nullptr);
      for (const JValue* o : objects) ok = ok || ref_node(*f.child, o);
    } else {
      for (const RefRule& r : f.rules) {
        if (r.op == RefRule::Op::kExists) ok = ok || (r.exists == !scalars.empty());
        for (const JValue* s : scalars) ok = ok || ref_rule(r, *s);
      }
    }
    if (!ok) return false;
  }
  return true;
}

class Generator {
 public:
  explicit Generator(uint32_t seed) : rng_(seed) {}

  JValue value(int depth) {
    JValue v;
    switch (pick(depth > 2 ? 5 : 7)) {
      case 0:
        v.t = JValue::T::kString;
        v.text = one_of(kStrings);
        break;
      case 1:
        v.t = JValue::T::kNumber;
        v.text = one_of(kNumbers);
        break;
      case 2:
        v.t = pick(2) ? JValue::T::kTrue : JValue::T::kFalse;
        break;
      case 3:
        v.t = JValue::T::kNull;
        break;
      case 4:
        v.t = JValue::T::kString;
        v.text = one_of(kStrings);
        break;
      case 5:
        v.t = JValue::T::kArray;
        for (int i = pick(4); i > 0; --i) v.elements.push_back(value(depth + 1));
        break;
      default:
        v = object(depth + 1);
        break;
    }
    return v;
  }

  JValue object(int depth) {
    JValue v;
    v.t = JValue::T::kObject;
    for (std::string_view key : kKeys) {
      if (pick(3) == 0) continue;
      v.keys.emplace_back(key);
      v.values.push_back(value(depth));
    }
    return v;
  }

  RefNode node(int depth) {
    RefNode n;
    for (std::string_view key : kKeys) {
      if (n.fields.empty() ? pick(2) != 0 : pick(3) != 0) continue;
      RefField f;
      f.key = std::string(key);
      if (depth < 2 && pick(4) == 0) {
        f.child = std::make_shared<RefNode>(node(depth + 1));
      } else {
        for (int i = 1 + pick(2); i > 0; --i) f.rules.push_back(rule());
      }
      n.fields.push_back(std::move(f));
    }
    if (n.fields.empty()) {  // an empty pattern object is invalid
      RefField f;
      f.key = std::string(kKeys[0]);
      f.rules.push_back(rule());
      n.fields.push_back(std::move(f));
    }
    return n;
  }

 private:
  static constexpr std::string_view kKeys[] = {"a", "b", "c"};
  static constexpr std::string_view kStrings[] = {"x", "xy", "yx", "", "y"};
  static constexpr std::string_view kNumbers[] = {"1", "2", "1.0", "-3", "10", "2e0"};

  RefRule rule() {
    RefRule r{};
    switch (pick(7)) {
      case 0:
        r.op = RefRule::Op::kString;
        r.text = one_of(kStrings);
        break;
      case 1:
        r.op = RefRule::Op::kNumber;
        r.text = one_of(kNumbers);
        break;
      case 2:
        r.op = RefRule::Op::kPrefix;
        r.text = one_of(kStrings);
        break;
      case 3:
        r.op = RefRule::Op::kSuffix;
        r.text = one_of(kStrings);
        break;
      case 4:
        r.op = RefRule::Op::kAnythingBut;
        r.list = {one_of(kStrings)};
        if (pick(2)) r.list.push_back(one_of(kStrings));
        break;
      case 5:
        r.op = RefRule::Op::kNumeric;
        r.lo = pick(5) - 3;
        r.hi = r.lo + 1 + pick(10);
        break;
      default:
        r.op = RefRule::Op::kExists;
        r.exists = pick(2) != 0;
        break;
    }
    return r;
  }

  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }
  template <size_t N>
  std::string one_of(const std::string_view (&options)[N]) {
    return std::string(options[pick(static_cast<int>(N))]);
  }

  std::mt19937 rng_;
};

TEST(FilterTest, RandomPatternsAgreeWithReferenceMatcher) {
  int matched = 0, total = 0;
  for (uint32_t seed = 1; seed <= 400; ++seed) {
    SCOPED_TRACE(testing::Message() << "seed=" << seed);
    Generator gen(seed);
    const RefNode pattern = gen.node(0);
    const std::string pattern_json = R"({"data":)" + to_json(pattern) + "}";
    auto set = FilterSet::compile(std::vector<std::string>{pattern_json});
    ASSERT_TRUE(set.ok()) << pattern_json;
    for (int i = 0; i < 25; ++i) {
      const JValue doc = gen.object(0);
      const std::string data = to_json(doc);
      const bool expected = ref_node(pattern, &doc);
      ASSERT_EQ(set->matches(record(data)), expected)
          << "pattern " << pattern_json << "\ndata " << data;
      matched += expected;
      ++total;
    }
  }
  // The generator must exercise both outcomes, or this test proves nothing.
  EXPECT_GT(matched, total / 20);
  EXPECT_LT(matched, total - total / 20);
}

}  // namespace
}  // namespace sluice::esm
