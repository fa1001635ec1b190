#include "lambda/api.h"

#include "base/base64.h"
#include "tests/lambda/zip_builder.h"
#include "tests/support/manual_clock.h"
#include "tests/support/temp_dir.h"

#include <gtest/gtest.h>

#include <simdjson.h>
#include <string>

namespace sluice::lambda {
namespace {

using sluice::testing::TempDir;
using testing::ZipBuilder;

std::string zip_b64(std::string_view body = "def handler(e, c): return e\n") {
  ZipBuilder zip;
  zip.file("app.py", body);
  const std::string bytes = zip.bytes();
  return base64_encode(ByteView(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size()));
}

std::string header(const net::Response& r, std::string_view name) {
  for (const auto& [k, v] : r.headers) {
    if (k == name) return v;
  }
  return "";
}

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    catalog_ = std::move(*storage::Catalog::open(tmp_.path() + "/catalog.db"));
    registry_ =
        std::move(*FunctionRegistry::open(catalog_.get(), tmp_.path() + "/functions", {}, &clock_));
    api_ = std::make_unique<Api>(registry_.get(), &clock_, ApiOptions{});
  }

  net::Response call(std::string_view method, std::string_view target, std::string body = "",
                     std::string_view auth = "") {
    bodies_.push_back(std::move(body));
    targets_.emplace_back(target);
    net::Request r;
    r.method = method;
    r.target = targets_.back();
    const size_t q = r.target.find('?');
    r.path = r.target.substr(0, q);
    r.query = q == std::string_view::npos ? "" : r.target.substr(q + 1);
    r.body = bodies_.back();
    r.headers.push_back({"Host", "127.0.0.1:4566"});
    if (!auth.empty()) r.headers.push_back({"Authorization", auth});
    net::Response resp = api_->handle(r);
    EXPECT_EQ(header(resp, "x-amzn-RequestId").size(), 36u);
    if (resp.status >= 400) {
      EXPECT_FALSE(header(resp, "x-amzn-ErrorType").empty());
    }
    return resp;
  }

  std::string create_body(std::string_view name, std::string_view extra = "") {
    return fmt::format(R"({{"FunctionName":"{}","Runtime":"python3.12","Handler":"app.handler",)"
                       R"("Role":"arn:aws:iam::000000000000:role/r","Code":{{"ZipFile":"{}"}}{}}})",
                       name, zip_b64(), extra);
  }

  net::Response create(std::string_view name, std::string_view extra = "") {
    return call("POST", "/2015-03-31/functions", create_body(name, extra));
  }

  simdjson::dom::element json(const net::Response& r) {
    docs_.push_back(r.body);
    simdjson::dom::element e;
    EXPECT_EQ(parser_.parse(docs_.back()).get(e), simdjson::SUCCESS) << r.body;
    return e;
  }
  std::string str(simdjson::dom::element e, std::string_view path) {
    std::string_view s;
    if (e.at_pointer(path).get_string().get(s) != simdjson::SUCCESS) return "<absent>";
    return std::string(s);
  }

  // The error code and message of an error response, whatever the casing.
  std::pair<std::string, std::string> err(const net::Response& r) {
    auto e = json(r);
    std::string m = str(e, "/message");
    if (m == "<absent>") m = str(e, "/Message");
    return {header(r, "x-amzn-ErrorType"), m};
  }

  TempDir tmp_;
  ManualClock clock_;
  std::unique_ptr<storage::Catalog> catalog_;
  std::unique_ptr<FunctionRegistry> registry_;
  std::unique_ptr<Api> api_;
  std::deque<std::string> bodies_, targets_, docs_;
  simdjson::dom::parser parser_;
};

TEST_F(ApiTest, CreateAnswers201PendingWithDefaults) {
  const net::Response r = create("f1");
  ASSERT_EQ(r.status, 201) << r.body;
  auto e = json(r);
  EXPECT_EQ(str(e, "/State"), "Pending");
  EXPECT_EQ(str(e, "/StateReasonCode"), "Creating");
  EXPECT_EQ(str(e, "/LastUpdateStatus"), "<absent>");
  EXPECT_EQ(str(e, "/Version"), "$LATEST");
  EXPECT_EQ(str(e, "/FunctionArn"), "arn:aws:lambda:us-east-1:000000000000:function:f1");
  EXPECT_EQ(str(e, "/LastModified"), "2023-11-14T22:13:20.000+0000");
  EXPECT_EQ(int64_t(e["Timeout"]), 3);
  EXPECT_EQ(int64_t(e["MemorySize"]), 128);
  EXPECT_EQ(str(e, "/PackageType"), "Zip");
  EXPECT_EQ(str(e, "/Architectures/0"), "x86_64");
  EXPECT_EQ(str(e, "/TracingConfig/Mode"), "PassThrough");
  EXPECT_EQ(str(e, "/LoggingConfig/LogGroup"), "/aws/lambda/f1");
  EXPECT_EQ(int64_t(e["EphemeralStorage"]["Size"]), 512);
  EXPECT_EQ(r.content_type, "application/json");
  EXPECT_FALSE(header(r, "Date").empty());
}

