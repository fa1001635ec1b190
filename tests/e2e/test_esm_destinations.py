"""On-failure destinations of event source mappings (spec lambda-esm-kinesis.md sections 6.6, 9
and cases 33, 34, 36, 37): failure notices land in Sluice's own SQS-compatible queues and
S3-compatible buckets, read back with boto3 and the AWS CLI; the shard never moves past
records whose notice is not stored."""

import json
import re
import time
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_esm_delivery import ESM_FLAGS, Env, calls, delivered, wait_until
from test_lambda_functions import aws_cli

ACCOUNT = "000000000000"
REGION = "us-east-1"
FUNCTION_ARN = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f"
MILLIS_RE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
NOTICE_KEYS = ["requestContext", "responseContext", "version", "timestamp", "KinesisBatchInfo"]


class DestEnv(Env):
    def __init__(self, proc, tmp_path):
        super().__init__(proc, tmp_path)
        kw = dict(endpoint_url=f"http://127.0.0.1:{proc.port}", region_name=REGION,
                  aws_access_key_id="test", aws_secret_access_key="test",
                  config=Config(connect_timeout=5, read_timeout=30,
                                retries={"max_attempts": 1, "mode": "standard"}))
        self.sqs = boto3.client("sqs", **kw)
        self.s3 = boto3.client("s3", **kw)

    def queue(self, name="dlq"):
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        assert arn == f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        return url, arn

    def notices(self, url, want, timeout=20.0):
        """Receives (and deletes) messages until `want` arrived; fails on more."""
        got = []
        end = time.time() + timeout
        while len(got) < want and time.time() < end:
            r = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
            for m in r.get("Messages", []):
                got.append(m["Body"])
                self.sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        assert len(got) == want, f"{len(got)} notices, wanted {want}"
        time.sleep(0.3)
        extra = self.sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
        assert "Messages" not in extra, extra
        return got

    def clock(self, advance_ms):
        req = urllib.request.Request(
            f"http://127.0.0.1:{self.proc.port}/_sluice/test/clock?advance_ms={advance_ms}",
            method="POST", data=b"")
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())["offset_ms"]


@pytest.fixture
def env(launch, tmp_path):
    return DestEnv(launch(*ESM_FLAGS, "--test-clock", "--esm-destination-retry-ms", "100"),
                   tmp_path)


def cli_json(proc, *args):
    r = aws_cli(proc, *args)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout) if r.stdout.strip() else None


def check_batch_info(info, shard, start, end, size, stream_arn):
    assert list(info) == ["shardId", "startSequenceNumber", "endSequenceNumber",
                          "approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord",
                          "batchSize", "streamArn"]
    assert info["shardId"] == shard
    assert (info["startSequenceNumber"], info["endSequenceNumber"]) == (start, end)
    assert info["batchSize"] == size
    assert info["streamArn"] == stream_arn
    assert MILLIS_RE.match(info["approximateArrivalOfFirstRecord"])
    assert MILLIS_RE.match(info["approximateArrivalOfLastRecord"])


