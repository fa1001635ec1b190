#include "esm/failure_policy.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <deque>
#include <functional>
#include <limits>
#include <set>
#include <string>
#include <vector>

namespace sluice::esm {
namespace {

using DK = Decision::Kind;
using RK = BatchResult::Kind;

BatchResult result(RK kind, size_t first_failed = 0) {
  BatchResult r;
  r.kind = kind;
  r.first_failed = first_failed;
  if (kind == RK::kFunctionError) r.function_error = "Unhandled";
  return r;
}

FailurePolicy policy(bool bisect, int32_t max_retries) {
  return FailurePolicy{bisect, max_retries};
}

// ---- decide(), branch by branch ----

TEST(Decide, SuccessIsDone) {
  const Decision d = decide(result(RK::kSuccess), 5, 3, policy(true, 2));
  EXPECT_EQ(d.kind, DK::kDone);
}

TEST(Decide, PartialWithProgressAdvancesWithAFreshCount) {
  const Decision d = decide(result(RK::kPartial, 2), 5, 7, policy(false, 10));
  EXPECT_EQ(d.kind, DK::kAdvance);
  EXPECT_EQ(d.count, 2u);
  EXPECT_EQ(d.attempts, 0);
  // Even when the unit had used up its retries: progress resets the count.
  const Decision e = decide(result(RK::kPartial, 4), 5, 3, policy(false, 3));
  EXPECT_EQ(e.kind, DK::kAdvance);
  EXPECT_EQ(e.count, 4u);
  EXPECT_EQ(e.attempts, 0);
}

TEST(Decide, PartialAtTheFirstRecordIsAFailedAttemptNeverHalved) {
  Decision d = decide(result(RK::kPartial, 0), 6, 0, policy(true, 2));
  EXPECT_EQ(d.kind, DK::kRetry);
  EXPECT_EQ(d.attempts, 1);
  d = decide(result(RK::kPartial, 0), 6, 2, policy(true, 2));
  EXPECT_EQ(d.kind, DK::kDiscard);
  EXPECT_EQ(d.count, 6u);
  EXPECT_EQ(d.attempts, 3);
  d = decide(result(RK::kPartial, 0), 6, 1000, policy(true, -1));
  EXPECT_EQ(d.kind, DK::kRetry);
  EXPECT_EQ(d.attempts, 1001);
}

TEST(Decide, FunctionErrorWithBisectSplitsAtTheCeilingOfHalf) {
  const std::pair<size_t, size_t> cases[] = {{2, 1}, {3, 2}, {4, 2}, {5, 3}, {8, 4}, {10000, 5000}};
  for (const auto& [size, first] : cases) {
    const Decision d = decide(result(RK::kFunctionError), size, 4, policy(true, 0));
    EXPECT_EQ(d.kind, DK::kSplit) << size;
    EXPECT_EQ(d.count, first) << size;
    EXPECT_EQ(d.attempts, 0) << size;
  }
}

TEST(Decide, FunctionErrorOfOneRecordOrWithoutBisectRetriesThenDiscards) {
  for (const FailurePolicy& p : {policy(true, 2), policy(false, 2)}) {
    const size_t size = p.bisect_on_function_error ? 1 : 4;
    Decision d = decide(result(RK::kFunctionError), size, 0, p);
    EXPECT_EQ(d.kind, DK::kRetry);
    EXPECT_EQ(d.attempts, 1);
    d = decide(result(RK::kFunctionError), size, 1, p);
    EXPECT_EQ(d.kind, DK::kRetry);
    EXPECT_EQ(d.attempts, 2);
    d = decide(result(RK::kFunctionError), size, 2, p);
    EXPECT_EQ(d.kind, DK::kDiscard);
    EXPECT_EQ(d.count, size);
    EXPECT_EQ(d.attempts, 3);
  }
  // MaximumRetryAttempts 0: the first failure discards.
  const Decision d = decide(result(RK::kFunctionError), 3, 0, policy(false, 0));
  EXPECT_EQ(d.kind, DK::kDiscard);
  EXPECT_EQ(d.attempts, 1);
  // -1: forever.
  EXPECT_EQ(decide(result(RK::kFunctionError), 3, 9999, policy(false, -1)).kind, DK::kRetry);
}

TEST(Decide, InvalidPartialResponseIsAFunctionError) {
  BatchResult r = result(RK::kFunctionError);
  r.function_error.reset();  // what classify() gives for an invalid partial response
  EXPECT_EQ(decide(r, 4, 0, policy(true, 0)).kind, DK::kSplit);
  EXPECT_EQ(decide(r, 4, 0, policy(false, 0)).kind, DK::kDiscard);
}

TEST(Decide, InvocationErrorWaitsWithoutConsumingAnAttempt) {
  for (int32_t attempts : {0, 3, 10000}) {
    const Decision d = decide(result(RK::kInvocationError), 4, attempts, policy(true, 0));
    EXPECT_EQ(d.kind, DK::kWait);
    EXPECT_EQ(d.attempts, attempts);
  }
}

// ---- The spec's cases as sequences of decide() calls ----

// A model of one shard reader: reads batches of `batch_size`, invokes, and applies each
// Decision (the engine does the same with I/O and a clock). The function is `fails(unit)`,
// which returns the classification of invoking the records `unit`.
struct ReaderRun {
  std::vector<std::vector<int>> invocations;
  struct Discard {
    std::vector<int> records;
    int32_t invoke_count;
  };
  std::vector<Discard> discards;
  std::vector<int> done;  // in the order they became done
  bool ordered = true;    // no invocation ran before every earlier record was done
};

ReaderRun simulate(int records, size_t batch_size, const FailurePolicy& p,
                   const std::function<BatchResult(const std::vector<int>&)>& invoke) {
  ReaderRun run;
  std::set<int> finished;  // done or discarded
  auto finish = [&](const std::vector<int>& rs, size_t from, size_t to) {
    for (size_t i = from; i < to; ++i) finished.insert(rs[i]);
  };
  int next = 1;
  while (next <= records) {
    struct Unit {
      std::vector<int> records;
      int32_t attempts;
    };
    std::deque<Unit> pending;
    pending.push_back({{}, 0});
    for (size_t i = 0; i < batch_size && next <= records; ++i) {
      pending.back().records.push_back(next++);
    }
    while (!pending.empty()) {
      if (run.invocations.size() > 1000) {
        ADD_FAILURE() << "runaway retries";
        return run;
      }
      Unit& unit = pending.front();
      for (int r = 1; r < unit.records.front(); ++r) {
        if (!finished.count(r)) run.ordered = false;
      }
      run.invocations.push_back(unit.records);
      const Decision d = decide(invoke(unit.records), unit.records.size(), unit.attempts, p);
      switch (d.kind) {
        case DK::kDone:
          for (int r : unit.records) run.done.push_back(r);
          finish(unit.records, 0, unit.records.size());
          pending.pop_front();
          break;
        case DK::kAdvance:
          for (size_t i = 0; i < d.count; ++i) run.done.push_back(unit.records[i]);
          finish(unit.records, 0, d.count);
          unit.records.erase(unit.records.begin(), unit.records.begin() + d.count);
          unit.attempts = d.attempts;
          break;
        case DK::kSplit: {
          Unit first{{unit.records.begin(), unit.records.begin() + d.count}, 0};
          Unit rest{{unit.records.begin() + d.count, unit.records.end()}, 0};
          pending.pop_front();
          pending.push_front(std::move(rest));
          pending.push_front(std::move(first));
          break;
        }
        case DK::kRetry:
        case DK::kWait:
          unit.attempts = d.attempts;
          break;
        case DK::kDiscard:
          run.discards.push_back({unit.records, d.attempts});
          finish(unit.records, 0, unit.records.size());
          pending.pop_front();
          break;
      }
    }
  }
  return run;
}

bool contains(const std::vector<int>& unit, int record) {
  return std::find(unit.begin(), unit.end(), record) != unit.end();
}

size_t count_invocations(const ReaderRun& run, const std::vector<int>& unit) {
  return static_cast<size_t>(std::count(run.invocations.begin(), run.invocations.end(), unit));
}

size_t deliveries(const ReaderRun& run, int record) {
  size_t n = 0;
  for (const auto& inv : run.invocations) n += contains(inv, record) ? 1 : 0;
  return n;
}

TEST(DecideSpecCases, Case33MaximumRetryAttempts1InvokesTwiceThenDiscards) {
  const ReaderRun run = simulate(
      1, 1, policy(false, 1), [](const std::vector<int>&) { return result(RK::kFunctionError); });
  EXPECT_EQ(run.invocations.size(), 2u);
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].records, std::vector<int>{1});
  EXPECT_EQ(run.discards[0].invoke_count, 2);  // approximateInvokeCount
}