TEST_F(ApiTest, GetAfterCreateIsActiveAndSuccessfulWithACodeLocation) {
  ASSERT_EQ(create("f1").status, 201);
  for (std::string_view path : {"/2015-03-31/functions/f1", "/2015-03-31/functions/f1/",
                                "/2015-03-31/functions/arn%3Aaws%3Alambda%3Aus-east-1%3A"
                                "000000000000%3Afunction%3Af1"}) {
    SCOPED_TRACE(path);
    const net::Response r = call("GET", path);
    ASSERT_EQ(r.status, 200) << r.body;
    auto e = json(r);
    EXPECT_EQ(str(e, "/Configuration/State"), "Active");
    EXPECT_EQ(str(e, "/Configuration/LastUpdateStatus"), "Successful");
    EXPECT_EQ(str(e, "/Code/RepositoryType"), "S3");
    EXPECT_TRUE(
        str(e, "/Code/Location")
            .starts_with("http://127.0.0.1:4566/_sluice/lambda/code/000000000000/us-east-1/f1/"));
  }
  const net::Response cfg = call("GET", "/2015-03-31/functions/f1/configuration");
  EXPECT_EQ(str(json(cfg), "/State"), "Active");
}

TEST_F(ApiTest, CodeLocationServesTheUploadedZip) {
  ASSERT_EQ(create("f1").status, 201);
  const std::string location = str(json(call("GET", "/2015-03-31/functions/f1")), "/Code/Location");
  const std::string path = location.substr(location.find("/_sluice/"));
  net::Request r;
  r.method = "GET";
  r.target = path;
  r.path = path;
  const net::Response zip = api_->handle_code_download(r);
  ASSERT_EQ(zip.status, 200);
  EXPECT_EQ(zip.content_type, "application/zip");
  EXPECT_EQ(
      base64_encode(ByteView(reinterpret_cast<const std::byte*>(zip.body.data()), zip.body.size())),
      zip_b64());
  const std::string other = path.substr(0, path.rfind("/", path.size() - 10)) + "/nope/code.zip";
  r.target = r.path = other;
  EXPECT_EQ(api_->handle_code_download(r).status, 404);
}

TEST_F(ApiTest, CreateTwiceIsResourceConflict) {
  ASSERT_EQ(create("f1").status, 201);
  const net::Response r = create("f1");
  EXPECT_EQ(r.status, 409);
  EXPECT_EQ(err(r), std::make_pair(std::string("ResourceConflictException"),
                                   std::string("Function already exist: f1")));
  EXPECT_EQ(str(json(r), "/Type"), "User");
}

