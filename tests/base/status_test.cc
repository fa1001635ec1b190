#include "base/status.h"

#include "base/result.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace sluice {
namespace {

TEST(StatusTest, DefaultIsOkWithEmptyMessage) {
  const Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), Code::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.to_string(), "OK");
  EXPECT_TRUE(Status::ok_status().ok());
}

TEST(StatusTest, EachFactoryGivesItsCodeAndKeepsTheMessage) {
  struct Case {
    Status status;
    Code code;
    std::string_view name;
  };
  const std::vector<Case> cases = {
      {Status::not_found("m"), Code::kNotFound, "NotFound"},
      {Status::already_exists("m"), Code::kAlreadyExists, "AlreadyExists"},
      {Status::in_use("m"), Code::kInUse, "InUse"},
      {Status::invalid_argument("m"), Code::kInvalidArgument, "InvalidArgument"},
      {Status::limit_exceeded("m"), Code::kLimitExceeded, "LimitExceeded"},
      {Status::throttled("m"), Code::kThrottled, "Throttled"},
      {Status::expired("m"), Code::kExpired, "Expired"},
      {Status::corruption("m"), Code::kCorruption, "Corruption"},
      {Status::io_error("m"), Code::kIOError, "IOError"},
      {Status::unavailable("m"), Code::kUnavailable, "Unavailable"},
      {Status::internal("m"), Code::kInternal, "Internal"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    EXPECT_FALSE(c.status.ok());
    EXPECT_EQ(c.status.code(), c.code);
    EXPECT_EQ(code_name(c.code), c.name);
    EXPECT_EQ(c.status.message(), "m");
    EXPECT_EQ(c.status.to_string(), std::string(c.name) + ": m");
  }
}

TEST(StatusTest, EveryCodeHasADistinctName) {
  std::vector<std::string_view> names;
  for (int c = 0; c <= static_cast<int>(Code::kEndOfData); ++c) {
    names.push_back(code_name(static_cast<Code>(c)));
  }
  EXPECT_EQ(names.front(), "OK");
  std::sort(names.begin(), names.end());
  EXPECT_EQ(std::adjacent_find(names.begin(), names.end()), names.end());
  EXPECT_EQ(std::count(names.begin(), names.end(), "Unknown"), 0);
}

TEST(StatusTest, PredicatesMatchTheirCodes) {
  EXPECT_TRUE(Status::not_found("x").is_not_found());
  EXPECT_FALSE(Status::io_error("x").is_not_found());
  EXPECT_TRUE(Status::corruption("x").is_corruption());
  EXPECT_FALSE(Status().is_corruption());
  EXPECT_TRUE(Status::end_of_data().is_end_of_data());
  EXPECT_EQ(Status::end_of_data().code(), Code::kEndOfData);
  EXPECT_FALSE(Status::end_of_data().ok());
}

TEST(StatusTest, FromErrnoIsAnIOErrorNamingWhatAndTheSystemMessage) {
  const Status s = Status::from_errno("pwritev /x", ENOSPC);
  EXPECT_EQ(s.code(), Code::kIOError);
  EXPECT_EQ(s.message(), "pwritev /x: No space left on device");
}

TEST(StatusTest, WithContextPrefixesTheMessageAndKeepsTheCode) {
  const Status s = Status::corruption("bad checksum at 4096").with_context("opening log x");
  EXPECT_EQ(s.code(), Code::kCorruption);
  EXPECT_EQ(s.message(), "opening log x: bad checksum at 4096");
  EXPECT_EQ(s.to_string(), "Corruption: opening log x: bad checksum at 4096");
}

TEST(StatusTest, WithContextOnOkStaysOk) {
  const Status s = Status().with_context("anything");
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.message(), "");
}

TEST(StatusTest, WithContextLeavesTheOriginalUnchanged) {
  const Status original = Status::io_error("disk");
  const Status wrapped = original.with_context("ctx");
  EXPECT_EQ(original.message(), "disk");
  EXPECT_EQ(wrapped.message(), "ctx: disk");
}

TEST(StatusTest, CopiesCarryCodeAndMessage) {
  const Status a = Status::throttled("slow down");
  Status b = a;
  EXPECT_EQ(b.code(), Code::kThrottled);
  EXPECT_EQ(b.message(), "slow down");
  b = Status();
  EXPECT_TRUE(b.ok());
  EXPECT_EQ(a.message(), "slow down");
}

