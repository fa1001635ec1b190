"""Kinesis CBOR 1.1 end to end: raw CBOR requests (as the Java SDK and KCL send them by
default) against the real binary, decoded with cbor2 (tests/e2e/requirements.txt).

Every call has a deadline (the HTTP timeout of conftest's request helper)."""

import os
import time

import boto3
import cbor2
import pytest
from botocore.config import Config

CBOR = "application/x-amz-cbor-1.1"
DEADLINE_S = 10.0
AUTH = ("AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc")


def decode(body):
    """One CBOR item; tag 1 stays a CBORTag so that tests see the wire form (cbor2 would make
    a datetime of it, reading the milliseconds as seconds)."""
    return cbor2.loads(body, semantic_decoders={1: lambda value, immutable: cbor2.CBORTag(1, value)})


def call(proc, operation, body, content_type=CBOR):
    """(status, headers, decoded body or None when empty). `body`: an object for cbor2, or bytes."""
    data = body if isinstance(body, bytes) else cbor2.dumps(body)
    headers = {
        "X-Amz-Target": f"Kinesis_20131202.{operation}",
        "Authorization": AUTH,
        "X-Amz-Date": "20240101T000000Z",
    }
    if content_type:
        headers["Content-Type"] = content_type
    status, h, payload = proc.request("POST", "/", body=data, headers=headers)
    if status < 500:
        assert h.get("content-type") == CBOR, (status, h, payload)
    return status, h, decode(payload) if payload else None


def ok(proc, operation, body):
    status, _, out = call(proc, operation, body)
    assert status == 200, out
    return out


def tag1(value):
    return cbor2.CBORTag(1, value)


def is_millis(ts, now_ms, slack_ms=120_000):
    """A tag-1 integer timestamp within slack of now."""
    return (isinstance(ts, cbor2.CBORTag) and ts.tag == 1 and isinstance(ts.value, int)
            and abs(ts.value - now_ms) < slack_ms)


def now_ms():
    return int(time.time() * 1000)


def create_active(proc, name, shards=1):
    status, _, out = call(proc, "CreateStream", {"StreamName": name, "ShardCount": shards})
    assert (status, out) == (200, None)
    deadline = time.monotonic() + DEADLINE_S
    while True:
        d = ok(proc, "DescribeStreamSummary", {"StreamName": name})["StreamDescriptionSummary"]
        if d["StreamStatus"] == "ACTIVE":
            return d
        assert time.monotonic() < deadline, d
        time.sleep(0.05)


def records(proc, name, shard_id, **position):
    spec = {"StreamName": name, "ShardId": shard_id, "ShardIteratorType": "TRIM_HORIZON"}
    spec.update(position)
    it = ok(proc, "GetShardIterator", spec)["ShardIterator"]
    out = ok(proc, "GetRecords", {"ShardIterator": it, "Limit": 1000})
    assert isinstance(out["MillisBehindLatest"], int)
    return out["Records"]


def test_create_describe_put_and_get_in_cbor(server):
    summary = create_active(server, "cbor-s", shards=2)
    created = summary["StreamCreationTimestamp"]
    assert is_millis(created, now_ms()), created
    assert created.value % 1000 == 0  # whole seconds, as in JSON

    payloads = [bytes([0, 1, 2, 255, 10, 13]), os.urandom(100), b""]
    put = ok(server, "PutRecord", {"StreamName": "cbor-s", "PartitionKey": "k0",
                                   "Data": payloads[0]})
    assert put["ShardId"].startswith("shardId-") and put["SequenceNumber"].isdigit()
    batch = ok(server, "PutRecords", {"StreamName": "cbor-s", "Records": [
        {"PartitionKey": "k0", "Data": payloads[1]},
        {"PartitionKey": "k0", "Data": payloads[2]},
    ]})
    assert batch["FailedRecordCount"] == 0
    assert [r["ShardId"] for r in batch["Records"]] == [put["ShardId"]] * 2

    got = records(server, "cbor-s", put["ShardId"])
    assert [r["Data"] for r in got] == payloads
    assert all(isinstance(r["Data"], bytes) for r in got)
    assert [r["SequenceNumber"] for r in got] == [put["SequenceNumber"]] + [
        r["SequenceNumber"] for r in batch["Records"]]
    for r in got:
        assert is_millis(r["ApproximateArrivalTimestamp"], now_ms()), r