TEST_F(ApiTest, UnknownFunctionIs404WithCapitalMessage) {
  const net::Response r = call("GET", "/2015-03-31/functions/nope");
  EXPECT_EQ(r.status, 404);
  auto e = json(r);
  EXPECT_EQ(str(e, "/Message"),
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope");
  EXPECT_EQ(str(e, "/Type"), "User");
  EXPECT_EQ(header(r, "x-amzn-ErrorType"), "ResourceNotFoundException");
}

TEST_F(ApiTest, IdentityComesFromTheCredentialScope) {
  const std::string auth =
      "AWS4-HMAC-SHA256 Credential=123456789012/20240101/eu-west-1/lambda/aws4_request, "
      "SignedHeaders=host, Signature=abc";
  const net::Response r = call("POST", "/2015-03-31/functions", create_body("f1"), auth);
  ASSERT_EQ(r.status, 201);
  EXPECT_EQ(str(json(r), "/FunctionArn"), "arn:aws:lambda:eu-west-1:123456789012:function:f1");
  EXPECT_EQ(call("GET", "/2015-03-31/functions/f1").status, 404);  // default identity
  const net::Response other = call(
      "GET", "/2015-03-31/functions/arn:aws:lambda:us-east-1:123456789012:function:f1", "", auth);
  EXPECT_EQ(err(other).second,
            "Functions from 'us-east-1' are not reachable in this region ('eu-west-1')");
}

// Spec 2.3: each step's error, and that an earlier step wins over a later one.
TEST_F(ApiTest, CreateValidationStepsInOrder) {
  auto message_of = [&](std::string body) {
    return err(call("POST", "/2015-03-31/functions", std::move(body)));
  };
  const std::string role = R"("Role":"arn:aws:iam::000000000000:role/r")";
  const std::string code = fmt::format(R"("Code":{{"ZipFile":"{}"}})", zip_b64());
  const std::string garbage_code = R"("Code":{"ZipFile":"Z2FyYmFnZQ=="})";  // "garbage"

  // 1: model constraints, several at once, even with every later step also failing.
  auto [c1, m1] =
      message_of(R"({"FunctionName":"f","Role":"r1","Runtime":"PYTHON3.9","Timeout":901,)" +
                 garbage_code + "}");
  EXPECT_EQ(c1, "ValidationException");
  EXPECT_EQ(m1,
            "2 validation errors detected: Value 'r1' at 'role' failed to satisfy constraint: "
            "Member must satisfy regular expression pattern: "
            "arn:(aws[a-zA-Z-]*)?:iam::\\d{12}:role/?[a-zA-Z_0-9+=,.@\\-_/]+; Value '901' at "
            "'timeout' failed to satisfy constraint: Member must have value less than or equal "
            "to 900");
  auto [c1b, m1b] =
      message_of(R"({"FunctionName":"f",)" + role + "," + code +
                 R"(,"Runtime":"python3.12","Handler":"h","Architectures":["x86_64","arm64"]})");
  EXPECT_EQ(m1b,
            "1 validation error detected: Value '[x86_64, arm64]' at 'architectures' failed to "
            "satisfy constraint: Member must have length less than or equal to 1");
  auto [c1c, m1c] = message_of("{}");
  EXPECT_EQ(c1c, "ValidationException");
  EXPECT_TRUE(m1c.starts_with("3 validation errors detected: Value null at 'functionName'")) << m1c;
  auto [c1d, m1d] =
      message_of(R"({"FunctionName":")" + std::string(65, 'n') + R"(",)" + role + "," + code + "}");
  EXPECT_EQ(c1d, "InvalidParameterValueException");
  EXPECT_TRUE(m1d.ends_with("less than or equal to 64")) << m1d;

  // 2: runtime not in the enum (case-sensitive), before the zip and environment.
  auto [c2, m2] = message_of(R"({"FunctionName":"f",)" + role + "," + garbage_code +
                             R"(,"Runtime":"PYTHON3.9","Handler":"h"})");
  EXPECT_EQ(c2, "InvalidParameterValueException");
  EXPECT_TRUE(
      m2.starts_with("Value PYTHON3.9 at 'runtime' failed to satisfy constraint: Member "
                     "must satisfy enum value set: ["))
      << m2;
  // 3: deprecated runtime.
  auto [c3, m3] = message_of(R"({"FunctionName":"f",)" + role + "," + garbage_code +
                             R"(,"Runtime":"python3.7","Handler":"h"})");
  EXPECT_EQ(m3,
            "The runtime parameter of python3.7 is no longer supported for creating or updating "
            "AWS Lambda functions. We recommend you use a supported runtime while creating or "
            "updating functions.");
  // 3b: in the enum, not run by Sluice.
  auto [c3b, m3b] = message_of(R"({"FunctionName":"f",)" + role + "," + garbage_code +
                               R"(,"Runtime":"java21","Handler":"h"})");
  EXPECT_EQ(c3b, "InvalidParameterValueException");
  EXPECT_NE(m3b.find("python3.12"), std::string::npos);
  // 4: zip without handler.
  auto [c4, m4] = message_of(R"({"FunctionName":"f",)" + role + "," + garbage_code +
                             R"(,"Runtime":"python3.12"})");
  EXPECT_EQ(m4,
            "Runtime and Handler are mandatory parameters for functions created with deployment "
            "packages.");
  // 5: images.
  auto [c5, m5] = message_of(R"({"FunctionName":"f",)" + role +
                             R"(,"Code":{"ImageUri":"x"},"PackageType":"Image"})");
  EXPECT_EQ(c5, "InvalidParameterValueException");
  EXPECT_NE(m5.find("image"), std::string::npos);
  // 6: S3.
  auto [c6, m6] =
      message_of(R"({"FunctionName":"f",)" + role +
                 R"(,"Runtime":"python3.12","Handler":"h","Code":{"S3Bucket":"b","S3Key":"k"}})");
  EXPECT_EQ(m6,
            "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The "
            "specified bucket does not exist");
  // 7: not a zip, before the environment's reserved keys.
  auto [c7, m7] = message_of(
      R"({"FunctionName":"f",)" + role + "," + garbage_code +
      R"(,"Runtime":"python3.12","Handler":"h","Environment":{"Variables":{"AWS_REGION":"x"}}})");
  EXPECT_EQ(c7, "InvalidParameterValueException");
  EXPECT_EQ(m7, "Could not unzip uploaded file. Please check your file, then try to upload again.");
  // 8: environment.
  auto [c8, m8] = message_of(
      R"({"FunctionName":"f",)" + role + "," + code +
      R"(,"Runtime":"python3.12","Handler":"h","Environment":{"Variables":{"TZ":"x","AWS_REGION":"x","OK":"1"}},"Layers":["l"]})");
  EXPECT_EQ(c8, "InvalidParameterValueException");
  EXPECT_EQ(m8,
            "Lambda was unable to configure your environment variables because the environment "
            "variables you have provided contains reserved keys that are currently not "
            "supported for modification. Reserved keys used in this request: AWS_REGION, TZ");
  const std::string big = std::string(5000, 'v');
  auto [c8b, m8b] =
      message_of(R"({"FunctionName":"f",)" + role + "," + code +
                 R"(,"Runtime":"python3.12","Handler":"h","Environment":{"Variables":{"BIG":")" +
                 big + R"("}}})");
  EXPECT_NE(m8b.find("exceeded the 4KB limit. String measured: {\"BIG\":\""), std::string::npos);
  auto [c8c, m8c] = message_of(
      R"({"FunctionName":"f",)" + role + "," + code +
      R"(,"Runtime":"python3.12","Handler":"h","Environment":{"Variables":{"1bad":"x"}}})");
  EXPECT_EQ(c8c, "ValidationException");
  // 9: layers, before the name conflict.
  ASSERT_EQ(create("taken").status, 201);
  auto [c9, m9] = message_of(
      R"({"FunctionName":"taken",)" + role + "," + code +
      R"(,"Runtime":"python3.12","Handler":"h","Layers":["arn:aws:lambda:us-east-1:000000000000:layer:l:1"]})");
  EXPECT_EQ(c9, "InvalidParameterValueException");
  EXPECT_NE(m9.find("layers"), std::string::npos);
  // 10: the conflict.
  EXPECT_EQ(err(create("taken")).first, "ResourceConflictException");
}