@pytest.mark.parametrize("retries", [1, 0])
def test_case33_34_exhausted_retries_send_one_notice_read_with_the_cli(env, retries):
    arn = env.stream()
    out = env.function()
    url, dlq = env.queue()
    env.mapping(arn, BatchSize=1, MaximumRetryAttempts=retries,
                DestinationConfig={"OnFailure": {"Destination": dlq}})
    [seq] = env.put("s", [{"i": 0, "fail": True}])
    # The AWS CLI reads the notice, as a user would.
    body = None
    end = time.time() + 20
    while body is None and time.time() < end:
        r = cli_json(env.proc, "sqs", "receive-message", "--queue-url", url,
                    "--wait-time-seconds", "1")
        if r and r.get("Messages"):
            assert len(r["Messages"]) == 1
            body = r["Messages"][0]["Body"]
    assert body is not None, "no notice in the queue"
    assert len(calls(out)) == retries + 1
    notice = json.loads(body)
    assert list(notice) == NOTICE_KEYS
    rc = notice["requestContext"]
    assert list(rc) == ["requestId", "functionArn", "condition", "approximateInvokeCount"]
    assert rc["condition"] == "RetryAttemptsExhausted"
    assert rc["approximateInvokeCount"] == retries + 1
    assert rc["functionArn"] == FUNCTION_ARN
    assert rc["requestId"] == calls(out)[-1]["request_id"]
    assert notice["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert notice["version"] == "1.0"
    assert MILLIS_RE.match(notice["timestamp"])
    check_batch_info(notice["KinesisBatchInfo"], "shardId-000000000000", seq, seq, 1, arn)


def test_poison_record_with_bisect_gives_one_notice_and_later_records_flow(env):
    arn = env.stream()
    out = env.function()
    url, dlq = env.queue()
    env.put("s", [{"i": i, "fail": i == 2} for i in range(4)])
    env.mapping(arn, BatchSize=4, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
                DestinationConfig={"OnFailure": {"Destination": dlq}})
    [body] = env.notices(url, 1)
    notice = json.loads(body)
    poison = [r["seq"] for c in calls(out) for r in c["records"] if r["item"]["i"] == 2][0]
    check_batch_info(notice["KinesisBatchInfo"], "shardId-000000000000", poison, poison, 1, arn)
    assert notice["requestContext"]["condition"] == "RetryAttemptsExhausted"
    env.put("s", [{"i": 4}])
    wait_until(lambda: 4 in delivered(out), what="the record after the poison")
    # Every good record was delivered; the poison's neighbours were not discarded.
    assert {0, 1, 3, 4} <= set(delivered(out))


def test_case36_bucket_notice_carries_the_poison_record_under_the_spec_key(env):
    arn = env.stream()
    out = env.function()
    env.s3.create_bucket(Bucket="notices")
    env.put("s", [{"i": i, "fail": i == 2} for i in range(4)])
    uuid = env.mapping(arn, BatchSize=4, MaximumRetryAttempts=1, BisectBatchOnFunctionError=True,
                       DestinationConfig={"OnFailure": {"Destination": "arn:aws:s3:::notices"}})
    objects = wait_until(lambda: env.s3.list_objects_v2(Bucket="notices").get("Contents"),
                         what="the notice object")
    env.put("s", [{"i": 4}])
    wait_until(lambda: 4 in delivered(out), what="the record after the poison")
    objects = env.s3.list_objects_v2(Bucket="notices")["Contents"]
    assert len(objects) == 1
    key = objects[0]["Key"]
    body = json.loads(env.s3.get_object(Bucket="notices", Key=key)["Body"].read())
    ts = body["timestamp"]  # 2026-11-27T23:59:01.123Z
    prefix = (f"aws/lambda/{uuid}/shardId-000000000000/{ts[0:4]}/{ts[5:7]}/{ts[8:10]}/"
              f"{ts[0:10]}T{ts[11:13]}.{ts[14:16]}.{ts[17:19]}-")
    assert key.startswith(prefix), (key, prefix)
    assert list(body) == NOTICE_KEYS + ["payload"]
    poison_calls = [c for c in calls(out) if [r["item"]["i"] for r in c["records"]] == [2]]
    assert len(poison_calls) == 2  # MaximumRetryAttempts 1: two invocations of it alone
    seq = poison_calls[0]["records"][0]["seq"]
    check_batch_info(body["KinesisBatchInfo"], "shardId-000000000000", seq, seq, 1, arn)
    assert body["requestContext"]["approximateInvokeCount"] == 2
    # The payload is the event the function was given for the poison record.
    assert body["payload"] == poison_calls[-1]["event"]
    # The CLI sees it too.
    listed = cli_json(env.proc, "s3api", "list-objects-v2", "--bucket", "notices", "--prefix",
                      f"aws/lambda/{uuid}/")
    assert [o["Key"] for o in listed["Contents"]] == [key]


def test_case37_record_age_exceeded_with_an_injected_clock(env):
    arn = env.stream()
    out = env.function()
    url, dlq = env.queue()
    env.mapping(arn, MaximumRetryAttempts=-1, MaximumRecordAgeInSeconds=60,
                DestinationConfig={"OnFailure": {"Destination": dlq}})
    [seq] = env.put("s", [{"i": 0, "fail": True}])
    wait_until(lambda: len(calls(out)) >= 2, what="two failed invocations")
    assert env.clock(61_000) == 61_000
    [body] = env.notices(url, 1)
    notice = json.loads(body)
    assert list(notice) == ["requestContext", "version", "timestamp", "KinesisBatchInfo"]
    assert notice["requestContext"]["condition"] == "RecordAgeExceeded"
    assert notice["requestContext"]["approximateInvokeCount"] >= 2
    check_batch_info(notice["KinesisBatchInfo"], "shardId-000000000000", seq, seq, 1, arn)
    invoked = len(calls(out))
    env.put("s", [{"i": 1}])
    wait_until(lambda: 1 in delivered(out), what="the next record")
    assert all(r["item"]["i"] == 1 for c in calls(out)[invoked:] for r in c["records"])


def test_a_partial_response_that_keeps_failing_has_a_null_function_error(env):
    arn = env.stream()
    out = env.function(REPORT=1)
    url, dlq = env.queue()
    env.put("s", [{"i": 0}, {"i": 1, "should_fail": True}, {"i": 2}])
    env.mapping(arn, BatchSize=3, MaximumRetryAttempts=1,
                FunctionResponseTypes=["ReportBatchItemFailures"],
                DestinationConfig={"OnFailure": {"Destination": dlq}})
    [body] = env.notices(url, 1)
    notice = json.loads(body)
    assert notice["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": None}
    info = notice["KinesisBatchInfo"]
    seqs = {r["item"]["i"]: r["seq"] for c in calls(out) for r in c["records"]}
    # Records 1 and 2 were given up together, after two invocations of them.
    check_batch_info(info, "shardId-000000000000", seqs[1], seqs[2], 2, arn)
    assert notice["requestContext"]["approximateInvokeCount"] == 2


def test_a_deleted_destination_keeps_the_records_and_says_so(env):
    arn = env.stream()
    out = env.function()
    url, dlq = env.queue()
    uuid = env.mapping(arn, BatchSize=1, MaximumRetryAttempts=0,
                       DestinationConfig={"OnFailure": {"Destination": dlq}})
    env.sqs.delete_queue(QueueUrl=url)
    [seq] = env.put("s", [{"i": 0, "fail": True}])
    env.put("s", [{"i": 1}])
    result = wait_until(
        lambda: (r := env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"])
        .startswith("PROBLEM: On-failure destination") and r, what="the problem reported")
    assert dlq in result
    time.sleep(0.5)
    assert delivered(out) == [0]  # record 1 waits behind the undelivered notice
    url, _ = env.queue()  # the same name: the same ARN
    [body] = env.notices(url, 1)
    check_batch_info(json.loads(body)["KinesisBatchInfo"], "shardId-000000000000", seq, seq, 1,
                     arn)
    wait_until(lambda: delivered(out) == [0, 1], what="record 1 after the notice")


def test_destinations_are_checked_on_create_and_update(env):
    arn = env.stream()
    env.function()
    with pytest.raises(ClientError) as missing:
        env.mapping(arn, DestinationConfig={"OnFailure": {
            "Destination": f"arn:aws:sqs:{REGION}:{ACCOUNT}:nope"}})
    assert missing.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "does not exist" in missing.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as sns:
        env.mapping(arn, DestinationConfig={"OnFailure": {
            "Destination": f"arn:aws:sns:{REGION}:{ACCOUNT}:topic"}})
    assert sns.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "SNS" in sns.value.response["Error"]["Message"]
    uuid = env.mapping(arn)
    with pytest.raises(ClientError) as bucket:
        env.lam.update_event_source_mapping(UUID=uuid, DestinationConfig={"OnFailure": {
            "Destination": "arn:aws:s3:::no-such-bucket"}})
    assert bucket.value.response["Error"]["Code"] == "InvalidParameterValueException"
    env.s3.create_bucket(Bucket="there")
    u = env.lam.update_event_source_mapping(UUID=uuid, DestinationConfig={"OnFailure": {
        "Destination": "arn:aws:s3:::there"}})
    assert u["DestinationConfig"] == {"OnFailure": {"Destination": "arn:aws:s3:::there"}}
