#include "esm/engine.h"

#include "base/base64.h"
#include "esm/event_builder.h"
#include "tests/stream/stream_test_env.h"
#include "tests/support/fake_destinations.h"
#include "tests/support/scripted_invoker.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <set>
#include <simdjson.h>
#include <string>
#include <thread>
#include <vector>

namespace sluice::esm {
namespace {

using sluice::testing::FakeDestinations;
using sluice::testing::ScriptedInvoker;
using stream::testing::ServiceEnv;
using namespace std::chrono_literals;

constexpr std::string_view kFunctionArn = "arn:aws:lambda:us-east-1:000000000000:function:f";
constexpr std::string_view kRole = "arn:aws:iam::000000000000:role/r";

struct DeliveredRecord {
  std::string shard_id;
  std::string sequence_number;
  std::string partition_key;
  std::string data;
};

// The records of one invocation's event, in order.
std::vector<DeliveredRecord> records_of(const function::Invocation& inv) {
  std::vector<DeliveredRecord> out;
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(inv.payload);
  for (simdjson::dom::element r : doc["Records"].get_array()) {
    DeliveredRecord d;
    const std::string_view event_id = r["eventID"].get_string();
    d.shard_id = std::string(event_id.substr(0, event_id.find(':')));
    d.sequence_number = std::string(r["kinesis"]["sequenceNumber"].get_string().value());
    d.partition_key = std::string(r["kinesis"]["partitionKey"].get_string().value());
    std::string data;
    EXPECT_FALSE(base64_decode(r["kinesis"]["data"].get_string().value(), data));
    d.data = data;
    EXPECT_EQ(std::string_view(r["invokeIdentityArn"].get_string().value()), kRole);
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<std::string> data_of(const function::Invocation& inv) {
  std::vector<std::string> out;
  for (auto& r : records_of(inv)) out.push_back(r.data);
  return out;
}

// A script that fails every batch holding the record whose data is `poison`.
ScriptedInvoker::Script fail_on(std::string poison) {
  return [poison = std::move(poison)](const function::Invocation& inv, size_t) {
    for (auto& d : data_of(inv)) {
      if (d == poison) return ScriptedInvoker::function_error();
    }
    return ScriptedInvoker::ok();
  };
}

// Waits until `pred` holds; false after `deadline`.
template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds deadline = 10s) {
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < end) {
    if (pred()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return pred();
}

class EngineTest : public ::testing::Test {
 protected:
  EngineTest() { env.create("s", 1); }
  ~EngineTest() override {
    if (engine) engine->shutdown();
  }

  // An invoker owned by the fixture: it must outlive the engine, which shuts down only in
  // ~EngineTest, after a test body's locals are gone.
  ScriptedInvoker& invoker_for(ScriptedInvoker::Script script) {
    invokers_.push_back(std::make_unique<ScriptedInvoker>(std::move(script)));
    return *invokers_.back();
  }
  std::vector<std::unique_ptr<ScriptedInvoker>> invokers_;  // declared before `engine`

  void open_engine(ScriptedInvoker* invoker, int64_t shutdown_wait_ms = 10'000) {
    EngineOptions o;
    o.shutdown_wait_ms = shutdown_wait_ms;
    o.idle_poll_ms = 50;
    o.transition_delay_ms = 0;
    o.retry_base_ms = 5;
    o.retry_max_ms = 20;
    o.throttle_wait_ms = 5;
    auto functions = [role = role](const std::string& arn) -> Result<FunctionInfo> {
      if (arn != kFunctionArn) return Status::not_found("no such function");
      return FunctionInfo{role, 3};
    };
    o.destination_retry_ms = 5;
    auto e = Engine::open(&env.svc(), &esm_store, invoker, functions, &env.clock, o, &destinations);
    ASSERT_TRUE(e.ok()) << e.status();
    engine = std::move(*e);
    engine->start();
  }

  Mapping draft(StartingPosition position = StartingPosition::kTrimHorizon) {
    Mapping m;
    m.account = "000000000000";
    m.region = "us-east-1";
    m.function_arn = std::string(kFunctionArn);
    m.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/s";
    m.starting_position = position;
    return m;
  }

  std::string create(Mapping m) {
    auto created = engine->create(std::move(m));
    EXPECT_TRUE(created.ok()) << created.status();
    if (!created.ok()) return "";
    EXPECT_EQ(created->state, MappingState::kCreating);
    const std::string uuid = created->uuid;
    EXPECT_TRUE(eventually([&] { return engine->get(uuid)->state == MappingState::kEnabled; }));
    return uuid;
  }

  // Records r<from>..r<to - 1> in one PutRecords call (one wake-up, one read).
  void put_all(int from, int to) {
    std::vector<std::string> keys, data;
    for (int i = from; i < to; ++i) {
      keys.push_back(fmt::format("k{}", i));
      data.push_back(fmt::format("r{}", i));
    }
    std::vector<stream::PutRecordsEntry> entries;
    for (size_t i = 0; i < keys.size(); ++i) entries.push_back({keys[i], as_bytes(data[i])});
    stream::PutRecordsRequest req;
    req.stream = ServiceEnv::key("s");
    req.records = entries;
    auto r = env.svc().put_records(req);
    ASSERT_TRUE(r.ok()) << r.status();
    ASSERT_EQ(r->failed_record_count, 0);
  }

  void put(int from, int to, std::string_view key_prefix = "k") {
    for (int i = from; i < to; ++i) {
      ASSERT_TRUE(env.put("s", fmt::format("{}{}", key_prefix, i), fmt::format("r{}", i)).ok());
    }
  }

  ServiceEnv env;
  std::string role = std::string(kRole);  // the function's execution role, set before open_engine
  stream::testing::MemMetadataStore esm_store;  // the engine's own, so failures hit only it
  FakeDestinations destinations;
  std::unique_ptr<Engine> engine;
};

constexpr std::string_view kQueueArn = "arn:aws:sqs:us-east-1:000000000000:dlq";

// The sequence number of the record whose data is `data`, as the function saw it.
std::string sequence_of(const std::vector<function::Invocation>& calls, std::string_view data) {
  for (const auto& c : calls) {
    for (const auto& r : records_of(c)) {
      if (r.data == data) return r.sequence_number;
    }
  }
  return "";
}

TEST_F(EngineTest, DeliversInOrderInBatchesOfBatchSize) {
  put(0, 25);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 10;
  create(m);
  ASSERT_TRUE(invoker.wait_for_calls(3));
  put_all(25, 30);
  ASSERT_TRUE(invoker.wait_for_calls(4));
  const auto calls = invoker.calls();
  ASSERT_EQ(calls.size(), 4u);
  std::vector<size_t> sizes;
  std::vector<std::string> all;
  for (const auto& c : calls) {
    auto d = data_of(c);
    sizes.push_back(d.size());
    all.insert(all.end(), d.begin(), d.end());
    EXPECT_EQ(c.function_arn, kFunctionArn);
  }
  EXPECT_EQ(sizes, (std::vector<size_t>{10, 10, 5, 5}));
  ASSERT_EQ(all.size(), 30u);
  for (int i = 0; i < 30; ++i) EXPECT_EQ(all[static_cast<size_t>(i)], fmt::format("r{}", i));
}

TEST_F(EngineTest, LatestSkipsRecordsPutBeforeEnablement) {
  put(0, 3);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  create(draft(StartingPosition::kLatest));
  env.clock.advance_ms(5);  // arrivals after the start position
  put_all(3, 5);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(data_of(invoker.calls()[0]), (std::vector<std::string>{"r3", "r4"}));
}

TEST_F(EngineTest, CheckpointSurvivesRestartOfTheEngine) {
  put(0, 10);
  {
    ScriptedInvoker& invoker =
        invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
    open_engine(&invoker);
    create(draft());
    ASSERT_TRUE(invoker.wait_for_calls(1));
    EXPECT_EQ(data_of(invoker.calls()[0]).size(), 10u);
    engine->shutdown();
    engine.reset();
  }
  put(10, 13);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(data_of(invoker.calls()[0]), (std::vector<std::string>{"r10", "r11", "r12"}));
  EXPECT_EQ(engine->list().size(), 1u);
  EXPECT_EQ(engine->list()[0].last_processing_result, "OK");
}

TEST_F(EngineTest, FunctionErrorRetriesTheWholeBatchUntilRetriesAreSpent) {
  put(0, 4);
  ScriptedInvoker& invoker = invoker_for(fail_on("r2"));
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 4;
  m.maximum_retry_attempts = 2;
  const std::string uuid = create(m);
  ASSERT_TRUE(invoker.wait_for_calls(3));
  put(4, 5);
  ASSERT_TRUE(invoker.wait_for_calls(4));
  const auto calls = invoker.calls();
  ASSERT_EQ(calls.size(), 4u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(data_of(calls[static_cast<size_t>(i)]),
              (std::vector<std::string>{"r0", "r1", "r2", "r3"}));
    if (i > 0) {
      EXPECT_NE(calls[static_cast<size_t>(i)].request_id, calls[0].request_id);
    }
  }
  // Discarded after three invocations; the shard moves on.
  EXPECT_EQ(data_of(calls[3]), (std::vector<std::string>{"r4"}));
  EXPECT_NE(engine->metrics_text().find(fmt::format(
                "sluice_esm_discarded_records_total{{mapping=\"{}\",function=\"f\"}} 4", uuid)),
            std::string::npos)
      << engine->metrics_text();
}

TEST_F(EngineTest, BisectIsolatesThePoisonRecordAndKeepsOrder) {
  put(1, 9);  // r1..r8
  ScriptedInvoker& invoker = invoker_for(fail_on("r6"));
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 8;
  m.maximum_retry_attempts = 0;
  m.bisect_batch_on_function_error = true;
  create(m);
  // [1-8] fails -> [1-4] ok, [5-8] fails -> [5,6] fails -> [5] ok, [6] fails (discarded),
  // then [7,8] ok.
  ASSERT_TRUE(invoker.wait_for_calls(7));
  std::vector<std::vector<std::string>> batches;
  for (const auto& c : invoker.calls()) batches.push_back(data_of(c));
  const std::vector<std::vector<std::string>> expected = {
      {"r1", "r2", "r3", "r4", "r5", "r6", "r7", "r8"},
      {"r1", "r2", "r3", "r4"},
      {"r5", "r6", "r7", "r8"},
      {"r5", "r6"},
      {"r5"},
      {"r6"},
      {"r7", "r8"}};
  EXPECT_EQ(batches, expected);
}

TEST_F(EngineTest, PartialBatchResponseRetriesFromTheLowestReportedRecord) {
  put(0, 5);
  std::atomic<bool> failed_once{false};
  ScriptedInvoker& invoker = invoker_for([&](const function::Invocation& inv, size_t) {
    auto recs = records_of(inv);
    if (recs.size() == 5 && !failed_once.exchange(true)) {
      return ScriptedInvoker::ok(fmt::format(
          R"({{"batchItemFailures":[{{"itemIdentifier":"{}"}},{{"itemIdentifier":"{}"}}]}})",
          recs[3].sequence_number, recs[1].sequence_number));
    }
    return ScriptedInvoker::ok();
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 5;
  m.report_batch_item_failures = true;
  create(m);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  const auto calls = invoker.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(data_of(calls[1]), (std::vector<std::string>{"r1", "r2", "r3", "r4"}));
  engine->shutdown();  // the script uses this body's locals: stop it before they go
}

TEST_F(EngineTest, AFailingShardDoesNotHoldUpTheOthers) {
  env.create("two", 2);
  ScriptedInvoker& invoker = invoker_for([](const function::Invocation& inv, size_t) {
    return records_of(inv)[0].shard_id == "shardId-000000000000" ? ScriptedInvoker::function_error()
                                                                 : ScriptedInvoker::ok();
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/two";
  create(m);
  // Hash keys: 0 goes to the first shard, 2^127 + 1 to the second.
  ASSERT_TRUE(env.put("two", "a", "bad", "0").ok());
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(
        env.put("two", "b", fmt::format("good{}", i), "170141183460469231731687303715884105729")
            .ok());
    ASSERT_TRUE(eventually([&] {
      for (const auto& c : invoker.calls()) {
        auto d = data_of(c);
        if (!d.empty() && d.back() == fmt::format("good{}", i)) return true;
      }
      return false;
    }));
  }
  size_t failures = 0;
  for (const auto& c : invoker.calls()) failures += data_of(c)[0] == "bad" ? 1 : 0;
  EXPECT_GE(failures, 1u);
}

TEST_F(EngineTest, DisableKeepsTheCheckpointAndEnableResumesFromIt) {
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  const std::string uuid = create(draft(StartingPosition::kLatest));
  env.clock.advance_ms(5);
  put_all(0, 2);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  auto disabled = engine->update(uuid, [](Mapping& m) {
    m.enabled = false;
    return Status();
  });
  ASSERT_TRUE(disabled.ok());
  EXPECT_EQ(disabled->state, MappingState::kDisabling);
  ASSERT_TRUE(eventually([&] { return engine->get(uuid)->state == MappingState::kDisabled; }));
  put_all(2, 4);
  auto enabled = engine->update(uuid, [](Mapping& m) {
    m.enabled = true;
    return Status();
  });
  ASSERT_TRUE(enabled.ok());
  EXPECT_EQ(enabled->state, MappingState::kEnabling);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  const auto calls = invoker.calls();
  ASSERT_EQ(calls.size(), 2u);
  EXPECT_EQ(data_of(calls[0]), (std::vector<std::string>{"r0", "r1"}));
  EXPECT_EQ(data_of(calls[1]), (std::vector<std::string>{"r2", "r3"}));
}

TEST_F(EngineTest, ParentShardIsDrainedBeforeItsChildren) {
  put(0, 5);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 2;
  create(m);
  ASSERT_TRUE(invoker.wait_for_calls(3));
  ASSERT_TRUE(env.svc()
                  .split_shard(ServiceEnv::key("s"), "shardId-000000000000",
                               "170141183460469231731687303715884105728")
                  .ok());
  put(5, 15);
  ASSERT_TRUE(eventually([&] {
    size_t n = 0;
    for (const auto& c : invoker.calls()) n += data_of(c).size();
    return n >= 15;
  }));
  std::map<std::string, std::vector<DeliveredRecord>> by_shard;
  std::vector<std::string> shard_order;
  for (const auto& c : invoker.calls()) {
    for (auto& r : records_of(c)) {
      shard_order.push_back(r.shard_id);
      by_shard[r.shard_id].push_back(r);
    }
  }
  ASSERT_EQ(shard_order.size(), 15u);
  for (size_t i = 0; i < 5; ++i) EXPECT_EQ(shard_order[i], "shardId-000000000000");
  for (size_t i = 5; i < 15; ++i) EXPECT_NE(shard_order[i], "shardId-000000000000");
  EXPECT_EQ(by_shard.size(), 3u);
}

TEST_F(EngineTest, ThrottledInvocationsWaitWithoutSpendingRetries) {
  put(0, 1);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t index) {
    return index < 5 ? ScriptedInvoker::unavailable() : ScriptedInvoker::ok();
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.maximum_retry_attempts = 0;
  const std::string uuid = create(m);
  ASSERT_TRUE(invoker.wait_for_calls(6));
  for (const auto& c : invoker.calls()) EXPECT_EQ(data_of(c), (std::vector<std::string>{"r0"}));
  EXPECT_TRUE(eventually([&] { return engine->get(uuid)->last_processing_result == "OK"; }));
}

TEST_F(EngineTest, CreateRefusesAMissingStreamAndADuplicate) {
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping missing = draft();
  missing.event_source_arn = "arn:aws:kinesis:us-east-1:000000000000:stream/none";
  auto r = engine->create(missing);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(),
            "Stream not found: arn:aws:kinesis:us-east-1:000000000000:stream/none");
  const std::string uuid = create(draft());
  auto dup = engine->create(draft());
  EXPECT_EQ(dup.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(dup.status().message(),
            "The event source arn (\" arn:aws:kinesis:us-east-1:000000000000:stream/s \") and "
            "function (\" f \") provided mapping already exists. Please update or delete the "
            "existing mapping with UUID " +
                uuid);
}

TEST_F(EngineTest, DeleteForgetsTheMappingAndItsCheckpoints) {
  put(0, 1);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  const std::string uuid = create(draft());
  ASSERT_TRUE(invoker.wait_for_calls(1));
  auto removed = engine->remove(uuid);
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->state, MappingState::kDeleting);
  ASSERT_TRUE(eventually([&] { return engine->get(uuid).status().is_not_found(); }));
  EXPECT_EQ(esm_store.size("esm.mapping"), 0u);
  EXPECT_EQ(esm_store.size("esm.checkpoint"), 0u);
}

TEST_F(EngineTest, ParallelizationFactorOverlapsLanesAndKeepsOrderPerKey) {
  std::atomic<int> running{0};
  std::atomic<int> most{0};
  ScriptedInvoker& invoker = invoker_for([&](const auto&, size_t) {
    const int now = ++running;
    int seen = most.load();
    while (now > seen && !most.compare_exchange_weak(seen, now)) {
    }
    std::this_thread::sleep_for(30ms);
    --running;
    return ScriptedInvoker::ok();
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.parallelization_factor = 4;
  m.batch_size = 2;
  create(m);
  for (int i = 0; i < 40; ++i) {
    ASSERT_TRUE(env.put("s", fmt::format("key{}", i % 8), fmt::format("r{}", i)).ok());
  }
  ASSERT_TRUE(eventually([&] {
    size_t n = 0;
    for (const auto& c : invoker.calls()) n += data_of(c).size();
    return n >= 40;
  }));
  EXPECT_GE(most.load(), 2);
  EXPECT_LE(most.load(), 4);
  std::map<std::string, std::vector<int>> per_key;
  size_t total = 0;
  for (const auto& c : invoker.calls()) {
    for (const auto& r : records_of(c)) {
      per_key[r.partition_key].push_back(std::stoi(r.data.substr(1)));
      ++total;
    }
  }
  EXPECT_EQ(total, 40u);
  ASSERT_EQ(per_key.size(), 8u);
  for (const auto& [key, seen] : per_key) {
    EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end())) << key;
    EXPECT_EQ(seen.size(), 5u) << key;
  }
  engine->shutdown();  // the script uses this body's locals: stop it before they go
}

TEST_F(EngineTest, WithLanesTheCheckpointStopsAtTheFirstUnfinishedRecordAcrossARestart) {
  // r0..r19 over 8 keys in 4 lanes; r5 fails until the restart, so its lane stops there while
  // the others go on. The checkpoint may only pass what every lane finished: r0..r4.
  {
    ScriptedInvoker& invoker = invoker_for(fail_on("r5"));
    open_engine(&invoker);
    Mapping m = draft();
    m.parallelization_factor = 4;
    m.batch_size = 1;
    m.maximum_retry_attempts = -1;
    create(m);
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE(env.put("s", fmt::format("key{}", i % 8), fmt::format("r{}", i)).ok());
    }
    const std::string blocked_key = "key5";
    // The other lanes run dry while r5 keeps failing: wait until r5 was tried a few times and
    // nothing new was delivered for a while.
    size_t last = 0;
    auto stable_since = std::chrono::steady_clock::now();
    ASSERT_TRUE(eventually([&] {
      std::set<std::string> done;
      int r5_tries = 0;
      for (const auto& c : invoker.calls()) {
        for (const auto& r : records_of(c)) {
          if (r.data == "r5") ++r5_tries;
          done.insert(r.data);
        }
      }
      if (done.size() != last) {
        last = done.size();
        stable_since = std::chrono::steady_clock::now();
      }
      return r5_tries >= 3 && std::chrono::steady_clock::now() - stable_since > 200ms;
    }));
    for (const auto& c : invoker.calls()) {
      for (const auto& r : records_of(c)) {
        if (r.partition_key == blocked_key) {
          EXPECT_EQ(r.data, "r5");  // r13 waits behind it in its lane
        }
      }
    }
    engine->shutdown();
    engine.reset();
  }
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  std::set<std::string> expected;
  for (int i = 5; i < 20; ++i) expected.insert(fmt::format("r{}", i));
  std::set<std::string> again;
  ASSERT_TRUE(eventually([&] {
    again.clear();
    for (const auto& c : invoker.calls()) {
      for (auto& d : data_of(c)) again.insert(d);
    }
    return again.size() >= expected.size();
  }));
  std::this_thread::sleep_for(50ms);
  again.clear();
  for (const auto& c : invoker.calls()) {
    for (auto& d : data_of(c)) again.insert(d);
  }
  // Nothing before the first unfinished record comes again; nothing after it is lost.
  EXPECT_EQ(again, expected);
}

TEST_F(EngineTest, AnInvocationThatOutlivesTheEngineIsDeliveredAgainAfterARestart) {
  // The function answers only after the engine has given up waiting for it, shut down and
  // been destroyed: its answer must touch nothing of the engine that is gone (ASan sees it),
  // and, never checkpointed, the record comes again from the next engine.
  auto release = std::make_shared<std::atomic<bool>>(false);
  ScriptedInvoker& slow = invoker_for([release](const auto&, size_t) {
    while (!release->load()) std::this_thread::sleep_for(1ms);
    return ScriptedInvoker::ok();
  });
  open_engine(&slow, /*shutdown_wait_ms=*/50);
  create(draft());
  put(0, 1);
  ASSERT_TRUE(eventually([&] { return slow.calls().size() == 1; }));
  engine->shutdown();
  engine.reset();
  release->store(true);
  ASSERT_TRUE(slow.wait_for_calls(1));  // the answer was handed to the callback, which returned

  ScriptedInvoker& again = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&again);
  ASSERT_TRUE(eventually([&] { return !again.calls().empty(); }));
  EXPECT_EQ(data_of(again.calls().front()), std::vector<std::string>{"r0"});
}

TEST_F(EngineTest, RecordsOlderThanTheMaximumAgeAreDiscardedBeforeInvoking) {
  put(0, 1);
  env.clock.advance_ms(61'000);
  put_all(1, 6);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 10;
  m.maximum_record_age_s = 60;
  m.maximum_retry_attempts = 0;
  const std::string uuid = create(m);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(data_of(invoker.calls()[0]), (std::vector<std::string>{"r1", "r2", "r3", "r4", "r5"}));
  EXPECT_NE(engine->metrics_text().find(fmt::format(
                "sluice_esm_expired_records_total{{mapping=\"{}\",function=\"f\"}} 1", uuid)),
            std::string::npos);
}

TEST_F(EngineTest, ThrottledRecordsLeaveOnlyByAge) {
  put(0, 1);
  ScriptedInvoker& invoker =
      invoker_for([](const auto&, size_t) { return ScriptedInvoker::unavailable(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.maximum_record_age_s = 60;
  m.maximum_retry_attempts = 0;
  const std::string uuid = create(m);
  ASSERT_TRUE(invoker.wait_for_calls(3));  // not discarded by the retry limit
  env.clock.advance_ms(61'000);
  const std::string expired =
      fmt::format("sluice_esm_expired_records_total{{mapping=\"{}\",function=\"f\"}} 1", uuid);
  ASSERT_TRUE(
      eventually([&] { return engine->metrics_text().find(expired) != std::string::npos; }));
  const size_t calls = invoker.calls().size();
  put(1, 2);
  ASSERT_TRUE(invoker.wait_for_calls(calls + 1));
  EXPECT_EQ(data_of(invoker.calls().back()), (std::vector<std::string>{"r1"}));
}

TEST_F(EngineTest, ACheckpointStoreFailureDelaysTheCheckpointButNotDelivery) {
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  const std::string uuid = create(draft());
  esm_store.fail_applies(true);
  put_all(0, 3);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  put_all(3, 5);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  esm_store.fail_applies(false);
  // The writer retries; once it has landed, a restart resumes after r4.
  engine->shutdown();
  engine.reset();
  put_all(5, 6);
  ScriptedInvoker& again = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&again);
  ASSERT_TRUE(again.wait_for_calls(1));
  EXPECT_EQ(data_of(again.calls()[0]), (std::vector<std::string>{"r5"}));
}

// The window fields of a tumbling-window event (spec 2.2).
struct WindowEvent {
  size_t records = 0;
  std::string start, end, state;
  bool final_invoke = false;
  bool terminated_early = false;
};

WindowEvent window_event(const function::Invocation& inv) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(inv.payload);
  WindowEvent w;
  w.records = doc["Records"].get_array().size();
  w.start = std::string(doc["window"]["start"].get_string().value());
  w.end = std::string(doc["window"]["end"].get_string().value());
  w.state = simdjson::minify(doc["state"]);
  w.final_invoke = doc["isFinalInvokeForWindow"].get_bool();
  w.terminated_early = doc["isWindowTerminatedEarly"].get_bool();
  EXPECT_EQ(std::string_view(doc["shardId"].get_string().value()), "shardId-000000000000");
  return w;
}

// A function that counts records into {"count": n}.
function::InvokeOutcome count_into_state(const function::Invocation& inv) {
  simdjson::dom::parser parser;
  simdjson::dom::element doc = parser.parse(inv.payload);
  int64_t count = 0;
  if (doc["state"]["count"].get(count) != simdjson::SUCCESS) count = 0;  // a fresh state
  count += static_cast<int64_t>(doc["Records"].get_array().size());
  return ScriptedInvoker::ok(fmt::format(R"({{"state":{{"count":{}}}}})", count));
}

TEST_F(EngineTest, TumblingWindowCarriesStateAndEndsWithAFinalInvocation) {
  ScriptedInvoker& invoker =
      invoker_for([](const auto& inv, size_t) { return count_into_state(inv); });
  open_engine(&invoker);
  Mapping m = draft(StartingPosition::kTrimHorizon);
  m.tumbling_window_s = 60;
  create(m);
  // ManualClock starts at 1'700'000'000'000 ms = 22:13:20Z: in the window [22:13:00Z, 22:14:00Z).
  put_all(0, 3);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  put_all(3, 5);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  env.clock.advance_ms(41'000);  // the window is over, and its second of grace
  ASSERT_TRUE(invoker.wait_for_calls(3));
  put_all(5, 6);  // the next window
  ASSERT_TRUE(invoker.wait_for_calls(4));
  const auto calls = invoker.calls();
  ASSERT_EQ(calls.size(), 4u);
  const WindowEvent a = window_event(calls[0]);
  const WindowEvent b = window_event(calls[1]);
  const WindowEvent fin = window_event(calls[2]);
  const WindowEvent next = window_event(calls[3]);
  EXPECT_EQ(a.start, "2023-11-14T22:13:00Z");
  EXPECT_EQ(a.end, "2023-11-14T22:14:00Z");
  EXPECT_EQ(a.records, 3u);
  EXPECT_EQ(a.state, "{}");
  EXPECT_FALSE(a.final_invoke);
  EXPECT_EQ(b.records, 2u);
  EXPECT_EQ(b.state, R"({"count":3})");
  EXPECT_EQ(fin.records, 0u);
  EXPECT_TRUE(fin.final_invoke);
  EXPECT_EQ(fin.state, R"({"count":5})");
  EXPECT_EQ(fin.start, a.start);
  EXPECT_EQ(next.start, "2023-11-14T22:14:00Z");
  EXPECT_EQ(next.state, "{}");
  EXPECT_EQ(next.records, 1u);
  EXPECT_FALSE(next.final_invoke);
}

TEST_F(EngineTest, TumblingWindowResponseWithoutStateIsAFunctionError) {
  ScriptedInvoker& invoker = invoker_for([](const auto& inv, size_t index) {
    return index == 0 ? ScriptedInvoker::ok("null") : count_into_state(inv);
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.tumbling_window_s = 60;
  m.maximum_retry_attempts = 3;
  const std::string uuid = create(m);
  put_all(0, 2);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  const auto calls = invoker.calls();
  EXPECT_EQ(window_event(calls[0]).records, 2u);
  EXPECT_EQ(window_event(calls[1]).records, 2u);  // the same batch again
  EXPECT_EQ(window_event(calls[1]).state, "{}");
  EXPECT_NE(engine->metrics_text().find(fmt::format(
                "sluice_esm_function_errors_total{{mapping=\"{}\",function=\"f\"}} 1", uuid)),
            std::string::npos);
}

TEST_F(EngineTest, TumblingWindowStateOverOneMegabyteStartsAfresh) {
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t index) {
    if (index == 0) {
      return ScriptedInvoker::ok(R"({"state":{"big":")" + std::string(1024 * 1024, 'x') + R"("}})");
    }
    return ScriptedInvoker::ok(R"({"state":{"small":1}})");
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.tumbling_window_s = 60;
  create(m);
  put_all(0, 1);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  put_all(1, 2);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  const WindowEvent second = window_event(invoker.calls()[1]);
  EXPECT_TRUE(second.terminated_early);
  EXPECT_EQ(second.state, "{}");
  put_all(2, 3);
  ASSERT_TRUE(invoker.wait_for_calls(3));
  const WindowEvent third = window_event(invoker.calls()[2]);
  EXPECT_FALSE(third.terminated_early);
  EXPECT_EQ(third.state, R"({"small":1})");
}

TEST_F(EngineTest, TumblingWindowStateSurvivesARestart) {
  {
    ScriptedInvoker& invoker =
        invoker_for([](const auto& inv, size_t) { return count_into_state(inv); });
    open_engine(&invoker);
    Mapping m = draft();
    m.tumbling_window_s = 60;
    create(m);
    put_all(0, 3);
    ASSERT_TRUE(invoker.wait_for_calls(1));
    engine->shutdown();
    engine.reset();
  }
  ScriptedInvoker& invoker =
      invoker_for([](const auto& inv, size_t) { return count_into_state(inv); });
  open_engine(&invoker);
  put_all(3, 4);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(window_event(invoker.calls()[0]).state, R"({"count":3})");
}

TEST_F(EngineTest, FilteredRecordsAreDoneAndNeverDelivered) {
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 10;
  m.filter_patterns = {R"({"data":{"kind":["keep"]}})"};
  const std::string uuid = create(m);
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(env.put("s", "k",
                        i % 3 == 0 ? fmt::format(R"({{"kind":"keep","i":{}}})", i)
                                   : (i == 1 ? "not json" : R"({"kind":"drop"})"))
                    .ok());
  }
  ASSERT_TRUE(eventually([&] {
    size_t n = 0;
    for (const auto& c : invoker.calls()) n += data_of(c).size();
    return n >= 2;
  }));
  std::vector<std::string> got;
  for (const auto& c : invoker.calls()) {
    for (auto& d : data_of(c)) got.push_back(d);
  }
  EXPECT_EQ(got,
            (std::vector<std::string>{R"({"kind":"keep","i":0})", R"({"kind":"keep","i":3})"}));
  // Everything, filtered records included, is behind the checkpoint: a restart delivers none.
  ASSERT_TRUE(eventually([&] {
    return engine->metrics_text().find(fmt::format(
               "sluice_esm_filtered_records_total{{mapping=\"{}\",function=\"f\"}} 4", uuid)) !=
           std::string::npos;
  }));
  engine->shutdown();
  engine.reset();
  ScriptedInvoker& again = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&again);
  ASSERT_TRUE(env.put("s", "k", R"({"kind":"keep","i":9})").ok());
  ASSERT_TRUE(again.wait_for_calls(1));
  EXPECT_EQ(data_of(again.calls()[0]), (std::vector<std::string>{R"({"kind":"keep","i":9})"}));
}

}  // namespace
}  // namespace sluice::esm

namespace sluice::esm {
namespace {

TEST_F(EngineTest, ThePoisonRecordsNoticeGoesToTheDestinationAndLaterRecordsFlow) {
  put(1, 9);  // r1..r8
  ScriptedInvoker& invoker = invoker_for(fail_on("r6"));
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 8;
  m.maximum_retry_attempts = 0;
  m.bisect_batch_on_function_error = true;
  m.on_failure_destination = std::string(kQueueArn);
  create(m);
  ASSERT_TRUE(invoker.wait_for_calls(7));
  ASSERT_TRUE(eventually([&] { return destinations.delivered().size() == 1; }));
  const auto calls = invoker.calls();
  const auto delivered = destinations.delivered();
  EXPECT_EQ(delivered[0].arn, kQueueArn);
  EXPECT_TRUE(delivered[0].delivery.object_key.empty());  // a queue gets no object
  simdjson::dom::parser parser;
  simdjson::dom::element n = parser.parse(delivered[0].delivery.notice);
  EXPECT_EQ(std::string_view(n["requestContext"]["condition"]), "RetryAttemptsExhausted");
  EXPECT_EQ(std::string_view(n["requestContext"]["functionArn"]), kFunctionArn);
  // The id of the invocation that held only r6, the last one before the discard.
  EXPECT_EQ(std::string_view(n["requestContext"]["requestId"]), calls[5].request_id);
  EXPECT_EQ(std::string_view(n["responseContext"]["functionError"]), "Unhandled");
  EXPECT_EQ(int64_t(n["responseContext"]["statusCode"]), 200);
  EXPECT_EQ(int64_t(n["KinesisBatchInfo"]["batchSize"]), 1);
  const std::string poison = sequence_of(calls, "r6");
  EXPECT_EQ(std::string_view(n["KinesisBatchInfo"]["startSequenceNumber"]), poison);
  EXPECT_EQ(std::string_view(n["KinesisBatchInfo"]["endSequenceNumber"]), poison);
  EXPECT_EQ(std::string_view(n["KinesisBatchInfo"]["shardId"]), "shardId-000000000000");
  put(9, 10);
  ASSERT_TRUE(invoker.wait_for_calls(8));
  EXPECT_EQ(data_of(invoker.calls()[7]), (std::vector<std::string>{"r9"}));
  EXPECT_EQ(destinations.delivered().size(), 1u);
}

TEST_F(EngineTest, AFailingDestinationHoldsTheShardUntilTheNoticeIsStored) {
  put(0, 1);
  ScriptedInvoker& invoker = invoker_for([](const function::Invocation& inv, size_t) {
    return data_of(inv)[0] == "r0" ? ScriptedInvoker::function_error() : ScriptedInvoker::ok();
  });
  destinations.set_failing(1'000'000);
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 1;
  m.maximum_retry_attempts = 0;
  m.on_failure_destination = std::string(kQueueArn);
  const std::string uuid = create(m);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  ASSERT_TRUE(eventually([&] { return destinations.attempts() >= 3; }));
  put(1, 2);
  ASSERT_TRUE(eventually([&] {
    return engine->get(uuid)->last_processing_result.starts_with("PROBLEM: On-failure destination");
  }));
  // r1 waits behind r0, whose notice is not stored: neither is skipped.
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(invoker.calls().size(), 1u);
  EXPECT_TRUE(destinations.delivered().empty());
  destinations.set_failing(0);
  ASSERT_TRUE(invoker.wait_for_calls(2));
  EXPECT_EQ(data_of(invoker.calls()[1]), (std::vector<std::string>{"r1"}));
  ASSERT_EQ(destinations.delivered().size(), 1u);
  simdjson::dom::parser parser;
  simdjson::dom::element n = parser.parse(destinations.delivered()[0].delivery.notice);
  EXPECT_EQ(std::string_view(n["KinesisBatchInfo"]["startSequenceNumber"]),
            sequence_of(invoker.calls(), "r0"));
}

TEST_F(EngineTest, ARestartWhileTheDestinationFailsRepeatsTheRecordsInsteadOfLosingThem) {
  put(0, 1);
  destinations.set_failing(1'000'000);
  {
    ScriptedInvoker& invoker =
        invoker_for([](const auto&, size_t) { return ScriptedInvoker::function_error(); });
    open_engine(&invoker);
    Mapping m = draft();
    m.maximum_retry_attempts = 0;
    m.on_failure_destination = std::string(kQueueArn);
    create(m);
    ASSERT_TRUE(invoker.wait_for_calls(1));
    ASSERT_TRUE(eventually([&] { return destinations.attempts() >= 2; }));
    engine->shutdown();
    engine.reset();
  }
  destinations.set_failing(0);
  ScriptedInvoker& invoker =
      invoker_for([](const auto&, size_t) { return ScriptedInvoker::function_error(); });
  open_engine(&invoker);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(data_of(invoker.calls()[0]), (std::vector<std::string>{"r0"}));
  ASSERT_TRUE(eventually([&] { return destinations.delivered().size() == 1; }));
}

TEST_F(EngineTest, ExpiredRecordsGetARecordAgeNoticeWithoutResponseContext) {
  put(0, 1);
  env.clock.advance_ms(61'000);
  put_all(1, 6);
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 10;
  m.maximum_record_age_s = 60;
  m.maximum_retry_attempts = 0;
  m.on_failure_destination = std::string(kQueueArn);
  create(m);
  ASSERT_TRUE(invoker.wait_for_calls(1));
  EXPECT_EQ(data_of(invoker.calls()[0]), (std::vector<std::string>{"r1", "r2", "r3", "r4", "r5"}));
  ASSERT_EQ(destinations.delivered().size(), 1u);
  const std::string notice = destinations.delivered()[0].delivery.notice;
  simdjson::dom::parser parser;
  simdjson::dom::element n = parser.parse(notice);
  EXPECT_EQ(std::string_view(n["requestContext"]["condition"]), "RecordAgeExceeded");
  EXPECT_EQ(int64_t(n["requestContext"]["approximateInvokeCount"]), 1);
  EXPECT_EQ(n["responseContext"].error(), simdjson::NO_SUCH_FIELD) << notice;
  EXPECT_EQ(int64_t(n["KinesisBatchInfo"]["batchSize"]), 1);
  // Never invoked: a fresh request id.
  EXPECT_EQ(std::string_view(n["requestContext"]["requestId"]).size(), 36u);
}

TEST_F(EngineTest, ABucketDestinationGetsTheRecordsAsPayloadUnderTheSpecKey) {
  put(0, 2);
  ScriptedInvoker& invoker =
      invoker_for([](const auto&, size_t) { return ScriptedInvoker::function_error(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 2;
  m.maximum_retry_attempts = 1;
  m.on_failure_destination = "arn:aws:s3:::notices";
  const std::string uuid = create(m);
  ASSERT_TRUE(eventually([&] { return destinations.delivered().size() == 1; }));
  const auto d = destinations.delivered()[0];
  EXPECT_EQ(d.arn, "arn:aws:s3:::notices");
  EXPECT_TRUE(
      d.delivery.object_key.starts_with(fmt::format("aws/lambda/{}/shardId-000000000000/", uuid)))
      << d.delivery.object_key;
  simdjson::dom::parser parser;
  simdjson::dom::element o = parser.parse(d.delivery.object_body);
  EXPECT_EQ(int64_t(o["requestContext"]["approximateInvokeCount"]), 2);
  EXPECT_EQ(int64_t(o["KinesisBatchInfo"]["batchSize"]), 2);
  simdjson::dom::array records = o["payload"]["Records"];
  ASSERT_EQ(records.size(), 2u);
  // The payload is the event the function was given.
  const auto calls = invoker.calls();
  simdjson::dom::parser event_parser;
  simdjson::dom::element event = event_parser.parse(calls.back().payload);
  EXPECT_EQ(simdjson::minify(o["payload"]), simdjson::minify(event));
}

// The role ARN is repeated in every record (invokeIdentityArn): the 6 MB cut counts it. It
// used to be sized without it, so 3000 records of 1 KB with a 2 KB role went out as one
// event of about 12 MB.
TEST_F(EngineTest, EventsStayUnderTheLimitWithALongRole) {
  role = "arn:aws:iam::000000000000:role/" + std::string(2000, 'r');
  const std::string payload(1000, 'p');
  for (int b = 0; b < 6; ++b) {
    std::vector<std::string> keys;
    for (int i = 0; i < 500; ++i) keys.push_back(fmt::format("k{}", b * 500 + i));
    std::vector<stream::PutRecordsEntry> entries;
    for (const std::string& k : keys) entries.push_back({k, as_bytes(payload)});
    stream::PutRecordsRequest req;
    req.stream = ServiceEnv::key("s");
    req.records = entries;
    auto r = env.svc().put_records(req);
    ASSERT_TRUE(r.ok()) << r.status();
  }
  ScriptedInvoker& invoker = invoker_for([](const auto&, size_t) { return ScriptedInvoker::ok(); });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 10000;
  create(m);
  size_t delivered = 0;
  ASSERT_TRUE(eventually([&] {
    delivered = 0;
    for (const auto& c : invoker.calls()) {
      simdjson::dom::parser parser;
      simdjson::dom::element doc;
      if (parser.parse(c.payload).get(doc) != simdjson::SUCCESS) return false;
      delivered += doc["Records"].get_array().size();
    }
    return delivered == 3000;
  })) << delivered;
  const auto calls = invoker.calls();
  ASSERT_GE(calls.size(), 2u);  // 3000 x ~4 KB cannot go in one event
  for (const auto& c : calls) {
    EXPECT_LE(c.payload.size(), kMaxEventBytes);
    // Packed close to the limit: at most one more record would have fit.
    if (&c != &calls.back()) {
      EXPECT_GT(c.payload.size(), kMaxEventBytes - 8 * 1024);
    }
  }
  engine->shutdown();  // while the invoker lives
  engine.reset();
}

// Records stay views into the reads that brought them until they are done: a batch that is
// retried while another lane reads on and checkpoints is sent again with the same bytes.
TEST_F(EngineTest, ARetriedBatchIsTheSameBytesAfterOtherLanesReadOn) {
  ScriptedInvoker& invoker = invoker_for([](const function::Invocation& inv, size_t) {
    for (const auto& d : data_of(inv)) {
      if (d == "poison") return ScriptedInvoker::function_error();
    }
    return ScriptedInvoker::ok();
  });
  open_engine(&invoker);
  Mapping m = draft();
  m.batch_size = 3;
  m.parallelization_factor = 2;
  m.maximum_retry_attempts = 3;
  const std::string uuid = create(m);
  // One key, so one lane, for the poison batch; many keys for the rest.
  ASSERT_TRUE(env.put("s", "stuck", "before").ok());
  ASSERT_TRUE(env.put("s", "stuck", "poison").ok());
  for (int round = 0; round < 10; ++round) put_all(round * 20, round * 20 + 20);
  ASSERT_TRUE(eventually([&] {
    size_t failed = 0;
    for (const auto& c : invoker.calls()) {
      for (const auto& d : data_of(c)) failed += d == "poison" ? 1 : 0;
    }
    return failed == 4;  // the first attempt and three retries
  }));
  std::vector<std::string> poison_payloads;
  std::set<std::string> others;
  for (const auto& c : invoker.calls()) {
    bool poison = false;
    for (const auto& d : data_of(c)) {
      if (d == "poison") poison = true;
    }
    if (poison) {
      poison_payloads.push_back(c.payload);
    } else {
      for (const auto& d : data_of(c)) others.insert(d);
    }
  }
  ASSERT_EQ(poison_payloads.size(), 4u);
  for (const std::string& p : poison_payloads) EXPECT_EQ(p, poison_payloads[0]);
  // The other records went through meanwhile, with their own bytes.
  ASSERT_TRUE(eventually([&] {
    others.clear();
    for (const auto& c : invoker.calls()) {
      for (const auto& d : data_of(c)) {
        if (d != "poison" && d != "before") others.insert(d);
      }
    }
    return others.size() >= 190;
  })) << others.size();
  for (const std::string& d : others) EXPECT_TRUE(d.starts_with("r")) << d;
  // The engine may still be invoking: stop it while the invoker lives.
  engine->shutdown();
  engine.reset();
}

}  // namespace
}  // namespace sluice::esm