TEST(DecideSpecCases, Case34MaximumRetryAttempts0InvokesOnce) {
  const ReaderRun run = simulate(
      1, 1, policy(false, 0), [](const std::vector<int>&) { return result(RK::kFunctionError); });
  EXPECT_EQ(run.invocations.size(), 1u);
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].invoke_count, 1);
}

TEST(DecideSpecCases, Case40BisectIsolatesTheFailingRecordInOrder) {
  const ReaderRun run = simulate(8, 8, policy(true, 0), [](const std::vector<int>& unit) {
    return contains(unit, 6) ? result(RK::kFunctionError) : result(RK::kSuccess);
  });
  EXPECT_TRUE(run.ordered);
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].records, std::vector<int>{6});
  EXPECT_EQ(run.done, (std::vector<int>{1, 2, 3, 4, 5, 7, 8}));
  // 1..8, 1..4, 5..8, 5..6, 5, 6, 7..8
  EXPECT_EQ(run.invocations.size(), 7u);
}

TEST(DecideSpecCases, Case42WithoutBisectTheWholeBatchIsInvokedThreeTimes) {
  const ReaderRun run = simulate(4, 4, policy(false, 2), [](const std::vector<int>& unit) {
    return contains(unit, 3) ? result(RK::kFunctionError) : result(RK::kSuccess);
  });
  EXPECT_EQ(count_invocations(run, {1, 2, 3, 4}), 3u);
  EXPECT_EQ(run.invocations.size(), 3u);
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].records, (std::vector<int>{1, 2, 3, 4}));
  EXPECT_EQ(run.discards[0].invoke_count, 3);
}

