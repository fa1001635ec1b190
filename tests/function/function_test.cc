#include "function/function.h"

#include "function/invoker.h"

#include <gtest/gtest.h>

#include <optional>

namespace sluice::function {
namespace {

TEST(FunctionArnTest, IsTheUnqualifiedLambdaArn) {
  EXPECT_EQ(function_arn("eu-west-1", "123456789012", "f1"),
            "arn:aws:lambda:eu-west-1:123456789012:function:f1");
}

TEST(ReservedEnvironmentKeysTest, NamesTheSpecsReservedKeysOnly) {
  EXPECT_TRUE(is_reserved_environment_key("AWS_LAMBDA_RUNTIME_API"));
  EXPECT_TRUE(is_reserved_environment_key("TZ"));
  EXPECT_TRUE(is_reserved_environment_key("_X_AMZN_TRACE_ID"));
  EXPECT_FALSE(is_reserved_environment_key("PATH"));
  EXPECT_FALSE(is_reserved_environment_key("AWS_ENDPOINT_URL"));
  EXPECT_FALSE(is_reserved_environment_key("tz"));
}

TEST(FunctionSpecTest, DefaultsAreLambdaDefaults) {
  const FunctionSpec spec;
  EXPECT_EQ(spec.timeout_s, 3);
  EXPECT_EQ(spec.memory_mb, 128);
  EXPECT_FALSE(spec.hot_reload);
}

// The interface can be implemented with nothing but base/: a fake that completes inline.
class EchoInvoker final : public Invoker {
 public:
  void invoke(Invocation invocation, Done done) override {
    InvokeOutcome outcome;
    outcome.kind = InvokeOutcome::Kind::kOk;
    outcome.payload = std::move(invocation.payload);
    done(std::move(outcome));
  }
};

TEST(InvokerTest, DoneReceivesTheOutcome) {
  EchoInvoker invoker;
  std::optional<InvokeOutcome> got;
  Invocation invocation;
  invocation.request_id = "r";
  invocation.payload = "{\"a\":1}";
  invoker.invoke(std::move(invocation), [&](InvokeOutcome o) { got = std::move(o); });
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(got->kind, InvokeOutcome::Kind::kOk);
  EXPECT_EQ(got->payload, "{\"a\":1}");
}

}  // namespace
}  // namespace sluice::function