def test_at_timestamp_with_tag_one_milliseconds(server):
    create_active(server, "cbor-t")
    ok(server, "PutRecord", {"StreamName": "cbor-t", "PartitionKey": "a", "Data": b"first"})
    time.sleep(0.02)  # distinct arrival milliseconds
    ok(server, "PutRecord", {"StreamName": "cbor-t", "PartitionKey": "a", "Data": b"second"})
    all_records = records(server, "cbor-t", "shardId-000000000000")
    second_ms = all_records[1]["ApproximateArrivalTimestamp"].value
    assert all_records[0]["ApproximateArrivalTimestamp"].value < second_ms

    at = records(server, "cbor-t", "shardId-000000000000", ShardIteratorType="AT_TIMESTAMP",
                 Timestamp=tag1(second_ms))
    assert [r["Data"] for r in at] == [b"second"]
    # A float timestamp is seconds.
    at_float = records(server, "cbor-t", "shardId-000000000000",
                       ShardIteratorType="AT_TIMESTAMP", Timestamp=second_ms / 1000.0)
    assert [r["Data"] for r in at_float][-1] == b"second"

    status, headers, err = call(server, "GetShardIterator", {
        "StreamName": "cbor-t", "ShardId": "shardId-000000000000",
        "ShardIteratorType": "AT_TIMESTAMP", "Timestamp": tag1(now_ms() + 3_600_000)})
    assert status == 400 and headers["x-amzn-errortype"] == "InvalidArgumentException"
    assert "timestampInMillis" in err["message"]


def test_errors_are_cbor_maps(server):
    status, headers, err = call(server, "DescribeStream", {"StreamName": "missing"})
    assert status == 400
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert err == {"__type": "ResourceNotFoundException",
                   "message": "Stream missing under account 000000000000 not found."}

    status, _, err = call(server, "PutRecord", {"StreamName": "x", "PartitionKey": "k", "Data": 5})
    assert status == 400
    assert err == {"__type": "SerializationException",
                   "Message": "class com.amazon.coral.value.json.numbers.TruncatingBigNumber "
                              "can not be converted to a Blob"}

    for malformed in (b"\xa1\x61", b"\x80", b"\xa0\x01", b"\xbf\x61a\xff", b"\x1c"):
        status, headers, err = call(server, "ListStreams", malformed)
        assert (status, err) == (400, {"__type": "SerializationException"}), malformed
        assert headers["x-amzn-errortype"] == "SerializationException"

    status, _, err = call(server, "ListStreams", b"")
    assert (status, err) == (400, {"__type": "SerializationException"})
    status, _, err = call(server, "Frobnicate", {})
    assert (status, err) == (400, {"__type": "UnknownOperationException"})


def test_indefinite_lengths_are_accepted(server):
    create_active(server, "cbor-i")
    body = (b"\xbf"  # map, indefinite
            + cbor2.dumps("StreamName") + b"\x7f" + cbor2.dumps("cbor") + cbor2.dumps("-i") + b"\xff"
            + cbor2.dumps("PartitionKey") + cbor2.dumps("k")
            + cbor2.dumps("Data") + b"\x5f" + cbor2.dumps(b"\x00\x01") + cbor2.dumps(b"\x02")
            + b"\xff"
            + b"\xff")
    status, _, out = call(server, "PutRecord", body)
    assert status == 200, out
    assert [r["Data"] for r in records(server, "cbor-i", "shardId-000000000000")] == [
        b"\x00\x01\x02"]


def test_json_and_cbor_clients_see_the_same_records(server):
    kinesis = boto3.client(
        "kinesis", endpoint_url=f"http://127.0.0.1:{server.port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=10,
                      retries={"max_attempts": 1, "mode": "standard"}))
    create_active(server, "cbor-j")
    kinesis.put_record(StreamName="cbor-j", PartitionKey="a", Data=b"\xffjson")
    ok(server, "PutRecord", {"StreamName": "cbor-j", "PartitionKey": "a", "Data": b"\xfecbor"})
    via_cbor = records(server, "cbor-j", "shardId-000000000000")
    it = kinesis.get_shard_iterator(StreamName="cbor-j", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    via_json = kinesis.get_records(ShardIterator=it)["Records"]
    assert [r["Data"] for r in via_cbor] == [r["Data"] for r in via_json] == [b"\xffjson",
                                                                           b"\xfecbor"]
    # The same instant, in milliseconds on both wires.
    assert [r["ApproximateArrivalTimestamp"].value for r in via_cbor] == [
        round(r["ApproximateArrivalTimestamp"].timestamp() * 1000) for r in via_json]


@pytest.mark.parametrize("content_type", ["", "text/plain", CBOR])
def test_empty_body_answers_in_cbor_unless_json(server, content_type):
    status, headers, payload = server.request("POST", "/", body=b"", headers={
        "X-Amz-Target": "Kinesis_20131202.ListStreams", "Authorization": AUTH,
        **({"Content-Type": content_type} if content_type else {})})
    assert status == 400
    assert headers["content-type"] == CBOR
    assert decode(payload) == {"__type": "SerializationException"}