TEST(DecideSpecCases, Case43ProgressResetsTheRetryCount) {
  // ReportBatchItemFailures: the function lists record 6 whenever it sees it.
  const ReaderRun run = simulate(6, 3, policy(false, 3), [](const std::vector<int>& unit) {
    for (size_t i = 0; i < unit.size(); ++i) {
      if (unit[i] == 6) return result(RK::kPartial, i);
    }
    return result(RK::kSuccess);
  });
  for (int r = 1; r <= 5; ++r) EXPECT_EQ(deliveries(run, r), 1u) << r;
  EXPECT_EQ(deliveries(run, 6), 5u);
  EXPECT_EQ(count_invocations(run, {6}), 4u);  // after the first batch
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].records, std::vector<int>{6});
  EXPECT_EQ(run.discards[0].invoke_count, 4);
}

TEST(DecideSpecCases, Case45InvalidResponseIsRetriedLikeAnError) {
  const ReaderRun run = simulate(1, 1, policy(false, 2), [](const std::vector<int>&) {
    BatchResult r = result(RK::kFunctionError);
    r.function_error.reset();
    return r;
  });
  EXPECT_EQ(run.invocations.size(), 3u);
  ASSERT_EQ(run.discards.size(), 1u);
  EXPECT_EQ(run.discards[0].invoke_count, 3);
}

TEST(DecideSpecCases, Case46PartialAtR2RetriesExactlyR2ToR5) {
  const ReaderRun run = simulate(5, 5, policy(false, 0), [](const std::vector<int>& unit) {
    return unit.front() == 1 ? result(RK::kPartial, 1) : result(RK::kSuccess);
  });
  ASSERT_EQ(run.invocations.size(), 2u);
  EXPECT_EQ(run.invocations[1], (std::vector<int>{2, 3, 4, 5}));
  EXPECT_TRUE(run.discards.empty());
}

TEST(DecideSpecCases, Case48PartialWithBisectIsNotHalved) {
  const ReaderRun run = simulate(6, 6, policy(true, 0), [](const std::vector<int>& unit) {
    return unit.front() == 1 ? result(RK::kPartial, 2) : result(RK::kSuccess);
  });
  ASSERT_EQ(run.invocations.size(), 2u);
  EXPECT_EQ(run.invocations[1], (std::vector<int>{3, 4, 5, 6}));
}

