// PutRecord, PutRecords, GetShardIterator, GetRecords and retention (spec 8.1, 9.7-9.10).
// Test names carry the spec's numbered cases where one applies.

#include "stream/identifiers.h"
#include "stream/internal/crypto.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

constexpr const char* kShard0 = "shardId-000000000000";
constexpr const char* kShard1 = "shardId-000000000001";
constexpr const char* kShard2 = "shardId-000000000002";

uint64_t counter_of(const std::string& seq) { return parse_sequence_number(seq)->counter; }

std::vector<std::string> datas(const GetRecordsResult& r) {
  std::vector<std::string> out;
  for (const RecordOut& rec : r.records) out.emplace_back(as_string_view(rec.data));
  return out;
}

TEST(PutRecordTest, Spec9_7_ExampleLandsInShardZeroWithA56DigitNumber) {
  ServiceEnv env;
  env.create("orders", 2);
  auto r = env.put("orders", "a", "hello");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->shard_id, kShard0);
  EXPECT_EQ(r->sequence_number.size(), 56u);
  EXPECT_EQ(r->encryption_type, EncryptionType::kNone);
  auto p = parse_sequence_number(r->sequence_number);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->counter, 1u);
  EXPECT_EQ(p->arrival_s, env.clock.now_ms() / 1000);
}

TEST(PutRecordTest, AsynchronousPutsAnswerOnAWriterThreadInShardOrder) {
  ServiceEnv env;
  env.create("s", 1);
  constexpr int kPuts = 50;
  std::mutex mu;
  std::condition_variable cv;
  std::vector<std::string> seqs;
  int off_caller = 0;
  const std::string key = "k";
  const std::string data = "d";
  PutRecordRequest req;
  req.stream = env.key("s");
  req.partition_key = key;
  req.data = as_bytes(data);
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < kPuts; ++i) {
    env.svc().put_record(req, [&](Result<PutRecordResult> r) {
      std::lock_guard lock(mu);
      EXPECT_TRUE(r.ok()) << r.status();
      seqs.push_back(r.ok() ? r->sequence_number : "");
      off_caller += std::this_thread::get_id() != caller;
      cv.notify_all();
    });
  }
  std::unique_lock lock(mu);
  cv.wait(lock, [&] { return seqs.size() == kPuts; });
  EXPECT_EQ(off_caller, kPuts);  // nobody waited for a sync on the calling thread
  std::set<uint64_t> counters;
  for (const auto& s : seqs) {
    if (!s.empty()) counters.insert(counter_of(s));
  }
  EXPECT_EQ(counters.size(), size_t{kPuts});
  EXPECT_EQ(env.drain("s", kShard0).size(), size_t{kPuts});
}

TEST(PutRecordTest, StopWritesRefusesLaterPutsAndKeepsWhatWasStored) {
  ServiceEnv env;
  env.create("s", 2);
  ASSERT_TRUE(env.put("s", "a", "before").ok());
  env.svc().stop_writes();
  env.svc().stop_writes();  // idempotent
  auto r = env.put("s", "a", "after");
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kUnavailable);
  const std::string key = "a";
  const std::string data = "after";
  const PutRecordsEntry entry{.partition_key = key, .data = as_bytes(data)};
  PutRecordsRequest batch;
  batch.stream = env.key("s");
  batch.records = std::span(&entry, 1);
  auto rs = env.svc().put_records(batch);
  ASSERT_FALSE(rs.ok());
  EXPECT_EQ(rs.status().code(), Code::kUnavailable);
  EXPECT_EQ(env.drain("s", kShard0).size() + env.drain("s", kShard1).size(), 1u);
}

TEST(PutRecordTest, Spec9_7_Test1_EmptyAnd50KiBDataAccepted) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_TRUE(env.put("s", "a", "").ok());
  EXPECT_TRUE(env.put("s", "a", std::string(50 * 1024, 'x')).ok());
  EXPECT_EQ(env.drain("s", kShard0).size(), 2u);
}

TEST(PutRecordTest, Spec9_7_Step3_KeyPlusDataOverTheLimitIsAValidationError) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_TRUE(env.put("s", "", std::string(1024 * 1024, 'x')).ok());
  auto r = env.put("s", "k", std::string(1024 * 1024, 'x'));
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_validation_error(r.status()));
  EXPECT_EQ(r.status().message(),
            "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=1048576 "
            "cap=1048576]' at 'data' failed to satisfy constraint: Member must have length less "
            "than or equal to 1048576");
}

