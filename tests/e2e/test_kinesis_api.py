"""Kinesis JSON API end to end: boto3 and the AWS CLI (v1) against the real binary.

Clients come from tests/e2e/requirements.txt (the venv `make test-deps` builds). Every call
has a deadline: botocore timeouts are short and retries are off, so a hang fails fast."""

import base64
import hashlib
import json
import os
import pathlib
import signal
import subprocess
import sys
import threading
import time
import http.client

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

DEADLINE_S = 10.0


def client(proc, validate=True, region="us-east-1", access_key="test"):
    return boto3.client(
        "kinesis",
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=region,
        aws_access_key_id=access_key,
        aws_secret_access_key="test",
        config=Config(
            connect_timeout=5,
            read_timeout=10,
            retries={"max_attempts": 1, "mode": "standard"},
            parameter_validation=validate,
        ),
    )


def wait_active(kinesis, name):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        d = kinesis.describe_stream(StreamName=name)["StreamDescription"]
        if d["StreamStatus"] == "ACTIVE":
            return d
        assert time.monotonic() < deadline, f"stream {name} not ACTIVE: {d['StreamStatus']}"
        time.sleep(0.05)


def shard_for_key(shards, partition_key):
    h = int(hashlib.md5(partition_key.encode()).hexdigest(), 16)
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError("no shard covers the key")


def read_all(kinesis, name, shard_id, iterator_type="TRIM_HORIZON", **kwargs):
    it = kinesis.get_shard_iterator(StreamName=name, ShardId=shard_id,
                                    ShardIteratorType=iterator_type, **kwargs)["ShardIterator"]
    out = []
    for _ in range(20):
        resp = kinesis.get_records(ShardIterator=it, Limit=1000)
        out.extend(resp["Records"])
        if not resp["Records"] or resp["MillisBehindLatest"] == 0:
            break
        it = resp["NextShardIterator"]
    return out


def raw_call(proc, operation, body, headers=None):
    """One Kinesis request without an SDK: (status, headers, body bytes)."""
    h = {
        "X-Amz-Target": f"Kinesis_20131202.{operation}",
        "Content-Type": "application/x-amz-json-1.1",
        "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
                         "SignedHeaders=host;x-amz-date, Signature=abc",
        "X-Amz-Date": "20240101T000000Z",
    }
    h.update(headers or {})
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    return proc.request("POST", "/", body=data, headers=h)


def put_mixed_records(kinesis, name):
    """Puts 30 records through PutRecord and PutRecords; returns [(key, data, shard, seq)]."""
    acked = []
    for i in range(10):
        key, data = f"key-{i}", bytes([i, 0, 255, 10, 13]) + os.urandom(16)
        r = kinesis.put_record(StreamName=name, PartitionKey=key, Data=data)
        acked.append((key, data, r["ShardId"], r["SequenceNumber"]))
    entries = [{"PartitionKey": f"batch-{i}", "Data": os.urandom(i * 7)} for i in range(20)]
    resp = kinesis.put_records(StreamName=name, Records=entries)
    assert resp["FailedRecordCount"] == 0
    assert len(resp["Records"]) == len(entries)
    for e, r in zip(entries, resp["Records"]):
        acked.append((e["PartitionKey"], e["Data"], r["ShardId"], r["SequenceNumber"]))
    return acked


def check_readable(kinesis, name, acked):
    """Every acknowledged record reads back bit-exact, in increasing sequence order per shard."""
    by_shard = {}
    for key, data, shard, seq in acked:
        by_shard.setdefault(shard, []).append((key, data, seq))
    for shard, expected in by_shard.items():
        got = read_all(kinesis, name, shard)
        assert [(r["PartitionKey"], r["Data"], r["SequenceNumber"]) for r in got] == expected
        seqs = [int(r["SequenceNumber"]) for r in got]
        assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)


