"""Kinesis control plane end to end with boto3: enhanced fan-out consumers (spec 9.22),
DeleteStream's EnforceConsumerDeletion (9.2), TagResource (9.17), encryption (9.18), enhanced
monitoring (9.19), account settings (9.21) and resource policies (9.24).

Same conventions as test_kinesis_api.py: short botocore timeouts, retries off, a deadline on
every wait."""

import json
import signal
import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

DEADLINE_S = 10.0


def client(proc, region="us-east-1"):
    return boto3.client(
        "kinesis",
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=10,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )


def wait_until(what, check):
    deadline = time.monotonic() + DEADLINE_S
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def active_stream(kinesis, name, shards=1):
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return wait_until(f"stream {name} ACTIVE", lambda: (
        lambda d: d if d["StreamStatus"] == "ACTIVE" else None)(
            kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]))


def consumer_status(kinesis, **addressing):
    return kinesis.describe_stream_consumer(**addressing)["ConsumerDescription"]["ConsumerStatus"]


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_consumer_lifecycle_and_consumer_count(server):
    kinesis = client(server)
    arn = active_stream(kinesis, "fanout")["StreamARN"]
    c = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    assert c["ConsumerStatus"] == "CREATING"
    assert c["ConsumerARN"].startswith(f"{arn}/consumer/app:")
    wait_until("consumer ACTIVE",
               lambda: consumer_status(kinesis, ConsumerARN=c["ConsumerARN"]) == "ACTIVE")
    by_name = kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="app")
    by_arn = kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
    assert by_name["ConsumerDescription"] == by_arn["ConsumerDescription"]
    assert by_arn["ConsumerDescription"]["StreamARN"] == arn
    summary = kinesis.describe_stream_summary(StreamName="fanout")["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 1
    listed = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert [x["ConsumerName"] for x in listed] == ["app"]

    kinesis.deregister_stream_consumer(ConsumerARN=c["ConsumerARN"])

    def gone():
        try:
            kinesis.describe_stream_consumer(ConsumerARN=c["ConsumerARN"])
            return False
        except ClientError as e:
            return e.response["Error"]["Code"] == "ResourceNotFoundException"

    wait_until("consumer gone", gone)
    summary = kinesis.describe_stream_summary(StreamName="fanout")["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 0
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []


def test_kcl_style_registration_flow(server):
    """DescribeStreamSummary -> DescribeStreamConsumer (not found) -> Register -> poll."""
    kinesis = client(server)
    arn = active_stream(kinesis, "kcl")["StreamARN"]
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName="worker")
    assert error_code(e) == "ResourceNotFoundException"
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="worker")
    wait_until("consumer ACTIVE", lambda: consumer_status(
        kinesis, StreamARN=arn, ConsumerName="worker") == "ACTIVE")


def test_duplicate_and_limit_and_unknown_stream(server):
    kinesis = client(server)
    arn = active_stream(kinesis, "limits")["StreamARN"]
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="a")
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="a")
    assert error_code(e) == "ResourceInUseException"
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(
            StreamARN=arn.replace("stream/limits", "stream/nope"), ConsumerName="a")
    assert error_code(e) == "ResourceNotFoundException"
    assert "Stream nope under account" in e.value.response["Error"]["Message"]
    registered = 1
    while registered < 20:
        wait_until("no consumer CREATING", lambda: all(
            c["ConsumerStatus"] != "CREATING"
            for c in kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]))
        for _ in range(min(5, 20 - registered)):
            kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=f"c{registered}")
            registered += 1
    with pytest.raises(ClientError) as e:
        kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="c20")
    assert error_code(e) == "LimitExceededException"
    page = kinesis.list_stream_consumers(StreamARN=arn, MaxResults=7)
    assert len(page["Consumers"]) == 7 and "NextToken" in page
    rest = kinesis.list_stream_consumers(StreamARN=arn, NextToken=page["NextToken"])
    assert len(rest["Consumers"]) == 13 and "NextToken" not in rest
    names = [c["ConsumerName"] for c in page["Consumers"] + rest["Consumers"]]
    assert names == sorted(names) and len(set(names)) == 20


def test_delete_stream_with_consumers_needs_enforce_flag(server):
    kinesis = client(server)
    arn = active_stream(kinesis, "del")["StreamARN"]
    kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="a")
    with pytest.raises(ClientError) as e:
        kinesis.delete_stream(StreamName="del")
    assert error_code(e) == "ResourceInUseException"
    kinesis.delete_stream(StreamName="del", EnforceConsumerDeletion=True)