TEST(PutRecordTest, Spec9_7_Test5_ExplicitHashKeyRouting) {
  ServiceEnv env;
  env.create("s", 3);
  auto over = env.put("s", "a", "x", "340282366920938463463374607431768211456");
  EXPECT_EQ(over.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(over.status().message(),
            "Invalid ExplicitHashKey. ExplicitHashKey must be in the range: [0, 2^128-1]. "
            "Specified value was 340282366920938463463374607431768211456");
  EXPECT_EQ(env.put("s", "a", "x", "340282366920938463463374607431768211455")->shard_id, kShard2);
  EXPECT_EQ(env.put("s", "a", "x", "226854911280625642308916404954512140969")->shard_id, kShard1);
  EXPECT_EQ(env.put("s", "a", "x", "226854911280625642308916404954512140970")->shard_id, kShard2);
  EXPECT_EQ(env.put("s", "a", "x", "0")->shard_id, kShard0);
}

TEST(PutRecordTest, Spec5_4_PartitionKeysRouteByMd5) {
  ServiceEnv env;
  env.create("s", 3);
  EXPECT_EQ(env.put("s", "a", "x")->shard_id, kShard0);
  EXPECT_EQ(env.put("s", "b", "x")->shard_id, kShard1);
  EXPECT_EQ(env.put("s", "e", "x")->shard_id, kShard2);
  EXPECT_EQ(env.put("s", "f", "x")->shard_id, kShard1);
}

PutRecordRequest ordered_put(const std::string& seq) {
  PutRecordRequest r;
  r.stream = ServiceEnv::key("s");
  r.partition_key = "a";
  r.data = as_bytes("x");
  r.sequence_number_for_ordering = seq;
  return r;
}

TEST(PutRecordTest, Spec9_7_Test6_SequenceNumberForOrderingVariants) {
  ServiceEnv env;
  env.create("s", 1);
  const std::vector<std::string> invalid = {
      "49039857307708443467467104868809893875799651909875269632",   // version nibble 0 == 2^185
      "49039857307708443467467104868809893875799651909875269635",   // version 3
      "49039857307708443467467104868809893875799651909875269636",   // version 4
      "73559785961562665201200657303214840813699477864812904450",   // leading 3
      "48944076336404325413819708179612999551823480714738794498",   // leading 1ff
      "784637716923513501441061922886090587758975617450052157442",  // counter nibble 8
      "73559785961205853278024167332950269321337104080717217794",   // date too large
  };
  for (const std::string& seq : invalid) {
    auto r = env.svc().put_record(ordered_put(seq));
    ASSERT_FALSE(r.ok()) << seq;
    EXPECT_EQ(r.status().message(),
              "ExclusiveMinimumSequenceNumber " + seq +
                  " used in PutRecord on stream s under account 000000000000 is invalid.");
  }
  for (std::string seq : {"49039857307708443467467104868809893875799651909875269633",
                          "49039857307708443467467104868809893875799651909875269634"}) {
    EXPECT_TRUE(env.svc().put_record(ordered_put(seq)).ok()) << seq;
  }
  // A real earlier number is accepted and the new one is larger.
  auto first = env.put("s", "a", "x");
  auto next = env.svc().put_record(ordered_put(first->sequence_number));
  ASSERT_TRUE(next.ok());
  EXPECT_GT(counter_of(next->sequence_number), counter_of(first->sequence_number));
  // An arrival time in the future is invalid.
  const auto future =
      encode_sequence_number({1699999998, 0, 1, env.clock.now_ms() / 1000 + 10}).str();
  EXPECT_EQ(env.svc().put_record(ordered_put(future)).status().code(), Code::kInvalidArgument);
}

TEST(PutRecordTest, Spec9_7_Test7_ConcurrentPairsGetConsecutiveCounters) {
  ServiceEnv env;
  env.create("s", 2);
  std::mutex mu;
  std::vector<uint64_t> counters;
  std::vector<std::thread> threads;
  for (int t = 0; t < 10; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10; ++i) {
        auto a = env.put("s", "a", "x");
        auto b = env.put("s", "b", "y");
        ASSERT_TRUE(a.ok() && b.ok());
        EXPECT_EQ(a->shard_id, kShard0);
        EXPECT_EQ(b->shard_id, kShard1);
        std::lock_guard lock(mu);
        counters.push_back(counter_of(a->sequence_number));
        counters.push_back(counter_of(b->sequence_number));
      }
    });
  }
  for (auto& th : threads) th.join();
  ASSERT_EQ(counters.size(), 200u);
  std::sort(counters.begin(), counters.end());
  for (size_t i = 1; i < counters.size(); ++i) EXPECT_EQ(counters[i], counters[i - 1] + 1);
}