TEST(StatusTest, StreamsAsToString) {
  std::ostringstream os;
  os << Status::not_found("no shard 3") << " / " << Status();
  EXPECT_EQ(os.str(), "NotFound: no shard 3 / OK");
}

// ---- Result ----

TEST(ResultTest, HoldsAValue) {
  Result<int> r = 42;
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r.status().ok());
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  *r = 7;
  EXPECT_EQ(r.value(), 7);
}

TEST(ResultTest, HoldsAFailure) {
  const Result<int> r = Status::not_found("nothing here");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "nothing here");
}

TEST(ResultTest, ArrowReachesMembers) {
  Result<std::string> r = std::string("sluice");
  EXPECT_EQ(r->size(), 6u);
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->front(), 's');
}

TEST(ResultTest, MovesOutAMoveOnlyValue) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(5);
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 5);
  Result<std::unique_ptr<int>> r2 = std::make_unique<int>(6);
  std::unique_ptr<int> p2 = *std::move(r2);
  EXPECT_EQ(*p2, 6);
}

TEST(ResultDeathTest, ValueOfAFailedResultAborts) {
  const Result<int> r = Status::io_error("disk gone");
  EXPECT_DEATH((void)r.value(), "value\\(\\) of failed Result: IOError: disk gone");
}

TEST(ResultDeathTest, DereferencingAFailedResultAborts) {
  Result<std::string> r = Status::corruption("torn");
  EXPECT_DEATH((void)r->size(), "failed Result");
}

TEST(ResultDeathTest, BuildingFromAnOkStatusAborts) {
  EXPECT_DEATH((void)Result<int>{Status()}, "Result built from an ok Status");
}

TEST(CheckDeathTest, FailedCheckAbortsWithConditionAndMessage) {
  const int n = 3;
  EXPECT_DEATH(SLUICE_CHECK(n == 4, "n was {}", n), "SLUICE_CHECK failed at .*: n == 4: n was 3");
}

// ---- SLUICE_ASSIGN_OR_RETURN and SLUICE_RETURN_IF_ERROR ----

Result<int> parse_positive(int v) {
  if (v <= 0) return Status::invalid_argument("not positive");
  return v;
}

// Two uses in one function: each line gets its own temporary.
Result<int> sum_of_positives(int a, int b, int* reached_end) {
  SLUICE_ASSIGN_OR_RETURN(const int x, parse_positive(a));
  SLUICE_ASSIGN_OR_RETURN(int y, parse_positive(b));
  *reached_end += 1;
  return x + y;
}

TEST(AssignOrReturnTest, BindsTheValueWhenOk) {
  int reached_end = 0;
  auto r = sum_of_positives(2, 3, &reached_end);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(*r, 5);
  EXPECT_EQ(reached_end, 1);
}

TEST(AssignOrReturnTest, ReturnsTheFirstFailureUnchanged) {
  int reached_end = 0;
  auto r = sum_of_positives(2, -1, &reached_end);
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "not positive");
  EXPECT_EQ(reached_end, 0);
}

Result<std::unique_ptr<int>> make_box(int v) {
  if (v <= 0) return Status::expired("old");
  return std::make_unique<int>(v);
}

Status assign_into_status_function(int v, std::unique_ptr<int>* out) {
  SLUICE_ASSIGN_OR_RETURN(*out, make_box(v));
  return Status();
}

TEST(AssignOrReturnTest, WorksInAStatusFunctionAndMovesMoveOnlyValues) {
  std::unique_ptr<int> out;
  ASSERT_TRUE(assign_into_status_function(9, &out).ok());
  ASSERT_NE(out, nullptr);
  EXPECT_EQ(*out, 9);
  std::unique_ptr<int> untouched;
  const Status s = assign_into_status_function(0, &untouched);
  EXPECT_EQ(s.code(), Code::kExpired);
  EXPECT_EQ(untouched, nullptr);
}

Status two_steps(const Status& first, int* steps) {
  SLUICE_RETURN_IF_ERROR(first);
  ++*steps;
  SLUICE_RETURN_IF_ERROR(Status());
  ++*steps;
  return Status();
}

TEST(ReturnIfErrorTest, ContinuesOnOkAndReturnsFailures) {
  int steps = 0;
  EXPECT_TRUE(two_steps(Status(), &steps).ok());
  EXPECT_EQ(steps, 2);
  steps = 0;
  const Status s = two_steps(Status::unavailable("down"), &steps);
  EXPECT_EQ(s.code(), Code::kUnavailable);
  EXPECT_EQ(steps, 0);
}

}  // namespace
}  // namespace sluice
