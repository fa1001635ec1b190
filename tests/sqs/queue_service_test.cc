#include "sqs/queue_service.h"

#include "tests/sqs/sqs_test_env.h"

#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

namespace sluice::sqs {
namespace {

using testing::SqsTestEnv;

const QueueKey kQueue{"000000000000", "us-east-1", "orders"};

class QueueServiceTest : public ::testing::Test {
 protected:
  void SetUp() override { create(kQueue, QueueConfig{}); }

  void create(const QueueKey& key, const QueueConfig& config) {
    auto info = env_.service().create_queue(key, config, {});
    ASSERT_TRUE(info.ok()) << info.status();
  }

  SentMessage send(std::string body, std::optional<int64_t> delay_s = std::nullopt) {
    SendRequest r;
    r.body = std::move(body);
    r.delay_s = delay_s;
    r.sender_id = "000000000000";
    auto sent = env_.service().send(kQueue, r);
    SLUICE_CHECK(sent.ok(), "send: {}", sent.status().to_string());
    return *sent;
  }

  std::vector<ReceivedMessage> receive(int max = 10, std::optional<int64_t> visibility_s = {}) {
    ReceiveRequest r;
    r.max_messages = max;
    r.wait_s = 0;
    r.visibility_timeout_s = visibility_s;
    auto got = env_.service().receive(kQueue, r);
    SLUICE_CHECK(got.ok(), "receive: {}", got.status().to_string());
    return *got;
  }

  QueueInfo info() {
    auto i = env_.service().get_queue(kQueue);
    SLUICE_CHECK(i.ok(), "get_queue: {}", i.status().to_string());
    return *i;
  }

  SqsTestEnv env_;
};

TEST(Md5Test, BodyDigestIsHexMd5) {
  EXPECT_EQ(md5_of_body("hello"), "5d41402abc4b2a76b9719d911017c592");
}

TEST(Md5Test, SingleStringAttributeMatchesPublishedValue) {
  // The worked example SQS clients test against: SellerName=Example Store.
  EXPECT_EQ(md5_of_attributes({{"SellerName", "String", false, "Example Store"}}),
            "cd28f3b68aeee4b2eac9c66f2f694b58");
}

TEST(Md5Test, AttributesAreDigestedInNameOrderWithTransportBytes) {
  // Reference values computed by tests/e2e/test_sqs.py's independent encoder.
  const std::vector<MessageAttribute> attrs = {
      {"zeta", "Binary", true, std::string("\x00\x01\x02", 3)},
      {"alpha", "Number", false, "42"},
      {"mid", "String.custom", false, "x"},
  };
  std::vector<MessageAttribute> reversed(attrs.rbegin(), attrs.rend());
  EXPECT_EQ(md5_of_attributes(attrs), md5_of_attributes(reversed));
  EXPECT_EQ(md5_of_attributes(attrs), "18bf45b47ab0bb92929eb7dcb6324cb4");
  EXPECT_EQ(md5_of_attributes({}), "");
}

TEST(ReceiptHandleTest, RoundTripsAndRejectsForeignText) {
  const ReceiptHandle h{7, 42, "0123456789abcdef"};
  auto parsed = parse_receipt_handle(format_receipt_handle(h));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->queue_id, 7);
  EXPECT_EQ(parsed->message_row, 42);
  EXPECT_EQ(parsed->token, h.token);
  EXPECT_FALSE(parse_receipt_handle("not a handle").has_value());
  EXPECT_FALSE(parse_receipt_handle("").has_value());
}

TEST(QueueArnTest, ParsesItsOwnFormat) {
  auto key = parse_queue_arn(queue_arn(kQueue));
  ASSERT_TRUE(key.has_value());
  EXPECT_EQ(key->account, kQueue.account);
  EXPECT_EQ(key->region, kQueue.region);
  EXPECT_EQ(key->name, kQueue.name);
  EXPECT_FALSE(parse_queue_arn("arn:aws:kinesis:us-east-1:1:stream/x").has_value());
}

TEST(SetAttributeTest, RejectsOutOfRangeAndUnknownNames) {
  QueueConfig c;
  std::string msg;
  EXPECT_EQ(set_attribute(c, "VisibilityTimeout", "43201", &msg), AttributeError::kBadValue);
  EXPECT_EQ(set_attribute(c, "VisibilityTimeout", "abc", &msg), AttributeError::kBadValue);
  EXPECT_EQ(c.visibility_timeout_s, 30);
  EXPECT_EQ(set_attribute(c, "Nope", "1", &msg), AttributeError::kUnknownName);
  EXPECT_EQ(set_attribute(c, "FifoQueue", "true", &msg), AttributeError::kUnsupported);
  EXPECT_EQ(set_attribute(c, "DelaySeconds", "900", &msg), AttributeError::kNone);
  EXPECT_EQ(c.delay_s, 900);
}

TEST_F(QueueServiceTest, CreateIsIdempotentOnlyWhenGivenAttributesMatch) {
  QueueConfig c;
  c.visibility_timeout_s = 60;
  auto other = env_.service().create_queue(kQueue, c, {{"VisibilityTimeout", "60"}});
  EXPECT_EQ(other.status().code(), Code::kAlreadyExists);
  auto same = env_.service().create_queue(kQueue, QueueConfig{}, {{"VisibilityTimeout", "30"}});
  EXPECT_TRUE(same.ok()) << same.status();
  auto none = env_.service().create_queue(kQueue, c, {});
  EXPECT_TRUE(none.ok()) << none.status();
}

TEST_F(QueueServiceTest, ReceivedMessageIsHiddenUntilVisibilityTimeoutPasses) {
  send("a");
  auto first = receive(10, 30);
  ASSERT_EQ(first.size(), 1u);
  EXPECT_EQ(first[0].receive_count, 1);
  EXPECT_TRUE(receive().empty());
  EXPECT_EQ(info().in_flight, 1);
  env_.clock().advance_ms(29'999);
  EXPECT_TRUE(receive().empty());
  env_.clock().advance_ms(1);
  auto again = receive();
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].receive_count, 2);
  EXPECT_EQ(again[0].first_receive_ms, first[0].first_receive_ms);
  EXPECT_NE(again[0].receipt_handle, first[0].receipt_handle);
}