TEST(PutRecordTest, Spec9_7_Test8_SequenceNumberShape) {
  ServiceEnv env;
  env.create("s", 3);
  for (const char* key : {"a", "b", "e"}) {
    auto r = env.put("s", key, "x");
    ASSERT_TRUE(r.ok());
    auto p = parse_sequence_number(r->sequence_number);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p->version, 2);
    EXPECT_EQ(format_shard_id(p->shard_index), r->shard_id);
    EXPECT_EQ(p->creation_s, 1699999998);
    EXPECT_NEAR(static_cast<double>(*p->arrival_s), env.clock.now_ms() / 1000.0, 2.0);
  }
}

TEST(PutRecordTest, Spec9_7_Test9_UnknownStreamIsNotFound) {
  ServiceEnv env;
  auto r = env.put("nope", "a", "x");
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "Stream nope under account 000000000000 not found.");
}

PutRecordsResult put_records(ServiceEnv& env, const std::vector<PutRecordsEntry>& entries) {
  auto r = env.svc().put_records({ServiceEnv::key("s"), entries});
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : PutRecordsResult{};
}

TEST(PutRecordsTest, Spec9_8_Test2_MixedKeysLandAsSpecifiedWithConsecutiveCountersPerShard) {
  ServiceEnv env;
  env.create("s", 3);
  const std::vector<PutRecordsEntry> entries = {
      {"a", as_bytes("0"), std::nullopt},
      {"b", as_bytes("1"), std::nullopt},
      {"e", as_bytes("2"), std::nullopt},
      {"f", as_bytes("3"), std::nullopt},
      {"x", as_bytes("4"), "340282366920938463463374607431768211455"},
      {"x", as_bytes("5"), "113427455640312821154458202477256070485"},
      {"x", as_bytes("6"), "226854911280625642308916404954512140970"},
  };
  const PutRecordsResult r = put_records(env, entries);
  EXPECT_EQ(r.failed_record_count, 0);
  ASSERT_EQ(r.records.size(), 7u);
  const std::vector<std::string> want = {kShard0, kShard1, kShard2, kShard1,
                                         kShard2, kShard1, kShard2};
  std::map<std::string, std::vector<uint64_t>> by_shard;
  for (size_t i = 0; i < 7; ++i) {
    EXPECT_EQ(r.records[i].shard_id(), want[i]) << i;
    EXPECT_TRUE(r.records[i].ok());
    by_shard[r.records[i].shard_id()].push_back(
        counter_of(std::string(r.records[i].sequence_number.view())));
  }
  for (const auto& [shard, counters] : by_shard) {
    for (size_t i = 1; i < counters.size(); ++i) {
      EXPECT_EQ(counters[i], counters[i - 1] + 1) << shard;
    }
  }
}

TEST(PutRecordsTest, Spec9_8_Test3_OverFiveMiBTotalIsRejected) {
  ServiceEnv env;
  env.create("s", 1);
  const std::string big(1024 * 1024 - 1, 'x');
  std::vector<PutRecordsEntry> entries(5, PutRecordsEntry{"k", as_bytes(big), std::nullopt});
  EXPECT_EQ(put_records(env, entries).failed_record_count, 0);  // exactly 5 MiB
  const std::string one_more(1024 * 1024, 'x');
  entries[4].data = as_bytes(one_more);
  auto r = env.svc().put_records({ServiceEnv::key("s"), entries});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "Records size exceeds 5 MB limit");
}

TEST(PutRecordsTest, Spec9_8_OversizedEntryNamesItsPath) {
  StreamServiceOptions o = testing::instant_options();
  ServiceEnv env(o);
  env.create("s", 1);
  const std::string big(1024 * 1024, 'x');
  const std::vector<PutRecordsEntry> entries = {{"k", as_bytes("ok"), std::nullopt},
                                                {"k", as_bytes(big), std::nullopt}};
  auto r = env.svc().put_records({ServiceEnv::key("s"), entries});
  ASSERT_FALSE(r.ok());
  EXPECT_TRUE(is_validation_error(r.status()));
  EXPECT_NE(r.status().message().find("at 'records.2.member.data'"), std::string_view::npos);
}

TEST(PutRecordsTest, Spec9_8_Step4_AnyBadExplicitHashKeyFailsTheRequest) {
  ServiceEnv env;
  env.create("s", 1);
  const std::vector<PutRecordsEntry> entries = {
      {"k", as_bytes("ok"), std::nullopt},
      {"k", as_bytes("x"), "99999999999999999999999999999999999999999"}};
  auto r = env.svc().put_records({ServiceEnv::key("s"), entries});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(env.drain("s", kShard0).empty());
}

