// Enhanced fan-out consumers (spec 9.22), tags and policies by resource (9.17, 9.24) and
// account settings (9.21) in the stream layer: lifecycle from the clock, limits, DeleteStream's
// EnforceConsumerDeletion (9.2), persistence across restarts.

#include "stream/identifiers.h"
#include "stream/internal/metadata_codec.h"
#include "stream_test_env.h"

#include <gtest/gtest.h>

namespace sluice::stream {
namespace {

using testing::ServiceEnv;

constexpr int64_t kConsumerDelayMs = 1000;

StreamServiceOptions consumer_options() {
  StreamServiceOptions o = testing::instant_options();
  o.consumer_delay_ms = kConsumerDelayMs;
  return o;
}

ConsumerRef by_name(const std::string& stream, const std::string& name) {
  return ConsumerRef{ServiceEnv::key(stream), name, std::nullopt};
}

class ConsumersTest : public ::testing::Test {
 protected:
  void SetUp() override { env_.create("s", 1); }

  Result<ConsumerDescription> reg(const std::string& name) {
    return env_.svc().register_stream_consumer(ServiceEnv::key("s"), name);
  }

  ServiceEnv env_{consumer_options()};
};

TEST_F(ConsumersTest, Spec9_22_LifecycleCreatingActiveDeletingGone) {
  auto c = reg("app");
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->status, ConsumerStatus::kCreating);
  const int64_t created_s = ManualClock::kDefaultStartMs / 1000;
  EXPECT_EQ(c->arn, fmt::format("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/app:{}",
                                created_s));
  EXPECT_EQ(c->creation_timestamp_ms, created_s * 1000);
  env_.clock.advance_ms(kConsumerDelayMs - 1);
  EXPECT_EQ(env_.svc().describe_stream_consumer(by_name("s", "app"))->status,
            ConsumerStatus::kCreating);
  env_.clock.advance_ms(1);
  auto active = env_.svc().describe_stream_consumer(by_name("s", "app"));
  ASSERT_TRUE(active.ok());
  EXPECT_EQ(active->status, ConsumerStatus::kActive);
  EXPECT_EQ(active->stream_arn, stream_arn(ServiceEnv::key("s")));