TEST(DecideSpecCases, ThrottlingNeverDiscards) {
  int throttles = 5;
  const ReaderRun run = simulate(2, 2, policy(false, 0), [&](const std::vector<int>&) {
    return throttles-- > 0 ? result(RK::kInvocationError) : result(RK::kSuccess);
  });
  EXPECT_EQ(run.invocations.size(), 6u);
  EXPECT_TRUE(run.discards.empty());
  EXPECT_EQ(run.done, (std::vector<int>{1, 2}));
}

// ---- expired_prefix() ----

TEST(ExpiredPrefix, AgeMustExceedTheLimit) {
  const int64_t now = 1'767'225'600'000;
  const std::vector<int64_t> arrivals = {now - 61'000, now - 60'001, now - 60'000, now - 10, now};
  EXPECT_EQ(expired_prefix(arrivals, now, 60), 2u);
  EXPECT_EQ(expired_prefix(arrivals, now, 61), 0u);
  EXPECT_EQ(expired_prefix(arrivals, now, 0), 4u);  // only the record of age 0 stays
  EXPECT_EQ(expired_prefix(arrivals, now + 1'000'000, 60), 5u);
  EXPECT_EQ(expired_prefix(arrivals, now, -1), 0u);
  EXPECT_EQ(expired_prefix(arrivals, now + 1'000'000'000, -1), 0u);
  EXPECT_EQ(expired_prefix({}, now, 60), 0u);
}

TEST(ExpiredPrefix, OnlyAPrefixIsCounted) {
  const int64_t now = 1'000'000;
  const std::vector<int64_t> arrivals = {0, now, 0};  // not the order a shard gives; still a prefix
  EXPECT_EQ(expired_prefix(arrivals, now, 60), 1u);
}

TEST(ExpiredPrefix, ExtremeValuesDoNotOverflow) {
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  const std::vector<int64_t> arrivals = {kMin, kMin + 1, 0, kMax};
  EXPECT_EQ(expired_prefix(arrivals, kMax, 604'800), 3u);
  EXPECT_EQ(expired_prefix(std::vector<int64_t>{kMax}, kMin, 60), 0u);
  EXPECT_EQ(expired_prefix(std::vector<int64_t>{kMin}, 0, std::numeric_limits<int32_t>::max()), 1u);
}

// ---- retry_backoff_ms() ----

TEST(RetryBackoff, DoublesFromTheBaseUpToTheCap) {
  EXPECT_EQ(retry_backoff_ms(1, 1'000, 8'000), 1'000);
  EXPECT_EQ(retry_backoff_ms(2, 1'000, 8'000), 2'000);
  EXPECT_EQ(retry_backoff_ms(3, 1'000, 8'000), 4'000);
  EXPECT_EQ(retry_backoff_ms(4, 1'000, 8'000), 8'000);
  EXPECT_EQ(retry_backoff_ms(5, 1'000, 8'000), 8'000);
  EXPECT_EQ(retry_backoff_ms(3, 1'000, 3'000), 3'000);  // capped, not a multiple of the base
  EXPECT_EQ(retry_backoff_ms(std::numeric_limits<int32_t>::max(), 1'000, 8'000), 8'000);
}

TEST(RetryBackoff, OddArguments) {
  EXPECT_EQ(retry_backoff_ms(0, 1'000, 8'000), 1'000);
  EXPECT_EQ(retry_backoff_ms(-5, 1'000, 8'000), 1'000);
  EXPECT_EQ(retry_backoff_ms(3, 9'000, 8'000), 8'000);  // base above the cap
  EXPECT_EQ(retry_backoff_ms(3, 0, 8'000), 0);
  EXPECT_EQ(retry_backoff_ms(3, -7, 8'000), 0);
  EXPECT_EQ(retry_backoff_ms(3, 1'000, -1), 0);
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(retry_backoff_ms(63, 1, kMax), int64_t{1} << 62);
  EXPECT_EQ(retry_backoff_ms(64, 1, kMax), kMax);
  EXPECT_EQ(retry_backoff_ms(std::numeric_limits<int32_t>::max(), 3, kMax), kMax);
  EXPECT_EQ(retry_backoff_ms(std::numeric_limits<int32_t>::max(), kMax, kMax), kMax);
}

}  // namespace
}  // namespace sluice::esm