TEST(PutRecordsTest, Spec9_8_Test5_GetRecordsReturnsOneShardsEntriesInRequestOrder) {
  ServiceEnv env;
  env.create("s", 2);
  std::vector<std::string> data;
  for (int i = 0; i < 50; ++i) data.push_back("r" + std::to_string(i));
  std::vector<PutRecordsEntry> entries;
  for (int i = 0; i < 50; ++i) {
    entries.push_back({i % 2 ? "a" : "b", as_bytes(data[static_cast<size_t>(i)]), std::nullopt});
  }
  ASSERT_EQ(put_records(env, entries).failed_record_count, 0);
  std::vector<std::string> want_a;
  for (int i = 1; i < 50; i += 2) want_a.push_back(data[static_cast<size_t>(i)]);
  EXPECT_EQ(env.drain("s", kShard0), want_a);
}

TEST(PutRecordsTest, RejectsEmptyAndOversizedRequests) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_EQ(env.svc().put_records({ServiceEnv::key("s"), {}}).status().code(),
            Code::kInvalidArgument);
  std::vector<PutRecordsEntry> many(501, PutRecordsEntry{"k", as_bytes("x"), std::nullopt});
  EXPECT_EQ(env.svc().put_records({ServiceEnv::key("s"), many}).status().code(),
            Code::kInvalidArgument);
}

// ---- GetShardIterator ----

TEST(GetShardIteratorTest, Spec9_9_Test1_UnknownStreamUsesTheShardWording) {
  ServiceEnv env;
  for (const char* id : {"2147483647", "x-2147483647", "a-00002147483647", "-00002147483647"}) {
    auto r = env.iterator("nope", id, IteratorType::kLatest);
    EXPECT_EQ(r.status().code(), Code::kNotFound);
    EXPECT_EQ(r.status().message(),
              "Shard shardId-002147483647 in stream nope under account 000000000000 does not "
              "exist")
        << id;
  }
}

TEST(GetShardIteratorTest, Spec9_9_Test2_UnparseableShardIdIsCouldNotFind) {
  ServiceEnv env;
  for (const char* id : {"2147483648", "shardId-002147483648", "ABKLFD8", "2.14E4"}) {
    auto r = env.iterator("nope", id, IteratorType::kLatest);
    EXPECT_EQ(r.status().code(), Code::kNotFound);
    EXPECT_EQ(r.status().message(), std::string("Could not find shard ") + id +
                                        " in stream nope under account 000000000000.");
  }
}

TEST(GetShardIteratorTest, Spec9_9_Test3_ShardIndexBeyondTheStream) {
  ServiceEnv env;
  env.create("s", 3);
  auto r = env.iterator("s", "shardId-5", IteratorType::kLatest);
  EXPECT_EQ(r.status().message(),
            "Shard shardId-000000000005 in stream s under account 000000000000 does not exist");
}

TEST(GetShardIteratorTest, Spec9_9_Test4_TheFourMustEitherSpecifyVariants) {
  ServiceEnv env;
  env.create("s", 1);
  const std::string seq = env.put("s", "a", "x")->sequence_number;
  const std::string prefix =
      "Must either specify (1) AT_SEQUENCE_NUMBER or AFTER_SEQUENCE_NUMBER and "
      "StartingSequenceNumber or (2) TRIM_HORIZON or LATEST and no StartingSequenceNumber. "
      "Request specified ";
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kTrimHorizon, seq).status().message(),
            prefix + "TRIM_HORIZON and also a StartingSequenceNumber.");
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kLatest, seq).status().message(),
            prefix + "LATEST and also a StartingSequenceNumber.");
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtSequenceNumber).status().message(),
            prefix + "AT_SEQUENCE_NUMBER and no StartingSequenceNumber.");
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAfterSequenceNumber).status().message(),
            prefix + "AFTER_SEQUENCE_NUMBER and no StartingSequenceNumber.");
}