TEST_F(ApiTest, MalformedBodiesAreInvalidRequestContent) {
  EXPECT_EQ(err(call("POST", "/2015-03-31/functions", "{not json")).first,
            "InvalidRequestContentException");
  EXPECT_EQ(err(call("POST", "/2015-03-31/functions", "[1]")).first,
            "InvalidRequestContentException");
  EXPECT_EQ(err(call("POST", "/2015-03-31/functions", R"({"FunctionName":5})")).first,
            "InvalidRequestContentException");
  EXPECT_EQ(err(create("f1", R"(,"Timeout":"3")")).first, "InvalidRequestContentException");
}

TEST_F(ApiTest, ZippedSizeLimitIs413) {
  // 52428801 decoded bytes; the zip check comes before anything reads the archive.
  const std::string huge(52'428'801, 'z');
  const std::string b64 =
      base64_encode(ByteView(reinterpret_cast<const std::byte*>(huge.data()), huge.size()));
  const net::Response r = call(
      "POST", "/2015-03-31/functions",
      R"({"FunctionName":"f","Runtime":"python3.12","Handler":"h","Role":"arn:aws:iam::000000000000:role/r","Code":{"ZipFile":")" +
          b64 + R"("}})");
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.body, R"({"Message":"Zipped size must be smaller than 52428800 bytes"})");
}