  ASSERT_TRUE(env_.svc().deregister_stream_consumer(by_name("s", "app")).ok());
  EXPECT_EQ(env_.svc().describe_stream_consumer(by_name("s", "app"))->status,
            ConsumerStatus::kDeleting);
  env_.clock.advance_ms(kConsumerDelayMs);
  auto gone = env_.svc().describe_stream_consumer(by_name("s", "app"));
  EXPECT_EQ(gone.status().code(), Code::kNotFound);
  EXPECT_EQ(gone.status().message(), "Consumer app, account 000000000000 not found.");
}

TEST_F(ConsumersTest, Spec9_22_ConsumerCountFollowsRegisterAndDeregister) {
  EXPECT_EQ(env_.svc().describe_stream_summary(ServiceEnv::key("s"))->consumer_count, 0);
  ASSERT_TRUE(reg("a").ok());
  ASSERT_TRUE(reg("b").ok());
  EXPECT_EQ(env_.svc().describe_stream_summary(ServiceEnv::key("s"))->consumer_count, 2);
  ASSERT_TRUE(env_.svc().deregister_stream_consumer(by_name("s", "a")).ok());
  env_.clock.advance_ms(kConsumerDelayMs);
  EXPECT_EQ(env_.svc().describe_stream_summary(ServiceEnv::key("s"))->consumer_count, 1);
}

TEST_F(ConsumersTest, DuplicateNameIsInUseEvenWhileDeleting) {
  ASSERT_TRUE(reg("a").ok());
  EXPECT_EQ(reg("a").status().code(), Code::kInUse);
  ASSERT_TRUE(env_.svc().deregister_stream_consumer(by_name("s", "a")).ok());
  EXPECT_EQ(reg("a").status().code(), Code::kInUse);
  env_.clock.advance_ms(kConsumerDelayMs);
  EXPECT_TRUE(reg("a").ok());
}

TEST_F(ConsumersTest, Spec9_22_FiveCreatingThenTwentyInAll) {
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(reg(fmt::format("c{}", i)).ok());
  EXPECT_EQ(reg("c5").status().code(), Code::kLimitExceeded);
  for (int round = 1; round < 4; ++round) {
    env_.clock.advance_ms(kConsumerDelayMs);
    for (int i = 0; i < 5; ++i) ASSERT_TRUE(reg(fmt::format("c{}", round * 5 + i)).ok());
  }
  env_.clock.advance_ms(kConsumerDelayMs);
  auto twenty_first = reg("c20");
  EXPECT_EQ(twenty_first.status().code(), Code::kLimitExceeded);
  EXPECT_NE(twenty_first.status().message().find("maximum number of consumers (20)"),
            std::string::npos);
}

TEST_F(ConsumersTest, UnknownStreamIsStreamNotFound) {
  auto r = env_.svc().register_stream_consumer(ServiceEnv::key("nope"), "a");
  EXPECT_EQ(r.status().code(), Code::kNotFound);
  EXPECT_EQ(r.status().message(), "Stream nope under account 000000000000 not found.");
}

TEST_F(ConsumersTest, ArnOfAnEarlierConsumerOfTheSameNameNamesNothing) {
  auto first = reg("a");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(env_.svc().deregister_stream_consumer(by_name("s", "a")).ok());
  env_.clock.advance_ms(kConsumerDelayMs);
  auto second = reg("a");
  ASSERT_TRUE(second.ok());
  EXPECT_NE(first->arn, second->arn);
  auto old = parse_consumer_arn(first->arn);
  ASSERT_TRUE(old.has_value());
  ConsumerRef ref{old->stream, old->consumer_name, old->creation_s};
  EXPECT_EQ(env_.svc().describe_stream_consumer(ref).status().code(), Code::kNotFound);
  auto now = parse_consumer_arn(second->arn);
  ref.creation_s = now->creation_s;
  EXPECT_TRUE(env_.svc().describe_stream_consumer(ref).ok());
}

TEST_F(ConsumersTest, ListPagesByNameWithNextToken) {
  for (const char* n : {"d", "b", "a", "c", "e"}) ASSERT_TRUE(reg(n).ok());
  ListConsumersRequest req;
  req.stream = ServiceEnv::key("s");
  req.max_results = 2;
  std::vector<std::string> names;
  for (int page = 0; page < 5; ++page) {
    auto r = env_.svc().list_stream_consumers(req);
    ASSERT_TRUE(r.ok()) << r.status();
    for (const auto& c : r->consumers) names.push_back(c.name);
    if (!r->next_token) break;
    req.next_token = r->next_token;
  }
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
}

TEST_F(ConsumersTest, ListTokenExpiresAfterFiveMinutes) {
  for (const char* n : {"a", "b"}) ASSERT_TRUE(reg(n).ok());
  ListConsumersRequest req;
  req.stream = ServiceEnv::key("s");
  req.max_results = 1;
  auto r = env_.svc().list_stream_consumers(req);
  ASSERT_TRUE(r.ok() && r->next_token);
  req.next_token = r->next_token;
  env_.clock.advance_ms(300'001);
  EXPECT_EQ(env_.svc().list_stream_consumers(req).status().code(), Code::kExpired);
}

TEST_F(ConsumersTest, Spec9_2_Test6_DeleteWithConsumersNeedsEnforceConsumerDeletion) {
  ASSERT_TRUE(reg("a").ok());
  Status st = env_.svc().delete_stream(ServiceEnv::key("s"), /*enforce_consumer_deletion=*/false);
  EXPECT_EQ(st.code(), Code::kInUse);
  EXPECT_NE(st.message().find("has registered consumers"), std::string::npos);
  EXPECT_TRUE(env_.svc().delete_stream(ServiceEnv::key("s"), true).ok());
  EXPECT_EQ(env_.svc().describe_stream_summary(ServiceEnv::key("s")).status().code(),
            Code::kNotFound);
  // The consumers went with the stream: a new stream of that name has none.
  env_.create("s", 1);
  EXPECT_EQ(env_.svc().describe_stream_summary(ServiceEnv::key("s"))->consumer_count, 0);
}

TEST_F(ConsumersTest, ConsumersTagsAndPoliciesSurviveRestart) {
  ASSERT_TRUE(reg("a").ok());
  ASSERT_TRUE(reg("b").ok());
  ASSERT_TRUE(env_.svc().deregister_stream_consumer(by_name("s", "b")).ok());
  const ResourceRef consumer{ServiceEnv::key("s"), by_name("s", "a")};
  const ResourceRef stream{ServiceEnv::key("s"), std::nullopt};
  ASSERT_TRUE(env_.svc().tag_resource(consumer, {{"team", "data"}, {"k", ""}}).ok());
  ASSERT_TRUE(env_.svc().put_resource_policy(consumer, R"({"a":"x,y=1%"})").ok());
  ASSERT_TRUE(env_.svc().put_resource_policy(stream, "{\n}").ok());
  env_.restart();
  auto a = env_.svc().describe_stream_consumer(by_name("s", "a"));
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->status, ConsumerStatus::kCreating);
  EXPECT_EQ(env_.svc().describe_stream_consumer(by_name("s", "b"))->status,
            ConsumerStatus::kDeleting);
  auto tags = env_.svc().list_tags_for_resource(consumer);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (std::vector<std::pair<std::string, std::string>>{{"k", ""}, {"team", "data"}}));
  EXPECT_EQ(*env_.svc().get_resource_policy(consumer), R"({"a":"x,y=1%"})");
  EXPECT_EQ(*env_.svc().get_resource_policy(stream), "{\n}");
}

