"""SQS JSON protocol end to end: boto3 and the AWS CLI (v1) against the real binary.

Covers docs/wire/sqs.md: queues, messages and their digests, visibility, long polling,
durability across kill -9, and the error types boto3's modeled exceptions match. Every call
has a deadline (short botocore timeouts, no retries)."""

import hashlib
import json
import signal
import struct
import threading
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_lambda_functions import aws_cli



def sqs(proc, read_timeout=10, access_key="test", region="us-east-1"):
    return boto3.client(
        "sqs",
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=read_timeout,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )


def attributes_md5(attributes):
    """MD5OfMessageAttributes, written from the published description of the encoding."""
    buf = b""
    for name in sorted(attributes):
        value = attributes[name]
        data_type = value["DataType"]
        buf += struct.pack(">I", len(name.encode())) + name.encode()
        buf += struct.pack(">I", len(data_type.encode())) + data_type.encode()
        if "BinaryValue" in value:
            raw = value["BinaryValue"]
            buf += b"\x02" + struct.pack(">I", len(raw)) + raw
        else:
            raw = value["StringValue"].encode()
            buf += b"\x01" + struct.pack(">I", len(raw)) + raw
    return hashlib.md5(buf).hexdigest()


def test_queue_lifecycle_and_urls(server):
    c = sqs(server)
    url = c.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "45"})["QueueUrl"]
    assert url == f"http://127.0.0.1:{server.port}/000000000000/orders"
    # Same attributes again: the same queue. Different ones: QueueNameExists.
    assert c.create_queue(QueueName="orders",
                          Attributes={"VisibilityTimeout": "45"})["QueueUrl"] == url
    with pytest.raises(c.exceptions.QueueNameExists) as e:
        c.create_queue(QueueName="orders", Attributes={"VisibilityTimeout": "46"})
    assert e.value.response["Error"]["Code"] == "QueueAlreadyExists"
    assert c.get_queue_url(QueueName="orders")["QueueUrl"] == url
    for name in ("orders-b", "billing"):
        c.create_queue(QueueName=name)
    assert c.list_queues(QueueNamePrefix="orders")["QueueUrls"] == [url, url + "-b"]
    page = c.list_queues(MaxResults=2)
    assert len(page["QueueUrls"]) == 2 and "NextToken" in page
    rest = c.list_queues(MaxResults=2, NextToken=page["NextToken"])
    assert len(rest["QueueUrls"]) == 1 and "NextToken" not in rest

    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["QueueArn"] == "arn:aws:sqs:us-east-1:000000000000:orders"
    assert attrs["VisibilityTimeout"] == "45"
    assert attrs["MessageRetentionPeriod"] == "345600"
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert abs(int(attrs["CreatedTimestamp"]) - time.time()) < 60
    c.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "2"})
    got = c.get_queue_attributes(QueueUrl=url, AttributeNames=["DelaySeconds"])["Attributes"]
    assert got == {"DelaySeconds": "2"}

    # An account from the credential, and the QueueUrl read by its last two segments.
    other = sqs(server, access_key="123456789012", region="eu-west-1")
    u2 = other.create_queue(QueueName="orders")["QueueUrl"]
    assert u2.endswith("/123456789012/orders")
    arn = other.get_queue_attributes(QueueUrl="http://ignored.example/123456789012/orders",
                                     AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == "arn:aws:sqs:eu-west-1:123456789012:orders"

    c.delete_queue(QueueUrl=url)
    with pytest.raises(c.exceptions.QueueDoesNotExist) as e:
        c.get_queue_url(QueueName="orders")
    assert e.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_send_receive_delete_with_attributes_and_digests(server):
    c = sqs(server)
    url = c.create_queue(QueueName="q")["QueueUrl"]
    attributes = {
        "City": {"DataType": "String", "StringValue": "Any City"},
        "Count": {"DataType": "Number", "StringValue": "12.5"},
        "Blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "tag.custom": {"DataType": "String.tag", "StringValue": "é ünï"},
    }
    body = "hello ✓"
    sent = c.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5(body.encode()).hexdigest()
    assert sent["MD5OfMessageAttributes"] == attributes_md5(attributes)

    got = c.receive_message(QueueUrl=url, MessageAttributeNames=["All"],
                            MessageSystemAttributeNames=["All"])["Messages"]
    assert len(got) == 1
    m = got[0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Body"] == body
    assert m["MD5OfBody"] == sent["MD5OfMessageBody"]
    assert m["MessageAttributes"] == attributes
    assert m["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["Attributes"]["SenderId"] == "000000000000"
    assert abs(int(m["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    assert int(m["Attributes"]["ApproximateFirstReceiveTimestamp"]) >= \
        int(m["Attributes"]["SentTimestamp"])

    # Only the asked-for attributes, and a digest over just those.
    c.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"],
                                VisibilityTimeout=0)
    # "tag.*" selects the names that start with "tag.".
    again = c.receive_message(QueueUrl=url, MessageAttributeNames=["City", "tag.*"],
                              AttributeNames=["ApproximateReceiveCount"])["Messages"][0]
    assert set(again["MessageAttributes"]) == {"City", "tag.custom"}
    assert again["MD5OfMessageAttributes"] == attributes_md5(
        {k: attributes[k] for k in ("City", "tag.custom")})
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}
    assert again["ReceiptHandle"] != m["ReceiptHandle"]

    c.delete_message(QueueUrl=url, ReceiptHandle=again["ReceiptHandle"])
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"
    assert "Messages" not in c.receive_message(QueueUrl=url)


def test_batches_report_each_entry(server):
    c = sqs(server)
    url = c.create_queue(QueueName="batch")["QueueUrl"]
    r = c.send_message_batch(QueueUrl=url, Entries=[
        {"Id": "a", "MessageBody": "one"},
        {"Id": "b", "MessageBody": "two", "DelaySeconds": 5},
        {"Id": "bad", "MessageBody": "x", "DelaySeconds": 901},
    ])
    assert sorted(s["Id"] for s in r["Successful"]) == ["a", "b"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in r["Failed"]] == \
        [("bad", "InvalidParameterValue", True)]
    for s in r["Successful"]:
        assert s["MD5OfMessageBody"] == hashlib.md5(
            {"a": b"one", "b": b"two"}[s["Id"]]).hexdigest()
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "1"
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "1"

    msgs = c.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in msgs] == ["one"]
    r = c.change_message_visibility_batch(QueueUrl=url, Entries=[
        {"Id": "ok", "ReceiptHandle": msgs[0]["ReceiptHandle"], "VisibilityTimeout": 60},
        {"Id": "junk", "ReceiptHandle": "junk", "VisibilityTimeout": 60},
    ])
    assert [s["Id"] for s in r["Successful"]] == ["ok"]
    assert [(f["Id"], f["Code"]) for f in r["Failed"]] == [("junk", "ReceiptHandleIsInvalid")]
    r = c.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": "x", "ReceiptHandle": msgs[0]["ReceiptHandle"]},
        {"Id": "y", "ReceiptHandle": "junk"},
    ])
    assert [s["Id"] for s in r["Successful"]] == ["x"]
    assert [f["Id"] for f in r["Failed"]] == ["y"]

    with pytest.raises(c.exceptions.BatchEntryIdsNotDistinct):
        c.send_message_batch(QueueUrl=url, Entries=[{"Id": "d", "MessageBody": "1"},
                                                    {"Id": "d", "MessageBody": "2"}])
    with pytest.raises(c.exceptions.TooManyEntriesInBatchRequest):
        c.send_message_batch(QueueUrl=url, Entries=[
            {"Id": f"e{i}", "MessageBody": "m"} for i in range(11)])
    c.purge_queue(QueueUrl=url)
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesDelayed"] == "0"


def test_modeled_errors_and_validation(server):
    c = sqs(server)
    url = c.create_queue(QueueName="errs")["QueueUrl"]
    missing = url.replace("/errs", "/gone")
    with pytest.raises(c.exceptions.QueueDoesNotExist):
        c.send_message(QueueUrl=missing, MessageBody="x")
    with pytest.raises(c.exceptions.QueueDoesNotExist):
        c.receive_message(QueueUrl=missing)
    with pytest.raises(c.exceptions.ReceiptHandleIsInvalid):
        c.delete_message(QueueUrl=url, ReceiptHandle="not-a-handle")
    with pytest.raises(c.exceptions.InvalidAttributeName):
        c.create_queue(QueueName="bad-attr", Attributes={"Colour": "blue"})
    with pytest.raises(c.exceptions.InvalidAttributeName):
        c.get_queue_attributes(QueueUrl=url, AttributeNames=["Colour"])
    with pytest.raises(c.exceptions.InvalidMessageContents):
        c.send_message(QueueUrl=url, MessageBody="bad \x01 char")
    for call in (lambda: c.receive_message(QueueUrl=url, MaxNumberOfMessages=11),
                 lambda: c.receive_message(QueueUrl=url, WaitTimeSeconds=21),
                 lambda: c.send_message(QueueUrl=url, MessageBody="x", DelaySeconds=901),
                 lambda: c.send_message(QueueUrl=url, MessageBody="x" * 262145),
                 lambda: c.create_queue(QueueName="bad name"),
                 lambda: c.create_queue(QueueName="fifo.fifo",
                                        Attributes={"FifoQueue": "true"})):
        with pytest.raises(ClientError) as e:
            call()
        assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    with pytest.raises(ClientError) as e:
        c.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "43201"})
    assert e.value.response["Error"]["Code"] == "InvalidAttributeValue"

    # What the wire looks like: __type with the namespace, the legacy code in a header.
    status, headers, body = server.request(
        "POST", "/", body=json.dumps({"QueueName": "nope"}),
        headers={"X-Amz-Target": "AmazonSQS.GetQueueUrl",
                 "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert json.loads(body)["__type"] == "com.amazonaws.sqs#QueueDoesNotExist"
    assert headers["x-amzn-query-error"] == "AWS.SimpleQueueService.NonExistentQueue;Sender"
    status, _, body = server.request(
        "POST", "/", body="{}", headers={"X-Amz-Target": "AmazonSQS.Frobnicate",
                                         "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400
    assert "UnknownOperationException" in json.loads(body)["__type"]
    status, _, body = server.request(
        "POST", "/", body="{}", headers={"X-Amz-Target": "AmazonSQS.SendMessage",
                                         "Content-Type": "application/x-amz-json-1.0"})
    assert status == 400 and json.loads(body)["__type"] == "com.amazonaws.sqs#MissingParameter"


def test_old_receipt_handle_after_re_receive(server):
    c = sqs(server)
    url = c.create_queue(QueueName="handles")["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="m")
    first = c.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"][0]
    second = c.receive_message(QueueUrl=url, VisibilityTimeout=30)["Messages"][0]
    assert first["ReceiptHandle"] != second["ReceiptHandle"]
    # As in SQS: deleting with the older handle succeeds but deletes nothing ...
    c.delete_message(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"])
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"
    # ... and changing its visibility reports an expired handle.
    with pytest.raises(ClientError) as e:
        c.change_message_visibility(QueueUrl=url, ReceiptHandle=first["ReceiptHandle"],
                                    VisibilityTimeout=5)
    assert e.value.response["Error"]["Code"] == "InvalidParameterValue"
    assert "expired" in e.value.response["Error"]["Message"]
    c.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                VisibilityTimeout=0)
    with pytest.raises(c.exceptions.MessageNotInflight):
        c.change_message_visibility(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"],
                                    VisibilityTimeout=5)
    c.delete_message(QueueUrl=url, ReceiptHandle=second["ReceiptHandle"])
    attrs = c.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "0"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "0"


def test_visibility_timeout_expiry_makes_message_receivable_again(server):
    c = sqs(server)
    url = c.create_queue(QueueName="vis", Attributes={"VisibilityTimeout": "1"})["QueueUrl"]
    c.send_message(QueueUrl=url, MessageBody="again")
    first = c.receive_message(QueueUrl=url)["Messages"][0]
    assert "Messages" not in c.receive_message(QueueUrl=url)
    start = time.monotonic()
    # A long poll wakes when the hidden message becomes visible, not at the end of the wait.
    again = c.receive_message(QueueUrl=url, WaitTimeSeconds=5,
                              MessageSystemAttributeNames=["ApproximateReceiveCount"])
    assert time.monotonic() - start < 3
    m = again["Messages"][0]
    assert m["MessageId"] == first["MessageId"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"


def test_long_poll_returns_promptly_when_message_is_sent(server):
    receiver = sqs(server, read_timeout=30)
    sender = sqs(server)
    url = sender.create_queue(QueueName="poll")["QueueUrl"]
    result = {}

    def poll():
        start = time.monotonic()
        result["response"] = receiver.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        result["elapsed"] = time.monotonic() - start

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)  # let the poll start waiting
    sender.send_message(QueueUrl=url, MessageBody="wake up")
    t.join(timeout=25)
    assert not t.is_alive()
    assert [m["Body"] for m in result["response"]["Messages"]] == ["wake up"]
    assert result["elapsed"] < 5, result["elapsed"]

    # An empty long poll lasts its wait time (here: the queue's default).
    sender.set_queue_attributes(QueueUrl=url, Attributes={"ReceiveMessageWaitTimeSeconds": "1"})
    start = time.monotonic()
    assert "Messages" not in receiver.receive_message(QueueUrl=url)
    assert 0.9 <= time.monotonic() - start < 5


def test_message_survives_kill_9_right_after_send(launch, tmp_path):
    data_dir = tmp_path / "durable"
    first = launch(data_dir=data_dir)
    c = sqs(first)
    url = c.create_queue(QueueName="durable")["QueueUrl"]
    sent = c.send_message(QueueUrl=url, MessageBody="must survive",
                          MessageAttributes={"k": {"DataType": "String", "StringValue": "v"}})
    c.send_message(QueueUrl=url, MessageBody="in flight")
    inflight = c.receive_message(QueueUrl=url, VisibilityTimeout=600,
                                 MessageAttributeNames=["All"])["Messages"][0]
    assert inflight["Body"] == "must survive"
    late = c.send_message(QueueUrl=url, MessageBody="sent last")
    first.proc.send_signal(signal.SIGKILL)
    first.proc.wait(timeout=10)

    second = launch(data_dir=data_dir)
    c2 = sqs(second)
    url2 = c2.get_queue_url(QueueName="durable")["QueueUrl"]
    attrs = c2.get_queue_attributes(QueueUrl=url2, AttributeNames=["All"])["Attributes"]
    assert attrs["ApproximateNumberOfMessages"] == "2"
    assert attrs["ApproximateNumberOfMessagesNotVisible"] == "1"  # still hidden after restart
    msgs = c2.receive_message(QueueUrl=url2, MaxNumberOfMessages=10,
                              MessageSystemAttributeNames=["All"])["Messages"]
    assert sorted(m["Body"] for m in msgs) == ["in flight", "sent last"]
    assert late["MessageId"] in {m["MessageId"] for m in msgs}
    # The receive count of the hidden one was kept: make it visible with its handle.
    c2.change_message_visibility(QueueUrl=url2, ReceiptHandle=inflight["ReceiptHandle"],
                                 VisibilityTimeout=0)
    m = c2.receive_message(QueueUrl=url2, MessageAttributeNames=["All"],
                           MessageSystemAttributeNames=["All"])["Messages"][0]
    assert m["MessageId"] == sent["MessageId"]
    assert m["Attributes"]["ApproximateReceiveCount"] == "2"
    assert m["MessageAttributes"] == {"k": {"DataType": "String", "StringValue": "v"}}


def sqs_cli(proc, *args):
    return aws_cli(proc, "sqs", *args)


def test_aws_cli_round_trip(server):
    r = sqs_cli(server, "create-queue", "--queue-name", "cli",
                "--attributes", "VisibilityTimeout=20")
    assert r.returncode == 0, r.stderr
    url = json.loads(r.stdout)["QueueUrl"]
    r = sqs_cli(server, "send-message", "--queue-url", url, "--message-body", "from the cli",
                "--message-attributes", '{"a":{"DataType":"Number","StringValue":"7"}}')
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    r = sqs_cli(server, "receive-message", "--queue-url", url, "--attribute-names", "All",
                "--message-attribute-names", "All", "--wait-time-seconds", "1")
    assert r.returncode == 0, r.stderr
    m = json.loads(r.stdout)["Messages"][0]
    assert m["Body"] == "from the cli"
    assert m["Attributes"]["ApproximateReceiveCount"] == "1"
    assert m["MessageAttributes"]["a"]["StringValue"] == "7"
    r = sqs_cli(server, "get-queue-url", "--queue-name", "missing")
    assert r.returncode != 0
    assert "NonExistentQueue" in r.stderr or "QueueDoesNotExist" in r.stderr, r.stderr


def test_sigterm_during_a_long_poll_stops_at_once(server):
    c = sqs(server, read_timeout=30)
    url = c.create_queue(QueueName="waiting")["QueueUrl"]
    result = {}

    def poll():
        try:
            result["response"] = c.receive_message(QueueUrl=url, WaitTimeSeconds=20)
        except Exception as e:  # the connection may close as the server stops
            result["error"] = e

    t = threading.Thread(target=poll)
    t.start()
    time.sleep(0.5)  # let the poll start waiting
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(timeout=15) == 0
    assert time.monotonic() - started < 3.0  # not the 10 s drain grace
    t.join(timeout=15)
    assert not t.is_alive()
    assert "Messages" not in result.get("response", {})
