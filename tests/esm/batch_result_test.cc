#include "esm/batch_result.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace sluice::esm {
namespace {

using Kind = BatchResult::Kind;
using OutcomeKind = function::InvokeOutcome::Kind;

function::InvokeOutcome outcome(OutcomeKind kind, std::string payload) {
  function::InvokeOutcome o;
  o.kind = kind;
  o.payload = std::move(payload);
  return o;
}

// Five records r1..r5 with realistic 56-digit sequence numbers, in batch (and numeric) order.
const std::vector<std::string> kSeqs = {
    "49655101234567890123456789012345678901234567890123456786",
    "49655101234567890123456789012345678901234567890123456787",
    "49655101234567890123456789012345678901234567890123456788",
    "49655101234567890123456789012345678901234567890123456789",
    "49655101234567890123456789012345678901234567890123456790",
};

std::vector<std::string_view> views(const std::vector<std::string>& seqs) {
  return {seqs.begin(), seqs.end()};
}

BatchResult ok_result(std::string payload, bool report = true,
                      const std::vector<std::string>& seqs = kSeqs) {
  const auto v = views(seqs);
  return classify(outcome(OutcomeKind::kOk, std::move(payload)), report, v);
}

std::string failures(std::initializer_list<std::string_view> ids) {
  std::string out = R"({"batchItemFailures":[)";
  bool first = true;
  for (std::string_view id : ids) {
    if (!first) out += ",";
    first = false;
    out += R"({"itemIdentifier":")" + std::string(id) + R"("})";
  }
  return out + "]}";
}

TEST(BatchResult, ReturnsThatMeanSuccess) {
  // Spec 6.4, the success rows, and case 44.
  const char* payloads[] = {
      "null",
      "",  // nothing returned
      R"("")",
      "[]",
      "{}",
      R"({"batchItemFailures": []})",
      R"({"batchItemFailures": null})",
      R"("some other string")",
      "42",
      "-1.5e3",
      "true",
      "[1, 2, 3]",
      R"([{"itemIdentifier":"49655101234567890123456789012345678901234567890123456786"}])",
      R"({"somethingElse": [{"itemIdentifier": "x"}]})",
      R"({"BatchItemFailures": [{"itemIdentifier": "x"}]})",  // the member name is exact
      "not json at all",
      "{\"batchItemFailures\": [",  // truncated JSON
      "\xff\xfe",
  };
  for (const char* p : payloads) {
    const BatchResult r = ok_result(p);
    EXPECT_EQ(r.kind, Kind::kSuccess) << p;
    EXPECT_EQ(r.function_error, std::nullopt) << p;
  }
}

TEST(BatchResult, ValidListIsPartialAtTheLowestListedRecord) {
  BatchResult r = ok_result(failures({kSeqs[2]}));
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 2u);
  EXPECT_EQ(r.function_error, std::nullopt);

  r = ok_result(failures({kSeqs[4], kSeqs[1], kSeqs[3]}));
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 1u);

  // The first record failed: partial with nothing done.
  r = ok_result(failures({kSeqs[3], kSeqs[0]}));
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 0u);

  // A listed identifier repeated is still one point.
  r = ok_result(failures({kSeqs[4], kSeqs[4]}));
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 4u);

  // Other members of the response and of the items are ignored.
  r = ok_result(R"({"x":1,"batchItemFailures":[{"extra":true,"itemIdentifier":")" + kSeqs[3] +
                R"("}],"y":[]})");
  EXPECT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 3u);
}

TEST(BatchResult, Case46ResponseListingR4AndR2RetriesFromR2) {
  const BatchResult r = ok_result(failures({kSeqs[3], kSeqs[1]}));
  ASSERT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 1u);  // r1 done; r2..r5 are the retry unit
}

TEST(BatchResult, Case47WithoutReportBatchItemFailuresTheResultIsIgnored) {
  const std::string invalid[] = {failures({kSeqs[3], kSeqs[1]}), failures({""}),
                                 R"({"batchItemFailures":"nope"})", "garbage"};
  for (const std::string& p : invalid) {
    const BatchResult r = ok_result(p, /*report=*/false);
    EXPECT_EQ(r.kind, Kind::kSuccess) << p;
  }
}