TEST_F(ConsumersTest, Spec9_17_StreamTagsAreSharedWithAddTagsToStream) {
  const ResourceRef stream{ServiceEnv::key("s"), std::nullopt};
  ASSERT_TRUE(env_.svc().add_tags(ServiceEnv::key("s"), {{"x", "1"}}).ok());
  ASSERT_TRUE(env_.svc().tag_resource(stream, {{"y", "2"}}).ok());
  auto tags = env_.svc().list_tags_for_resource(stream);
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(tags->size(), 2u);
  ASSERT_TRUE(env_.svc().untag_resource(stream, {"x"}).ok());
  EXPECT_EQ(env_.svc().list_tags({ServiceEnv::key("s")})->tags.size(), 1u);
  Status bad = env_.svc().tag_resource(stream, {{"a;b", "1"}});
  EXPECT_EQ(bad.code(), Code::kInvalidArgument);
  EXPECT_NE(bad.message().find("Some tags contain invalid characters"), std::string::npos);
}

TEST_F(ConsumersTest, Spec9_24_PolicyOfAnUnknownConsumerIsNotFound) {
  const ResourceRef missing{ServiceEnv::key("s"), by_name("s", "zz")};
  EXPECT_EQ(env_.svc().put_resource_policy(missing, "{}").code(), Code::kNotFound);
  const ResourceRef stream{ServiceEnv::key("s"), std::nullopt};
  EXPECT_FALSE(env_.svc().get_resource_policy(stream)->has_value());
  EXPECT_TRUE(env_.svc().delete_resource_policy(stream).ok());  // idempotent
}

TEST(AccountSettingsTest, Spec9_21_StoredEchoedAndPersisted) {
  ServiceEnv env;
  auto fresh = env.svc().describe_account_settings("000000000000", "us-east-1");
  ASSERT_TRUE(fresh.ok());
  EXPECT_FALSE(fresh->commitment_enabled);
  auto on = env.svc().update_account_settings("000000000000", "us-east-1", true);
  ASSERT_TRUE(on.ok());
  EXPECT_TRUE(on->commitment_enabled);
  EXPECT_EQ(on->started_at_ms, ManualClock::kDefaultStartMs);
  env.restart();
  auto again = env.svc().describe_account_settings("000000000000", "us-east-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, *on);
  EXPECT_FALSE(
      env.svc().describe_account_settings("000000000000", "eu-west-1")->commitment_enabled);
  env.clock.advance_ms(5000);
  auto off = env.svc().update_account_settings("000000000000", "us-east-1", false);
  ASSERT_TRUE(off.ok());
  EXPECT_EQ(off->ended_at_ms, ManualClock::kDefaultStartMs + 5000);
}

TEST(ConsumerCodecTest, StreamRecordRoundTripsConsumers) {
  internal::StreamMeta m;
  m.key = ServiceEnv::key("s");
  m.incarnation = 1;
  internal::ConsumerMeta c;
  c.name = "app";
  c.registered_ms = 1700000000123;
  c.creation_s = 1700000000;
  c.tags = {{"a", "b=c"}};
  c.policy = "{\"x\":\"y,z\"}";
  m.consumers.push_back(c);
  c.name = "old";
  c.deleting_due_ms = 1700000009000;
  c.tags.clear();
  c.policy.reset();
  m.consumers.push_back(c);
  m.policy = "{}";
  const std::string text = internal::encode_stream(m);
  EXPECT_NE(text.find("consumer=app,1700000000123,1700000000\n"), std::string::npos) << text;
  EXPECT_NE(text.find("consumer=old,1700000000123,1700000000,1700000009000\n"), std::string::npos);
  auto back = internal::decode_stream(text);
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(*back, m);
  EXPECT_EQ(internal::decode_stream(text + "consumer=x,1\n").status().code(), Code::kCorruption);
  EXPECT_EQ(internal::decode_stream(text + "consumer_tag=nobody,a,b\n").status().code(),
            Code::kCorruption);
}

TEST(ConsumerArnTest, ParsesWhatItFormats) {
  const std::string arn = consumer_arn(ServiceEnv::key("s.1"), "my-app", 1700000000);
  EXPECT_EQ(arn, "arn:aws:kinesis:us-east-1:000000000000:stream/s.1/consumer/my-app:1700000000");
  auto parsed = parse_consumer_arn(arn);
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->stream, ServiceEnv::key("s.1"));
  EXPECT_EQ(parsed->consumer_name, "my-app");
  EXPECT_EQ(parsed->creation_s, 1700000000);
  EXPECT_FALSE(parse_consumer_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s").has_value());
  EXPECT_FALSE(parse_consumer_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/a:")
                   .has_value());
  EXPECT_FALSE(parse_consumer_arn("arn:aws:kinesis:us-east-1:000000000000:stream/s/consumer/a:1x")
                   .has_value());
  EXPECT_FALSE(parse_stream_arn(arn).has_value());
}

}  // namespace
}  // namespace sluice::stream