TEST(GetShardIteratorTest, Spec9_9_Test5_StartingSequenceNumberChecks) {
  ServiceEnv env;
  env.create("s", 3);
  auto five = env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, "5");
  EXPECT_EQ(five.status().message(),
            "Invalid StartingSequenceNumber. It encodes shardId-000000000005, while it was used "
            "in a call to a shard with shardId-000000000000");
  auto zero = env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, "0");
  EXPECT_EQ(zero.status().code(), Code::kInternal);  // 500 InternalFailure
  const std::string nibble8 = "784637716923513501441061922886090587758975617450052157442";
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, nibble8).status().message(),
            "StartingSequenceNumber " + nibble8 +
                " used in GetShardIterator on shard shardId-000000000000 in stream s under "
                "account 000000000000 is invalid.");
  const std::string negative = "49039857307708443467467104868809893875799651944235008002";
  EXPECT_EQ(
      env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, negative).status().message(),
      "Invalid StartingSequenceNumber. It encodes shardId--02147483648, while it was used "
      "in a call to a shard with shardId-000000000000");
  const std::string legacy_date = "26227199374822427428162556223570313216";
  EXPECT_NE(env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, legacy_date)
                .status()
                .message()
                .find("is invalid."),
            std::string_view::npos);
  // A number of another stream (other creation time) for the same shard index.
  const std::string foreign = encode_sequence_number({1600000000, 0, 1, 1600000000}).str();
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, foreign).status().message(),
            "StartingSequenceNumber " + foreign +
                " used in GetShardIterator on shard shardId-000000000000 in stream s under "
                "account 000000000000 is invalid because it did not come from this stream.");
}

TEST(GetShardIteratorTest, Spec9_9_Test6_AtTimestampMissingOrInTheFuture) {
  ServiceEnv env;
  env.create("s", 1);
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtTimestamp).status().message(),
            "Must specify timestampInMillis parameter for iterator of type AT_TIMESTAMP. Current "
            "request has no timestamp parameter.");
  const double future = static_cast<double>(env.clock.now_ms()) + 2000.0002;
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt, future)
                .status()
                .message(),
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
            "timestampInMillis: 1700000002000.0002, currentTimestampInMillis: 1700000000000");
  EXPECT_EQ(env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt, 1700000002123.0)
                .status()
                .message(),
            "The timestampInMillis parameter cannot be greater than the currentTimestampInMillis. "
            "timestampInMillis: 1700000002123, currentTimestampInMillis: 1700000000000");
}

TEST(GetShardIteratorTest, Spec9_9_Test7_RandomPrefixShardIdsWork) {
  ServiceEnv env;
  env.create("s", 1);
  for (auto type : {IteratorType::kLatest, IteratorType::kTrimHorizon}) {
    auto it = env.iterator("s", "foo-0", type);
    ASSERT_TRUE(it.ok()) << it.status();
    auto raw = internal::base64_decode(*it);
    ASSERT_TRUE(raw.has_value());
    EXPECT_GE(raw->size(), 152u);
    EXPECT_EQ((raw->size() - 152) % 16, 0u);
  }
}

TEST(GetShardIteratorTest, Spec9_9_Test8_IteratorLengthForNamesOf29And30Characters) {
  ServiceEnv env;
  for (size_t len : {29u, 30u, 128u}) {
    const std::string name(len, 'n');
    env.create(name, 1);
    auto it = env.iterator(name, kShard0, IteratorType::kLatest);
    ASSERT_TRUE(it.ok());
    EXPECT_LE(it->size(), 512u);
    auto raw = internal::base64_decode(*it);
    EXPECT_EQ((raw->size() - 152) % 16, 0u);
  }
}

TEST(GetShardIteratorTest, StartingSequenceNumberOfAShardIsValidForBothTypes) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "first").ok());
  const std::string start =
      env.svc().describe_stream({ServiceEnv::key("s")})->shards[0].starting_sequence_number;
  for (auto type : {IteratorType::kAtSequenceNumber, IteratorType::kAfterSequenceNumber}) {
    auto it = env.iterator("s", kShard0, type, start);
    ASSERT_TRUE(it.ok()) << it.status();
    EXPECT_EQ(datas(*env.get(*it)), std::vector<std::string>{"first"});
  }
}

// ---- GetRecords ----

TEST(GetRecordsTest, Spec9_10_Test2_RandomIteratorIsInvalid) {
  ServiceEnv env;
  for (const char* it : {"random", "AAAA", "\"\"", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}) {
    auto r = env.get(it);
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "Invalid ShardIterator.");
  }
}