def test_put_and_get_round_trip_routes_by_md5(server):
    kinesis = client(server)
    kinesis.create_stream(StreamName="orders", ShardCount=2)
    desc = wait_active(kinesis, "orders")
    shards = desc["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000", "shardId-000000000001"]
    assert shards[0]["HashKeyRange"]["StartingHashKey"] == "0"
    assert shards[1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)

    acked = put_mixed_records(kinesis, "orders")
    for key, _, shard, _ in acked:
        assert shard == shard_for_key(shards, key), key
    assert {shard for _, _, shard, _ in acked} == {s["ShardId"] for s in shards}
    check_readable(kinesis, "orders", acked)

    summary = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert kinesis.list_streams()["StreamNames"] == ["orders"]
    assert len(kinesis.list_shards(StreamName="orders")["Shards"]) == 2


@pytest.mark.parametrize("handler_threads", ["0", "3"])
def test_concurrent_writers_with_and_without_the_handler_pool(launch, handler_threads):
    # --handler-threads 0 runs requests on the I/O threads; 3 makes the pool smaller than the
    # number of writers, so requests queue for it. Either way every acknowledged record reads
    # back with the sequence number it was given, from full 500-record PutRecords too (whose
    # numbers are derived one from the next, like GetRecords' own).
    proc = launch("--handler-threads", handler_threads)
    kinesis = client(proc)
    kinesis.create_stream(StreamName="pool", ShardCount=3)
    wait_active(kinesis, "pool")
    results, errors = [], []

    def writer(w):
        try:
            own = client(proc)
            for round_ in range(3):
                entries = [{"PartitionKey": f"w{w}-{round_}-{i}", "Data": os.urandom(20)}
                           for i in range(500)]
                resp = own.put_records(StreamName="pool", Records=entries)
                assert resp["FailedRecordCount"] == 0
                results.extend((e["PartitionKey"], e["Data"], r["ShardId"], r["SequenceNumber"])
                               for e, r in zip(entries, resp["Records"]))
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert len(results) == 5 * 3 * 500
    # check_readable wants each shard's records in acknowledgement order: sort by number.
    results.sort(key=lambda r: int(r[3]))
    check_readable(kinesis, "pool", results)