TEST_F(QueueServiceTest, DelayedMessageCountsAsDelayedUntilDue) {
  send("later", 10);
  EXPECT_EQ(info().delayed, 1);
  EXPECT_EQ(info().visible, 0);
  EXPECT_TRUE(receive().empty());
  env_.clock().advance_ms(10'000);
  EXPECT_EQ(info().visible, 1);
  EXPECT_EQ(receive().size(), 1u);
}

TEST_F(QueueServiceTest, QueueDelayAppliesWhenMessageHasNone) {
  QueueConfig c;
  c.delay_s = 5;
  ASSERT_TRUE(env_.service().set_queue_config(kQueue, c).ok());
  send("x");
  EXPECT_TRUE(receive().empty());
  env_.clock().advance_ms(5'000);
  EXPECT_EQ(receive().size(), 1u);
}

TEST_F(QueueServiceTest, ReceiveReturnsAtMostMaxInSendOrder) {
  for (int i = 0; i < 5; ++i) send("m" + std::to_string(i));
  auto got = receive(3);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_EQ(got[0].body, "m0");
  EXPECT_EQ(got[2].body, "m2");
  EXPECT_EQ(receive(10).size(), 2u);
}

TEST_F(QueueServiceTest, StaleHandleDeletesNothingAndCurrentHandleDeletes) {
  send("a");
  auto first = receive(1, 0);  // visible again at once
  auto second = receive(1, 30);
  ASSERT_EQ(second.size(), 1u);
  auto old_handle = parse_receipt_handle(first[0].receipt_handle);
  auto stale = env_.service().delete_message(kQueue, *old_handle);
  ASSERT_TRUE(stale.ok());
  EXPECT_EQ(*stale, HandleOutcome::kStale);
  EXPECT_EQ(info().in_flight, 1);
  auto current =
      env_.service().delete_message(kQueue, *parse_receipt_handle(second[0].receipt_handle));
  ASSERT_TRUE(current.ok());
  EXPECT_EQ(*current, HandleOutcome::kOk);
  EXPECT_EQ(info().in_flight + info().visible, 0);
}

TEST_F(QueueServiceTest, ChangeVisibilityReportsStaleAndNotInFlight) {
  send("a");
  auto got = receive(1, 30);
  const auto handle = *parse_receipt_handle(got[0].receipt_handle);
  auto zero = env_.service().change_visibility(kQueue, handle, 0);
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(*zero, HandleOutcome::kOk);
  auto again = env_.service().change_visibility(kQueue, handle, 10);
  EXPECT_EQ(*again, HandleOutcome::kNotInFlight);
  receive(1, 30);
  auto stale = env_.service().change_visibility(kQueue, handle, 10);
  EXPECT_EQ(*stale, HandleOutcome::kStale);
}

TEST_F(QueueServiceTest, HandleOfAnotherQueueIsInvalid) {
  const QueueKey other{kQueue.account, kQueue.region, "other"};
  create(other, QueueConfig{});
  send("a");
  auto got = receive();
  auto s = env_.service().delete_message(other, *parse_receipt_handle(got[0].receipt_handle));
  EXPECT_EQ(s.status().code(), Code::kInvalidArgument);
}

TEST_F(QueueServiceTest, RetentionDropsOldMessages) {
  QueueConfig c;
  c.retention_s = 60;
  ASSERT_TRUE(env_.service().set_queue_config(kQueue, c).ok());
  send("old");
  env_.clock().advance_ms(30'000);
  send("young");
  env_.clock().advance_ms(30'000);
  EXPECT_EQ(info().visible, 1);
  auto got = receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "young");
}

TEST_F(QueueServiceTest, ExpireMessagesSweepsEveryQueue) {
  QueueConfig c;
  c.retention_s = 60;
  ASSERT_TRUE(env_.service().set_queue_config(kQueue, c).ok());
  send("a");
  send("b");
  env_.clock().advance_ms(60'000);
  auto n = env_.service().expire_messages();
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 2);
}

TEST_F(QueueServiceTest, ReopenKeepsMessagesReceiveCountsAndVisibility) {
  send("hidden");
  send("kept");
  auto got = receive(1, 100);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].body, "hidden");
  env_.reopen();
  EXPECT_EQ(info().visible, 1);
  EXPECT_EQ(info().in_flight, 1);
  env_.clock().advance_ms(100'000);
  auto after = receive();
  ASSERT_EQ(after.size(), 2u);
  EXPECT_EQ(after[0].body, "kept");  // visible since it was sent
  EXPECT_EQ(after[0].receive_count, 1);
  EXPECT_EQ(after[1].body, "hidden");
  EXPECT_EQ(after[1].receive_count, 2);
}

TEST_F(QueueServiceTest, AttributesSurviveTheStore) {
  SendRequest r;
  r.body = "b";
  r.attributes = {{"bin", "Binary", true, std::string("\x00\xff,:", 4)},
                  {"n", "Number", false, "1.5"}};
  auto sent = env_.service().send(kQueue, r);
  ASSERT_TRUE(sent.ok());
  env_.reopen();
  auto got = receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].attributes, r.attributes);
  EXPECT_EQ(md5_of_attributes(got[0].attributes), sent->md5_of_attributes);
}