TEST(GetRecordsTest, Spec9_10_Test3_ExpiredIteratorMessage) {
  ServiceEnv env;
  env.create("s", 1);
  env.clock.set_ms(1'421'889'722'000);  // Thu Jan 22 01:22:02 UTC 2015
  auto it = env.iterator("s", kShard0, IteratorType::kLatest);
  ASSERT_TRUE(it.ok());
  env.clock.advance_ms(300'000);
  EXPECT_TRUE(env.get(*it).ok());  // exactly 300000 ms is still fine
  env.clock.advance_ms(1);
  auto r = env.get(*it);
  EXPECT_EQ(r.status().code(), Code::kExpired);
  EXPECT_EQ(r.status().message(),
            "Iterator expired. The iterator was created at time Thu Jan 22 01:22:02 UTC 2015 "
            "while right now it is Thu Jan 22 01:27:02 UTC 2015 which is further in the future "
            "than the tolerated delay of 300000 milliseconds.");
}

TEST(GetRecordsTest, IteratorFromTheFutureIsInvalid) {
  ServiceEnv env;
  env.create("s", 1);
  auto it = env.iterator("s", kShard0, IteratorType::kLatest);
  env.clock.set_ms(env.clock.now_ms() - 1000);
  EXPECT_EQ(env.get(*it).status().message(), "Invalid ShardIterator.");
}

TEST(GetRecordsTest, Spec9_10_Test4_AtVersusAfterSequenceNumber) {
  ServiceEnv env;
  env.create("s", 1);
  std::vector<std::string> seqs;
  for (const char* d : {"r0", "r1", "r2"}) seqs.push_back(env.put("s", "a", d)->sequence_number);
  auto at = env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, seqs[1]);
  auto after = env.iterator("s", kShard0, IteratorType::kAfterSequenceNumber, seqs[1]);
  ASSERT_TRUE(at.ok() && after.ok());
  EXPECT_EQ(datas(*env.get(*at)), (std::vector<std::string>{"r1", "r2"}));
  EXPECT_EQ(datas(*env.get(*after)), (std::vector<std::string>{"r2"}));
  auto r = env.get(*at);
  EXPECT_EQ(r->records[0].sequence_number.view(), seqs[1]);
  // AFTER the last record: empty, positioned at the tip.
  auto tip = env.iterator("s", kShard0, IteratorType::kAfterSequenceNumber, seqs[2]);
  EXPECT_TRUE(env.get(*tip)->records.empty());
}

TEST(GetRecordsTest, SeekFindsEveryRecordAmongOthersShardsCounters) {
  ServiceEnv env;
  env.create("s", 2);
  std::vector<std::string> seqs0;
  for (int i = 0; i < 300; ++i) {
    auto r = env.put("s", i % 3 ? "a" : "b", std::to_string(i));  // gaps in shard 0's counters
    if (r->shard_id == kShard0) seqs0.push_back(r->sequence_number);
  }
  for (size_t i = 0; i < seqs0.size(); i += 17) {
    auto it = env.iterator("s", kShard0, IteratorType::kAtSequenceNumber, seqs0[i]);
    auto r = env.get(*it, 1);
    ASSERT_EQ(r->records.size(), 1u);
    EXPECT_EQ(r->records[0].sequence_number.view(), seqs0[i]);
  }
}

TEST(GetRecordsTest, Spec9_10_Test5_AtTimestampReturnsRecordsArrivedAtOrAfter) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "early").ok());
  env.clock.advance_ms(1000);
  const int64_t t = env.clock.now_ms();
  ASSERT_TRUE(env.put("s", "a", "at").ok());
  env.clock.advance_ms(1000);
  ASSERT_TRUE(env.put("s", "a", "late").ok());
  auto it = env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt,
                         static_cast<double>(t) - 0.5);
  EXPECT_EQ(datas(*env.get(*it)), (std::vector<std::string>{"at", "late"}));
  it = env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt,
                    static_cast<double>(t) + 0.5);
  EXPECT_EQ(datas(*env.get(*it)), (std::vector<std::string>{"late"}));
  env.clock.advance_ms(1);
  it = env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt,
                    static_cast<double>(env.clock.now_ms()));
  EXPECT_TRUE(env.get(*it)->records.empty());  // none yet: the tip
  // Older than retention: behaves as TRIM_HORIZON.
  it = env.iterator("s", kShard0, IteratorType::kAtTimestamp, std::nullopt, 1.0);
  EXPECT_EQ(datas(*env.get(*it)).size(), 3u);
}

TEST(GetRecordsTest, Spec9_10_Test6_LatestIteratorTakenBeforePutsReturnsThem) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "before").ok());
  auto it = env.iterator("s", kShard0, IteratorType::kLatest);
  ASSERT_TRUE(env.put("s", "a", "after1").ok());
  ASSERT_TRUE(env.put("s", "a", "after2").ok());
  EXPECT_EQ(datas(*env.get(*it)), (std::vector<std::string>{"after1", "after2"}));
}