TEST_F(ApiTest, ListPagesWithMarkerAndBothPathForms) {
  for (const char* n : {"c", "a", "b"}) ASSERT_EQ(create(n).status, 201);
  for (std::string_view base : {"/2015-03-31/functions", "/2015-03-31/functions/"}) {
    SCOPED_TRACE(base);
    auto first = json(call("GET", std::string(base) + "?MaxItems=2"));
    EXPECT_EQ(str(first, "/Functions/0/FunctionName"), "a");
    EXPECT_EQ(str(first, "/Functions/1/FunctionName"), "b");
    const std::string marker = str(first, "/NextMarker");
    ASSERT_NE(marker, "<absent>");
    auto second = json(call("GET", std::string(base) + "?MaxItems=2&Marker=" + marker));
    EXPECT_EQ(str(second, "/Functions/0/FunctionName"), "c");
    EXPECT_EQ(str(second, "/Functions/1/FunctionName"), "<absent>");
    EXPECT_EQ(str(second, "/NextMarker"), "<absent>");
  }
  EXPECT_EQ(err(call("GET", "/2015-03-31/functions?FunctionVersion=X")).second,
            "1 validation error detected: Value 'X' at 'functionVersion' failed to satisfy "
            "constraint: Member must satisfy enum value set: [ALL]");
  EXPECT_EQ(call("GET", "/2015-03-31/functions?FunctionVersion=ALL").status, 200);
  EXPECT_EQ(err(call("GET", "/2015-03-31/functions?MaxItems=0")).first, "ValidationException");
}

TEST_F(ApiTest, UpdateCodeIsInProgressAndChecksTheRevision) {
  ASSERT_EQ(create("f1").status, 201);
  const std::string rev =
      str(json(call("GET", "/2015-03-31/functions/f1/configuration")), "/RevisionId");
  const net::Response stale =
      call("PUT", "/2015-03-31/functions/f1/code",
           fmt::format(R"({{"ZipFile":"{}","RevisionId":"x"}})", zip_b64("v2")));
  EXPECT_EQ(stale.status, 412);
  EXPECT_EQ(err(stale).first, "PreconditionFailedException");
  const net::Response r =
      call("PUT", "/2015-03-31/functions/f1/code",
           fmt::format(R"({{"ZipFile":"{}","RevisionId":"{}"}})", zip_b64("v2"), rev));
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = json(r);
  EXPECT_EQ(str(e, "/LastUpdateStatus"), "InProgress");
  EXPECT_EQ(str(e, "/State"), "Active");
  EXPECT_NE(str(e, "/RevisionId"), rev);
  EXPECT_EQ(str(json(call("GET", "/2015-03-31/functions/f1")), "/Configuration/LastUpdateStatus"),
            "Successful");
  EXPECT_EQ(err(call("PUT", "/2015-03-31/functions/f1/code", R"({"ImageUri":"x"})")).second,
            "Please don't provide ImageUri when updating a function with packageType Zip.");
  EXPECT_EQ(call("PUT", "/2015-03-31/functions/nope/code",
                 fmt::format(R"({{"ZipFile":"{}"}})", zip_b64()))
                .status,
            404);
}

TEST_F(ApiTest, UpdateConfigurationReplacesEnvironment) {
  ASSERT_EQ(create("f1", R"(,"Environment":{"Variables":{"A":"1"}})").status, 201);
  const net::Response r = call("PUT", "/2015-03-31/functions/f1/configuration",
                               R"({"Timeout":9,"Environment":{"Variables":{"B":"2"}}})");
  ASSERT_EQ(r.status, 200) << r.body;
  auto e = json(r);
  EXPECT_EQ(int64_t(e["Timeout"]), 9);
  EXPECT_EQ(str(e, "/Environment/Variables/B"), "2");
  EXPECT_EQ(str(e, "/Environment/Variables/A"), "<absent>");
  EXPECT_EQ(str(e, "/LastUpdateStatus"), "InProgress");
  EXPECT_EQ(
      err(call("PUT", "/2015-03-31/functions/f1/configuration", R"({"MemorySize":64})")).first,
      "ValidationException");
  EXPECT_EQ(err(call("PUT", "/2015-03-31/functions/f1/configuration",
                     R"({"Environment":{"Variables":{"AWS_REGION":"x"}}})"))
                .first,
            "InvalidParameterValueException");
  EXPECT_EQ(call("PUT", "/2015-03-31/functions/f1/configuration", R"({"RevisionId":"old"})").status,
            412);
}

