#include "lambda/names.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::lambda {
namespace {

const Identity kId{"000000000000", "us-east-1"};

FunctionRef ok(std::string_view raw, std::optional<std::string_view> q = std::nullopt,
               NameUse use = NameUse::kRead) {
  FunctionRef ref;
  auto e = resolve_function_name(raw, kId, q, use, ref);
  EXPECT_FALSE(e.has_value()) << raw << ": " << (e ? e->message : "");
  return ref;
}

ApiError fail(std::string_view raw, std::optional<std::string_view> q = std::nullopt,
              NameUse use = NameUse::kRead) {
  FunctionRef ref;
  auto e = resolve_function_name(raw, kId, q, use, ref);
  EXPECT_TRUE(e.has_value()) << raw;
  return e.value_or(ApiError{ErrorType::kService, ""});
}

TEST(NamesTest, AcceptsNameQualifiedNamePartialAndFullArn) {
  EXPECT_EQ(ok("f1").name, "f1");
  EXPECT_FALSE(ok("f1").qualifier.has_value());
  EXPECT_EQ(ok("f1:$LATEST").qualifier, "$LATEST");
  EXPECT_EQ(ok("000000000000:function:f1").name, "f1");
  const FunctionRef full = ok("arn:aws:lambda:us-east-1:000000000000:function:f1:v2");
  EXPECT_EQ(full.name, "f1");
  EXPECT_EQ(full.qualifier, "v2");
  EXPECT_EQ(full.not_found_arn, "arn:aws:lambda:us-east-1:000000000000:function:f1:v2");
}

TEST(NamesTest, BareNameLongerThan64IsInvalidParameterValue) {
  const std::string name(65, 'a');
  const ApiError e = fail(name);
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message, "1 validation error detected: Value '" + name +
                           "' at 'functionName' failed to satisfy constraint: Member must have "
                           "length less than or equal to 64");
}

TEST(NamesTest, ArnLongerThan140OnWriteIsValidationException) {
  const std::string arn = "arn:aws:lambda:us-east-1:000000000000:function:" + std::string(100, 'b');
  ASSERT_GT(arn.size(), 140u);
  const ApiError e = fail(arn, std::nullopt, NameUse::kWrite);
  EXPECT_EQ(e.type, ErrorType::kValidation);
  EXPECT_TRUE(e.message.ends_with("Member must have length less than or equal to 140"))
      << e.message;
}

TEST(NamesTest, MalformedNameIsValidationExceptionWithThePattern) {
  for (const char* raw : {"bad name", "a:b:c", "arn:aws:s3:::bucket", "f1:bad qualifier", ""}) {
    SCOPED_TRACE(raw);
    const ApiError e = fail(raw);
    EXPECT_EQ(e.type, ErrorType::kValidation);
    EXPECT_NE(e.message.find("Member must satisfy regular expression pattern: "),
              std::string::npos);
    EXPECT_NE(e.message.find("at 'functionName'"), std::string::npos);
  }
}

TEST(NamesTest, ArnOfAnotherRegionIsNotReachable) {
  const ApiError e = fail("arn:aws:lambda:eu-west-1:000000000000:function:f1");
  EXPECT_EQ(e.type, ErrorType::kResourceNotFound);
  EXPECT_EQ(e.message, "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')");
}

TEST(NamesTest, QualifierInNameMustMatchTheParameter) {
  const ApiError e = fail("f1:v1", "v2");
  EXPECT_EQ(e.type, ErrorType::kInvalidParameterValue);
  EXPECT_EQ(e.message,
            "The derived qualifier from the function name does not match the specified "
            "qualifier.");
  EXPECT_EQ(ok("f1:v1", "v1").qualifier, "v1");
  EXPECT_EQ(ok("f1", "$LATEST").qualifier, "$LATEST");
  EXPECT_EQ(ok("f1", "$LATEST").not_found_arn,
            "arn:aws:lambda:us-east-1:000000000000:function:f1:$LATEST");
}

TEST(NamesTest, ArnOfAnotherAccountNeverResolvesToOurs) {
  const FunctionRef ref = ok("arn:aws:lambda:us-east-1:111111111111:function:f1");
  EXPECT_TRUE(ref.name.empty());
  EXPECT_EQ(ref.not_found_arn, "arn:aws:lambda:us-east-1:111111111111:function:f1");
}

}  // namespace
}  // namespace sluice::lambda