TEST(BatchResult, InvalidItemsFailTheWholeBatchWithoutFunctionError) {
  // Spec 6.4, the complete-failure rows, and case 45.
  const std::string payloads[] = {
      R"({"batchItemFailures":[{"itemIdentifier":123}]})",
      R"({"batchItemFailures":[{"itemIdentifier":""}]})",
      R"({"batchItemFailures":[{"itemIdentifier":null}]})",
      R"({"batchItemFailures":[{"foo":123}]})",
      R"({"batchItemFailures":[{"foo":null}]})",
      R"({"batchItemFailures":[{}]})",
      R"({"batchItemFailures":[{"itemIdentifier":"12345"}]})",  // not in the batch
      R"({"batchItemFailures":[{"itemIdentifier":true}]})",
      R"({"batchItemFailures":[{"itemIdentifier":["x"]}]})",
      R"({"batchItemFailures":"x"})",
      R"({"batchItemFailures":{}})",
      R"({"batchItemFailures":5})",
      R"({"batchItemFailures":true})",
      R"({"batchItemFailures":[1]})",
      R"({"batchItemFailures":[null]})",
      R"({"batchItemFailures":[")" + kSeqs[1] + R"("]})",
      R"({"batchItemFailures":[[]]})",
      // One valid and one invalid item: the invalid one wins.
      R"({"batchItemFailures":[{"itemIdentifier":")" + kSeqs[1] + R"("},{"itemIdentifier":""}]})",
      R"({"batchItemFailures":[{"itemIdentifier":"nope"},{"itemIdentifier":")" + kSeqs[1] +
          R"("}]})",
      // Exact strings only: no trimming, no numeric equivalence.
      failures({" " + kSeqs[1]}),
      failures({kSeqs[1] + " "}),
      failures({"0" + kSeqs[1]}),
      failures({kSeqs[1].substr(0, kSeqs[1].size() - 1)}),
  };
  for (const std::string& p : payloads) {
    const BatchResult r = ok_result(p);
    EXPECT_EQ(r.kind, Kind::kFunctionError) << p;
    EXPECT_EQ(r.function_error, std::nullopt) << p;
  }
}

TEST(BatchResult, LowestMeansNumericNotTextual) {
  // "10" < "9" as text; numerically 9 comes first (spec 0).
  const std::vector<std::string> seqs = {"8", "9", "10", "11", "100"};
  BatchResult r = ok_result(failures({"100", "10", "9"}), true, seqs);
  ASSERT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 1u);
  r = ok_result(failures({"100", "11"}), true, seqs);
  ASSERT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 3u);
}

TEST(BatchResult, LongListsOfItems) {
  std::vector<std::string> seqs;
  for (int i = 0; i < 10'000; ++i) seqs.push_back(std::to_string(1'000'000 + i));
  std::string payload = R"({"batchItemFailures":[)";
  for (int i = 9'999; i >= 5'000; --i) {
    payload += R"({"itemIdentifier":")" + seqs[i] + "\"}";
    payload += i == 5'000 ? "" : ",";
  }
  payload += "]}";
  const BatchResult r = ok_result(payload, true, seqs);
  ASSERT_EQ(r.kind, Kind::kPartial);
  EXPECT_EQ(r.first_failed, 5'000u);
}

TEST(BatchResult, FunctionErrorsAndTimeoutsAreUnhandled) {
  const auto v = views(kSeqs);
  for (bool report : {false, true}) {
    for (OutcomeKind k : {OutcomeKind::kFunctionError, OutcomeKind::kTimedOut}) {
      // The payload is the error document; even one that looks like a partial response
      // does not count as one.
      for (const std::string& p : {std::string(R"({"errorType":"Error","errorMessage":"boom"})"),
                                   failures({kSeqs[2]}), std::string()}) {
        const BatchResult r = classify(outcome(k, p), report, v);
        EXPECT_EQ(r.kind, Kind::kFunctionError);
        EXPECT_EQ(r.function_error, std::optional<std::string>("Unhandled"));
      }
    }
  }
}

TEST(BatchResult, UnavailableIsAnInvocationError) {
  const auto v = views(kSeqs);
  for (bool report : {false, true}) {
    const BatchResult r = classify(outcome(OutcomeKind::kUnavailable, "throttled"), report, v);
    EXPECT_EQ(r.kind, Kind::kInvocationError);
    EXPECT_EQ(r.function_error, std::nullopt);
  }
}

}  // namespace
}  // namespace sluice::esm