def test_iterator_types(server):
    kinesis = client(server)
    kinesis.create_stream(StreamName="it", ShardCount=1)
    wait_active(kinesis, "it")
    shard = "shardId-000000000000"
    latest = kinesis.get_shard_iterator(StreamName="it", ShardId=shard,
                                        ShardIteratorType="LATEST")["ShardIterator"]
    seqs = []
    for i in range(4):
        seqs.append(kinesis.put_record(StreamName="it", PartitionKey="k",
                                       Data=f"r{i}".encode())["SequenceNumber"])
        time.sleep(0.02)  # distinct arrival milliseconds for AT_TIMESTAMP

    # LATEST taken before the puts returns them.
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest)["Records"]] == \
        [b"r0", b"r1", b"r2", b"r3"]
    at = read_all(kinesis, "it", shard, "AT_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
    assert [r["Data"] for r in at] == [b"r1", b"r2", b"r3"]
    after = read_all(kinesis, "it", shard, "AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=seqs[1])
    assert [r["Data"] for r in after] == [b"r2", b"r3"]
    everything = read_all(kinesis, "it", shard)
    t = everything[2]["ApproximateArrivalTimestamp"]
    by_time = read_all(kinesis, "it", shard, "AT_TIMESTAMP", Timestamp=t)
    assert [r["Data"] for r in by_time] == [b"r2", b"r3"]
    # A LATEST iterator taken now sees nothing yet.
    now = kinesis.get_shard_iterator(StreamName="it", ShardId=shard,
                                     ShardIteratorType="LATEST")["ShardIterator"]
    assert kinesis.get_records(ShardIterator=now)["Records"] == []


def test_records_survive_sigterm_restart(launch, tmp_path):
    data_dir = tmp_path / "restart"
    first = launch(data_dir=data_dir)
    kinesis = client(first)
    kinesis.create_stream(StreamName="durable", ShardCount=2)
    wait_active(kinesis, "durable")
    acked = put_mixed_records(kinesis, "durable")
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0

    second = launch(data_dir=data_dir)
    check_readable(client(second), "durable", acked)


def test_acknowledged_records_survive_kill_9(launch, tmp_path):
    data_dir = tmp_path / "crash"
    first = launch(data_dir=data_dir)
    kinesis = client(first)
    kinesis.create_stream(StreamName="crashy", ShardCount=2)
    wait_active(kinesis, "crashy")
    acked = put_mixed_records(kinesis, "crashy")
    first.signal(signal.SIGKILL)
    first.wait_exit()

    second = launch(data_dir=data_dir)
    kinesis = client(second)
    check_readable(kinesis, "crashy", acked)
    # And the stream keeps taking writes after recovery.
    r = kinesis.put_record(StreamName="crashy", PartitionKey="after", Data=b"after")
    assert read_all(kinesis, "crashy", r["ShardId"])[-1]["Data"] == b"after"


def test_missing_stream_is_resource_not_found(server):
    kinesis = client(server)
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream(StreamName="missing")
    err = e.value.response
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "ResourceNotFoundException"
    assert err["Error"]["Message"] == "Stream missing under account 000000000000 not found."

    status, headers, body = raw_call(server, "PutRecord",
                                     {"StreamName": "missing", "PartitionKey": "a", "Data": ""})
    assert status == 400
    assert headers["x-amzn-errortype"] == "ResourceNotFoundException"
    assert headers["content-type"] == "application/x-amz-json-1.1"
    assert headers["x-amzn-requestid"]
    assert json.loads(body) == {"__type": "ResourceNotFoundException",
                                "message": "Stream missing under account 000000000000 not found."}


def test_bad_shard_count_is_validation_exception(server):
    kinesis = client(server, validate=False)
    with pytest.raises(ClientError) as e:
        kinesis.create_stream(StreamName="", ShardCount=0)
    assert e.value.response["Error"]["Code"] == "ValidationException"
    assert e.value.response["Error"]["Message"] == (
        "3 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: "
        "Member must have value greater than or equal to 1; Value '' at 'streamName' failed to "
        "satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; "
        "Value '' at 'streamName' failed to satisfy constraint: Member must have length greater "
        "than or equal to 1")
    status, _, body = raw_call(server, "CreateStream", {"StreamName": "x", "ShardCount": 100000000000})
    assert status == 400
    assert json.loads(body)["message"] == (
        "1 validation error detected: Value '2147483647' at 'shardCount' failed to satisfy "
        "constraint: Member must have value less than or equal to 100000")


def test_wire_errors_for_bad_requests(server):
    status, _, body = raw_call(server, "CreateStream", {"StreamName": True})
    assert (status, json.loads(body)) == (400, {
        "__type": "SerializationException",
        "Message": "class java.lang.Boolean can not be converted to an String"})
    status, _, body = raw_call(server, "NoSuchOperation", {})
    assert (status, json.loads(body)) == (400, {"__type": "UnknownOperationException"})
    status, _, body = raw_call(server, "SubscribeToShard", {})
    assert status == 400 and "not supported" in json.loads(body)["message"]
    status, _, body = raw_call(server, "ListStreams", {}, headers={"Authorization": ""})
    assert json.loads(body)["__type"] == "MissingAuthenticationTokenException"
    status, _, body = raw_call(server, "ListStreams", "{not json")
    assert (status, json.loads(body)) == (400, {"__type": "SerializationException"})


def test_regions_are_isolated_and_accounts_come_from_the_access_key(server):
    east = client(server, region="us-east-1")
    west = client(server, region="eu-west-1", access_key="123456789012")
    east.create_stream(StreamName="same", ShardCount=1)
    west.create_stream(StreamName="same", ShardCount=1)
    arn = wait_active(west, "same")["StreamARN"]
    assert arn == "arn:aws:kinesis:eu-west-1:123456789012:stream/same"
    # The KCL sends both StreamName and StreamARN.
    assert west.describe_stream_summary(StreamName="same", StreamARN=arn)[
        "StreamDescriptionSummary"]["StreamARN"] == arn


def aws_cli(proc, *args):
    aws = pathlib.Path(sys.executable).parent / "aws"
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_DEFAULT_REGION="us-east-1", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
    result = subprocess.run(
        [str(aws), "--endpoint-url", f"http://127.0.0.1:{proc.port}", "--output", "json",
         "kinesis", *args],
        capture_output=True, timeout=30, env=env)
    assert result.returncode == 0, result.stderr.decode()
    out = result.stdout.decode()
    return json.loads(out) if out.strip() else None


def test_aws_cli_round_trip(server):
    assert aws_cli(server, "list-streams")["StreamNames"] == []
    aws_cli(server, "create-stream", "--stream-name", "cli", "--shard-count", "1")
    wait_active(client(server), "cli")
    assert aws_cli(server, "list-streams")["StreamNames"] == ["cli"]
    put = aws_cli(server, "put-record", "--stream-name", "cli", "--partition-key", "k",
                  "--data", "hello from the cli")
    assert put["ShardId"] == "shardId-000000000000"
    it = aws_cli(server, "get-shard-iterator", "--stream-name", "cli", "--shard-id",
                 put["ShardId"], "--shard-iterator-type", "TRIM_HORIZON")["ShardIterator"]
    records = aws_cli(server, "get-records", "--shard-iterator", it)["Records"]
    assert len(records) == 1
    assert records[0]["SequenceNumber"] == put["SequenceNumber"]
    assert base64.b64decode(records[0]["Data"]) == b"hello from the cli"


def test_reshard_retention_tags_and_limits(server):
    kinesis = client(server)
    kinesis.create_stream(StreamName="ops", ShardCount=2)
    wait_active(kinesis, "ops")
    kinesis.split_shard(StreamName="ops", ShardToSplit="shardId-000000000000",
                        NewStartingHashKey=str(2**126))
    wait_active(kinesis, "ops")
    kinesis.merge_shards(StreamName="ops", ShardToMerge="shardId-000000000002",
                         AdjacentShardToMerge="shardId-000000000003")
    shards = wait_active(kinesis, "ops")["Shards"]
    assert [s["ShardId"] for s in shards][-1] == "shardId-000000000004"
    assert shards[-1]["ParentShardId"] == "shardId-000000000002"
    assert shards[-1]["AdjacentParentShardId"] == "shardId-000000000003"
    resp = kinesis.update_shard_count(StreamName="ops", TargetShardCount=4,
                                      ScalingType="UNIFORM_SCALING")
    assert (resp["CurrentShardCount"], resp["TargetShardCount"]) == (2, 4)
    wait_active(kinesis, "ops")
    assert kinesis.describe_stream_summary(StreamName="ops")[
        "StreamDescriptionSummary"]["OpenShardCount"] == 4

    kinesis.increase_stream_retention_period(StreamName="ops", RetentionPeriodHours=48)
    assert wait_active(kinesis, "ops")["RetentionPeriodHours"] == 48
    with pytest.raises(ClientError) as e:
        kinesis.decrease_stream_retention_period(StreamName="ops", RetentionPeriodHours=12)
    assert e.value.response["Error"]["Code"] == "InvalidArgumentException"

    kinesis.add_tags_to_stream(StreamName="ops", Tags={"b": "2", "a": "1"})
    kinesis.remove_tags_from_stream(StreamName="ops", TagKeys=["b"])
    assert kinesis.list_tags_for_stream(StreamName="ops")["Tags"] == [{"Key": "a", "Value": "1"}]
    limits = kinesis.describe_limits()
    assert limits["OpenShardCount"] == 4 and limits["ShardLimit"] > 0

    kinesis.delete_stream(StreamName="ops")
    deadline = time.monotonic() + DEADLINE_S
    while "ops" in kinesis.list_streams()["StreamNames"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