TEST_F(QueueServiceTest, PurgeAndDeleteQueue) {
  send("a");
  ASSERT_TRUE(env_.service().purge_queue(kQueue).ok());
  EXPECT_EQ(info().visible, 0);
  ASSERT_TRUE(env_.service().delete_queue(kQueue).ok());
  EXPECT_TRUE(env_.service().get_queue(kQueue).status().is_not_found());
  SendRequest r;
  r.body = "x";
  EXPECT_TRUE(env_.service().send(kQueue, r).status().is_not_found());
}

TEST_F(QueueServiceTest, ListQueuesByPrefixAndPage) {
  create({kQueue.account, kQueue.region, "orders-2"}, QueueConfig{});
  create({kQueue.account, kQueue.region, "billing"}, QueueConfig{});
  create({"111111111111", kQueue.region, "orders-x"}, QueueConfig{});
  auto page = env_.service().list_queues(kQueue.account, kQueue.region, "orders", "", 10);
  ASSERT_TRUE(page.ok());
  EXPECT_EQ(*page, (std::vector<std::string>{"orders", "orders-2"}));
  auto rest = env_.service().list_queues(kQueue.account, kQueue.region, "", "billing", 10);
  EXPECT_EQ(*rest, (std::vector<std::string>{"orders", "orders-2"}));
}

TEST_F(QueueServiceTest, SendToArnAndCheckArn) {
  EXPECT_TRUE(env_.service().check_queue_arn(queue_arn(kQueue)).ok());
  EXPECT_TRUE(
      env_.service().check_queue_arn("arn:aws:sqs:us-east-1:000000000000:nope").is_not_found());
  EXPECT_EQ(env_.service().check_queue_arn("arn:aws:sqs:us-east-1:000000000000:q.fifo").code(),
            Code::kInvalidArgument);
  EXPECT_EQ(env_.service().check_queue_arn("nonsense").code(), Code::kInvalidArgument);
  auto id = env_.service().send_to_arn(queue_arn(kQueue), "{\"failed\":true}");
  ASSERT_TRUE(id.ok()) << id.status();
  auto got = receive();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, *id);
  EXPECT_EQ(got[0].body, "{\"failed\":true}");
}

TEST_F(QueueServiceTest, LongPollWakesWhenAMessageIsSent) {
  ReceiveRequest r;
  r.wait_s = 20;
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] { return env_.service().receive(kQueue, r); });
  // Whether the send lands before or during the wait, the receive must get it.
  send("wake");
  auto got = waiter.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(QueueServiceTest, ShutdownReleasesWaitingReceivers) {
  ReceiveRequest r;
  r.wait_s = 20;
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] { return env_.service().receive(kQueue, r); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it start waiting
  env_.service().shutdown();
  auto got = waiter.get();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

TEST_F(QueueServiceTest, DestructionWaitsForWokenReceivers) {
  ReceiveRequest r;
  r.wait_s = 20;
  QueueService* service = &env_.service();
  const auto start = std::chrono::steady_clock::now();
  auto waiter = std::async(std::launch::async, [&] { return service->receive(kQueue, r); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));  // let it start waiting
  env_.reopen();  // destroys the service the receiver is waiting in
  auto got = waiter.get();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace sluice::sqs