TEST(GetRecordsTest, Spec9_10_Test7_TrimHorizonPagesWithLimitAndMillisBehindLatest) {
  ServiceEnv env;
  env.create("s", 1);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(env.put("s", "a", std::to_string(i)).ok());
  env.clock.advance_ms(1500);
  auto it = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  std::vector<std::string> all;
  std::string cur = *it;
  for (int page = 0; page < 4; ++page) {
    auto r = env.get(cur, 3);
    ASSERT_TRUE(r.ok());
    EXPECT_LE(r->records.size(), 3u);
    for (auto& d : datas(*r)) all.push_back(d);
    EXPECT_GE(r->millis_behind_latest, 0);
    EXPECT_LE(r->millis_behind_latest, 5000);
    if (page < 3) {
      EXPECT_EQ(r->millis_behind_latest, 1500);
    } else {
      EXPECT_EQ(r->millis_behind_latest, 0);  // caught up
    }
    ASSERT_TRUE(r->next_shard_iterator.has_value());
    EXPECT_TRUE(r->child_shards.empty());
    cur = *r->next_shard_iterator;
  }
  EXPECT_EQ(all.size(), 10u);
  EXPECT_EQ(all.front(), "0");
  EXPECT_EQ(all.back(), "9");
}

TEST(GetRecordsTest, Spec9_10_Test8_PollingAnIdleShardNeverExpires) {
  ServiceEnv env;
  env.create("s", 1);
  std::string cur = *env.iterator("s", kShard0, IteratorType::kLatest);
  for (int second = 0; second < 360; ++second) {
    env.clock.advance_ms(1000);
    auto r = env.get(cur);
    ASSERT_TRUE(r.ok()) << "after " << second << " s: " << r.status();
    cur = *r->next_shard_iterator;
  }
  ASSERT_TRUE(env.put("s", "a", "finally").ok());
  EXPECT_EQ(datas(*env.get(cur)), std::vector<std::string>{"finally"});
}

TEST(GetRecordsTest, Spec9_10_Test10_QuotedIteratorAccepted) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "x").ok());
  auto it = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  EXPECT_EQ(datas(*env.get("\"" + *it + "\"")), std::vector<std::string>{"x"});
}

TEST(GetRecordsTest, Spec9_10_Test11_DeletedStreamShardDoesNotExist) {
  ServiceEnv env(StreamServiceOptions{});  // real delays
  CreateStreamRequest req;
  req.stream = ServiceEnv::key("s");
  req.shard_count = 1;
  ASSERT_TRUE(env.svc().create_stream(req).ok());
  env.clock.advance_ms(500);
  auto it = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  ASSERT_TRUE(it.ok());
  ASSERT_TRUE(env.svc().delete_stream(ServiceEnv::key("s")).ok());
  EXPECT_TRUE(env.get(*it).ok());  // still DELETING: reads go on
  env.clock.advance_ms(500);
  EXPECT_EQ(env.get(*it).status().message(),
            "Shard shardId-000000000000 in stream s under account 000000000000 does not exist");
}

TEST(GetRecordsTest, Spec9_10_Test12_OneCallReturnsAtMostTenMiB) {
  ServiceEnv env;
  env.create("s", 1);
  const std::string mib(1024 * 1024 - 1, 'x');
  for (int i = 0; i < 12; ++i) ASSERT_TRUE(env.put("s", "k", mib).ok());
  auto it = env.iterator("s", kShard0, IteratorType::kTrimHorizon);
  auto r = env.get(*it);
  ASSERT_TRUE(r.ok());
  size_t bytes = 0;
  for (const auto& rec : r->records) bytes += rec.data.size();
  EXPECT_LE(bytes, 10u * 1024 * 1024);
  EXPECT_EQ(r->records.size(), 10u);
  auto rest = env.get(*r->next_shard_iterator);
  EXPECT_EQ(rest->records.size(), 2u);
}

TEST(GetRecordsTest, Spec7_3_Step7_StreamArnMustMatchTheIterator) {
  ServiceEnv env;
  env.create("s", 1);
  env.create("t", 1);
  auto it = env.iterator("s", kShard0, IteratorType::kLatest);
  GetRecordsRequest req;
  req.shard_iterator = *it;
  const std::string right = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
  req.stream_arn = right;
  EXPECT_TRUE(env.svc().get_records(req).ok());
  const std::string wrong = "arn:aws:kinesis:us-east-1:000000000000:stream/t";
  req.stream_arn = wrong;
  EXPECT_EQ(env.svc().get_records(req).status().message(),
            "StreamARN does not match the shard iterator.");
}