def test_consumers_tags_and_policies_survive_restart(launch, tmp_path):
    data = tmp_path / "restart-data"
    first = launch(data_dir=data)
    kinesis = client(first)
    arn = active_stream(kinesis, "keep")["StreamARN"]
    consumer = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="app")["Consumer"]
    kinesis.tag_resource(ResourceARN=consumer["ConsumerARN"], Tags={"team": "data"})
    kinesis.put_resource_policy(ResourceARN=arn, Policy='{"Version":"2012-10-17"}')
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    second = launch(data_dir=data)
    kinesis = client(second)
    got = kinesis.describe_stream_consumer(ConsumerARN=consumer["ConsumerARN"])
    assert got["ConsumerDescription"]["ConsumerName"] == "app"
    tags = kinesis.list_tags_for_resource(ResourceARN=consumer["ConsumerARN"])["Tags"]
    assert tags == [{"Key": "team", "Value": "data"}]
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == '{"Version":"2012-10-17"}'


def test_tag_resource_shares_stream_tags(server):
    kinesis = client(server)
    arn = active_stream(kinesis, "tags")["StreamARN"]
    kinesis.tag_resource(ResourceARN=arn, Tags={"a": "1", "b": "2"})
    assert kinesis.list_tags_for_stream(StreamName="tags")["Tags"] == [
        {"Key": "a", "Value": "1"}, {"Key": "b", "Value": "2"}]
    kinesis.untag_resource(ResourceARN=arn, TagKeys=["a"])
    assert kinesis.list_tags_for_resource(ResourceARN=arn)["Tags"] == [{"Key": "b", "Value": "2"}]
    with pytest.raises(ClientError) as e:
        kinesis.tag_resource(ResourceARN=arn, Tags={"x;": "1"})
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.list_tags_for_resource(ResourceARN=arn.replace("stream/tags", "stream/none"))
    assert error_code(e) == "ResourceNotFoundException"


def test_encryption_and_enhanced_monitoring(server):
    kinesis = client(server)
    active_stream(kinesis, "enc")
    kinesis.start_stream_encryption(StreamName="enc", EncryptionType="KMS",
                                    KeyId="alias/aws/kinesis")
    d = wait_until("encryption on", lambda: (lambda s: s if s["StreamStatus"] == "ACTIVE" else None)(
        kinesis.describe_stream_summary(StreamName="enc")["StreamDescriptionSummary"]))
    assert d["EncryptionType"] == "KMS" and d["KeyId"] == "alias/aws/kinesis"
    put = kinesis.put_record(StreamName="enc", PartitionKey="k", Data=b"x")
    assert put["EncryptionType"] == "KMS"
    kinesis.stop_stream_encryption(StreamName="enc", EncryptionType="KMS",
                                   KeyId="alias/aws/kinesis")
    d = wait_until("encryption off", lambda: (lambda s: s if s["StreamStatus"] == "ACTIVE" else None)(
        kinesis.describe_stream_summary(StreamName="enc")["StreamDescriptionSummary"]))
    assert d["EncryptionType"] == "NONE"

    on = kinesis.enable_enhanced_monitoring(StreamName="enc", ShardLevelMetrics=["IncomingBytes"])
    assert on["CurrentShardLevelMetrics"] == [] and on["DesiredShardLevelMetrics"] == [
        "IncomingBytes"]
    described = kinesis.describe_stream(StreamName="enc")["StreamDescription"]
    assert described["EnhancedMonitoring"] == [{"ShardLevelMetrics": ["IncomingBytes"]}]
    off = kinesis.disable_enhanced_monitoring(StreamName="enc", ShardLevelMetrics=["ALL"])
    assert off["DesiredShardLevelMetrics"] == []


def test_account_settings_and_resource_policy(server):
    kinesis = client(server)
    arn = active_stream(kinesis, "pol")["StreamARN"]
    settings = kinesis.describe_account_settings()
    assert settings["MinimumThroughputBillingCommitment"]["Status"] == "DISABLED"
    updated = kinesis.update_account_settings(
        MinimumThroughputBillingCommitment={"Status": "ENABLED"})
    assert updated["MinimumThroughputBillingCommitment"]["Status"] == "ENABLED"
    assert "StartedAt" in updated["MinimumThroughputBillingCommitment"]
    assert kinesis.describe_account_settings()["MinimumThroughputBillingCommitment"][
        "Status"] == "ENABLED"

    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
    policy = json.dumps({"Version": "2012-10-17", "Statement": []})
    kinesis.put_resource_policy(ResourceARN=arn, Policy=policy)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == policy
    with pytest.raises(ClientError) as e:
        kinesis.put_resource_policy(ResourceARN=arn, Policy="not json")
    assert error_code(e) == "InvalidArgumentException"
    kinesis.delete_resource_policy(ResourceARN=arn)
    assert kinesis.get_resource_policy(ResourceARN=arn)["Policy"] == "{}"