TEST_F(ApiTest, DeleteIs204ThenNotFoundAndLatestCannotBeDeleted) {
  ASSERT_EQ(create("f1").status, 201);
  EXPECT_EQ(err(call("DELETE", "/2015-03-31/functions/f1?Qualifier=%24LATEST")).second,
            "$LATEST version cannot be deleted without deleting the function.");
  const net::Response r = call("DELETE", "/2015-03-31/functions/f1");
  EXPECT_EQ(r.status, 204);
  EXPECT_TRUE(r.body.empty());
  EXPECT_EQ(call("DELETE", "/2015-03-31/functions/f1").status, 404);
}

TEST_F(ApiTest, QualifiersOtherThanLatestAreNotFound) {
  ASSERT_EQ(create("f1").status, 201);
  EXPECT_EQ(call("GET", "/2015-03-31/functions/f1?Qualifier=%24LATEST").status, 200);
  EXPECT_EQ(err(call("GET", "/2015-03-31/functions/f1?Qualifier=1")).second,
            "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f1:1");
  EXPECT_EQ(err(call("GET", "/2015-03-31/functions/f1:v1?Qualifier=v2")).first,
            "InvalidParameterValueException");
}

TEST_F(ApiTest, AuxiliaryRoutes) {
  ASSERT_EQ(create("f1", R"(,"Tags":{"a":"1"})").status, 201);
  const std::string arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A000000000000%3Afunction%3Af1";
  EXPECT_EQ(str(json(call("GET", "/2017-03-31/tags/" + arn)), "/Tags/a"), "1");
  EXPECT_EQ(call("POST", "/2017-03-31/tags/" + arn, R"({"Tags":{"b":"2"}})").status, 204);
  EXPECT_EQ(call("DELETE", "/2017-03-31/tags/" + arn + "?tagKeys=a").status, 204);
  auto tags = json(call("GET", "/2017-03-31/tags/" + arn));
  EXPECT_EQ(str(tags, "/Tags/a"), "<absent>");
  EXPECT_EQ(str(tags, "/Tags/b"), "2");
  EXPECT_EQ(str(json(call("GET", "/2015-03-31/functions/f1")), "/Tags/b"), "2");

  EXPECT_EQ(call("GET", "/2019-09-30/functions/f1/concurrency").body, "{}");
  EXPECT_EQ(
      call("PUT", "/2017-10-31/functions/f1/concurrency", R"({"ReservedConcurrentExecutions":5})")
          .body,
      R"({"ReservedConcurrentExecutions":5})");
  EXPECT_EQ(call("GET", "/2019-09-30/functions/f1/concurrency").body,
            R"({"ReservedConcurrentExecutions":5})");
  EXPECT_EQ(call("DELETE", "/2017-10-31/functions/f1/concurrency").status, 204);
  EXPECT_EQ(call("GET", "/2019-09-30/functions/f1/concurrency").body, "{}");

  auto settings = json(call("GET", "/2016-08-19/account-settings/"));
  EXPECT_EQ(int64_t(settings["AccountLimit"]["ConcurrentExecutions"]), 1000);
  EXPECT_EQ(int64_t(settings["AccountUsage"]["FunctionCount"]), 1);
  EXPECT_EQ(str(json(call("GET", "/2015-03-31/functions/f1/versions")), "/Versions/0/Version"),
            "$LATEST");
  EXPECT_EQ(err(call("GET", "/2015-03-31/functions/f1/policy")).second,
            "The resource you requested does not exist.");
  const net::Response perm = call(
      "POST", "/2015-03-31/functions/f1/policy",
      R"({"StatementId":"s","Action":"lambda:InvokeFunction","Principal":"s3.amazonaws.com"})");
  EXPECT_EQ(perm.status, 201);
  EXPECT_NE(str(json(perm), "/Statement").find("\"Sid\":\"s\""), std::string::npos);
}

TEST_F(ApiTest, InvokeAndUnknownRoutesAreClear4xx) {
  ASSERT_EQ(create("f1").status, 201);
  const net::Response invoke = call("POST", "/2015-03-31/functions/f1/invocations", "{}");
  EXPECT_EQ(invoke.status, 400);
  EXPECT_EQ(err(invoke).first, "InvalidParameterValueException");
  EXPECT_NE(err(invoke).second.find("Invoke"), std::string::npos);
  EXPECT_EQ(call("GET", "/2021-10-31/functions/f1/url").status, 404);
  EXPECT_EQ(call("PATCH", "/2015-03-31/functions/f1").status, 404);
}

}  // namespace
}  // namespace sluice::lambda