TEST(GetRecordsTest, LimitOutsideTheRangeIsRejected) {
  ServiceEnv env;
  env.create("s", 1);
  auto it = env.iterator("s", kShard0, IteratorType::kLatest);
  EXPECT_EQ(env.get(*it, 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(env.get(*it, 10001).status().code(), Code::kInvalidArgument);
  EXPECT_TRUE(env.get(*it, 10000).ok());
}

// ---- Retention (8.1, 9.15) ----

TEST(RetentionTest, Spec8_1_RecordsOlderThanRetentionAreInvisibleOnEveryReadPath) {
  ServiceEnv env;
  env.create("s", 1);
  ASSERT_TRUE(env.put("s", "a", "old").ok());
  env.clock.advance_ms(23 * 3'600'000);
  ASSERT_TRUE(env.put("s", "a", "new").ok());
  auto early = env.iterator("s", kShard0, IteratorType::kTrimHorizon);  // taken before expiry
  env.clock.advance_ms(3'600'000 + 1);  // "old" is now 24 h + 1 ms old
  EXPECT_EQ(env.drain("s", kShard0), std::vector<std::string>{"new"});
  auto stale = env.get(*env.iterator("s", kShard0, IteratorType::kTrimHorizon));
  EXPECT_EQ(datas(*stale), std::vector<std::string>{"new"});
  // An iterator positioned before the horizon (made earlier, refreshed) skips it too.
  (void)early;
}

TEST(RetentionTest, Spec9_15_DecreaseHidesOldRecordsAndIncreaseDoesNotResurrect) {
  ServiceEnv env;
  env.create("s", 1);
  const StreamKey k = ServiceEnv::key("s");
  ASSERT_TRUE(env.svc().increase_retention_period(k, 48).ok());
  ASSERT_TRUE(env.put("s", "a", "old").ok());
  env.clock.advance_ms(30 * 3'600'000);
  ASSERT_TRUE(env.put("s", "a", "new").ok());
  EXPECT_EQ(env.drain("s", kShard0).size(), 2u);
  ASSERT_TRUE(env.svc().decrease_retention_period(k, 24).ok());
  EXPECT_EQ(env.drain("s", kShard0), std::vector<std::string>{"new"});
  ASSERT_TRUE(env.svc().increase_retention_period(k, 72).ok());
  EXPECT_EQ(env.drain("s", kShard0), std::vector<std::string>{"new"});
}

TEST(RetentionTest, MaintenanceTrimsSegmentsWithoutChangingWhatIsVisible) {
  ServiceEnv env;
  env.create("s", 1);
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(env.put("s", "a", "day" + std::to_string(i)).ok());
    env.clock.advance_ms(2 * 3'600'000);  // segments roll by age (1 h)
  }
  env.clock.advance_ms(16 * 3'600'000);
  const auto before = env.drain("s", kShard0);
  ASSERT_TRUE(env.svc().run_maintenance().ok());
  EXPECT_EQ(env.drain("s", kShard0), before);
  EXPECT_LT(before.size(), 5u);
}

TEST(LatestSequenceNumberTest, IsTheNewestRecordOrNothing) {
  ServiceEnv env;
  env.create("s", 1);
  auto none = env.svc().latest_sequence_number(ServiceEnv::key("s"), kShard0);
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_FALSE(none->has_value());
  ASSERT_TRUE(env.put("s", "a", "1").ok());
  auto second = env.put("s", "b", "2");
  ASSERT_TRUE(second.ok());
  auto latest = env.svc().latest_sequence_number(ServiceEnv::key("s"), kShard0);
  ASSERT_TRUE(latest.ok()) << latest.status();
  EXPECT_EQ(latest->value_or(""), second->sequence_number);
  EXPECT_TRUE(
      env.svc().latest_sequence_number(ServiceEnv::key("s"), kShard1).status().is_not_found());
  EXPECT_TRUE(
      env.svc().latest_sequence_number(ServiceEnv::key("t"), kShard0).status().is_not_found());
}

TEST(AppendListenerTest, HearsEveryStoringPut) {
  ServiceEnv env;
  env.create("s", 2);
  std::vector<std::string> heard;
  env.svc().set_append_listener([&](const StreamKey& k) { heard.push_back(k.name); });
  ASSERT_TRUE(env.put("s", "a", "1").ok());
  PutRecordsEntry e{"b", as_bytes(std::string_view("2"))};
  PutRecordsRequest req;
  req.stream = ServiceEnv::key("s");
  req.records = std::span(&e, 1);
  ASSERT_TRUE(env.svc().put_records(req).ok());
  EXPECT_EQ(heard, (std::vector<std::string>{"s", "s"}));
}

}  // namespace
}  // namespace sluice::stream
