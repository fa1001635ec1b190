"""Event source mapping control plane end to end (spec lambda-esm-kinesis.md 1.1-1.6,
behavioural cases 1-22), through boto3 against the real binary, plus raw HTTP where the
exact error body matters.

Retries are off for boto3; every call and every wait has a deadline."""

import json
import signal
import time
from datetime import datetime, timezone

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from test_lambda_functions import make_zip

ROLE = "arn:aws:iam::000000000000:role/r"
ACCOUNT = "000000000000"
REGION = "us-east-1"
WAIT_S = 10.0
ESM_PATH = "/2015-03-31/event-source-mappings/"

ALWAYS_KEYS = {
    "BatchSize", "BisectBatchOnFunctionError", "DestinationConfig", "EventSourceArn",
    "EventSourceMappingArn", "FunctionArn", "FunctionResponseTypes", "LastModified",
    "LastProcessingResult", "MaximumBatchingWindowInSeconds", "MaximumRecordAgeInSeconds",
    "MaximumRetryAttempts", "ParallelizationFactor", "StartingPosition", "State",
    "StateTransitionReason", "TumblingWindowInSeconds", "UUID",
}


def _client(service, proc):
    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=REGION,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=20,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )


class Env:
    """A server with boto3 clients and helpers to make functions and streams."""

    def __init__(self, proc):
        self.proc = proc
        self.lam = _client("lambda", proc)
        self.kin = _client("kinesis", proc)

    def function(self, name):
        self.lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                                 Role=ROLE, Code={"ZipFile": make_zip()})
        return f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    def stream(self, name, shards=1):
        self.kin.create_stream(StreamName=name, ShardCount=shards)
        deadline = time.monotonic() + WAIT_S
        while True:
            d = self.kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
            if d["StreamStatus"] == "ACTIVE":
                return d["StreamARN"]
            assert time.monotonic() < deadline, f"stream {name} never became ACTIVE"
            time.sleep(0.05)

    def raw(self, method, path, body=None):
        """Unsigned request: the default account and region. (status, headers, parsed body)."""
        data = None if body is None else json.dumps(body).encode()
        status, headers, payload = self.proc.request(
            method, path, body=data, headers={"Content-Type": "application/json"})
        return status, headers, json.loads(payload) if payload else None


@pytest.fixture
def env(server):
    return Env(server)


def error_of(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def wait_state(env, uuid, state):
    deadline = time.monotonic() + WAIT_S
    while True:
        got = env.lam.get_event_source_mapping(UUID=uuid)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        if got["State"] == state:
            return got
        assert time.monotonic() < deadline, f"mapping {uuid} stuck in {got['State']}"
        time.sleep(0.05)


def wait_gone(env, uuid):
    deadline = time.monotonic() + WAIT_S
    while True:
        try:
            env.lam.get_event_source_mapping(UUID=uuid)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException"
            return
        assert time.monotonic() < deadline, f"mapping {uuid} never went away"
        time.sleep(0.05)


def test_create_minimal_echoes_every_default_then_becomes_enabled(env):
    # Cases 1 and 2.
    env.function("fn")
    stream = env.stream("s1")
    m = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="LATEST")
    assert m["ResponseMetadata"]["HTTPStatusCode"] == 202
    body = {k: v for k, v in m.items() if k != "ResponseMetadata"}
    assert set(body) == ALWAYS_KEYS
    assert body["BatchSize"] == 100
    assert body["MaximumBatchingWindowInSeconds"] == 0
    assert body["ParallelizationFactor"] == 1
    assert body["BisectBatchOnFunctionError"] is False
    assert body["MaximumRetryAttempts"] == -1
    assert body["MaximumRecordAgeInSeconds"] == -1
    assert body["TumblingWindowInSeconds"] == 0
    assert body["FunctionResponseTypes"] == []
    assert body["DestinationConfig"] == {"OnFailure": {}}
    assert body["LastProcessingResult"] == "No records processed"
    assert body["State"] == "Creating"
    assert body["StateTransitionReason"] == "User action"
    assert body["EventSourceArn"] == stream
    assert body["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"
    uuid = body["UUID"]
    assert len(uuid) == 36 and uuid == uuid.lower() and uuid[14] == "4"
    assert body["EventSourceMappingArn"] == (
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:event-source-mapping:{uuid}")
    assert isinstance(body["LastModified"], datetime)
    got = wait_state(env, uuid, "Enabled")
    assert got["UUID"] == uuid
    assert got["LastModified"] >= body["LastModified"]


def test_missing_starting_position_has_the_exact_body(env):
    # Case 3: InvalidParameterValueException with {"Type":"User","message":...}.
    env.function("fn")
    stream = env.stream("s3")
    status, headers, body = env.raw("POST", ESM_PATH,
                                    {"FunctionName": "fn", "EventSourceArn": stream})
    assert status == 400
    assert headers["x-amzn-errortype"] == "InvalidParameterValueException"
    assert "x-amzn-requestid" in headers
    assert body == {
        "Type": "User",
        "message": "1 validation error detected: Value null at 'startingPosition' failed to "
                   "satisfy constraint: Member must not be null.",
    }


def test_invalid_starting_position_is_validation_exception(env):
    # Case 4 (raw: boto3 would refuse the enum value itself).
    env.function("fn")
    stream = env.stream("s4")
    status, headers, body = env.raw("POST", ESM_PATH, {
        "FunctionName": "fn", "EventSourceArn": stream, "StartingPosition": "invalid"})
    assert status == 400
    assert headers["x-amzn-errortype"] == "ValidationException"
    assert body == {"message": (
        "1 validation error detected: Value 'invalid' at 'startingPosition' failed to satisfy "
        "constraint: Member must satisfy enum value set: [LATEST, AT_TIMESTAMP, TRIM_HORIZON]")}


def test_unknown_stream_function_and_missing_source(env):
    # Cases 5, 6 and 7.
    env.function("fn")
    stream = env.stream("s5")
    missing = f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/nope"
    with pytest.raises(ClientError) as no_stream:
        env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=missing,
                                            StartingPosition="LATEST")
    assert error_of(no_stream) == ("InvalidParameterValueException",
                                   f"Stream not found: {missing}", 400)
    with pytest.raises(ClientError) as no_function:
        env.lam.create_event_source_mapping(FunctionName="ghost", EventSourceArn=stream,
                                            StartingPosition="LATEST")
    assert error_of(no_function) == ("InvalidParameterValueException",
                                     "Function does not exist", 400)
    status, headers, body = env.raw("POST", ESM_PATH,
                                    {"FunctionName": "fn", "StartingPosition": "LATEST"})
    assert (status, headers["x-amzn-errortype"]) == (400, "InvalidParameterValueException")
    assert body == {"Type": "User", "message": "Unrecognized event source."}


def test_on_success_destination_is_refused_even_for_a_missing_function(env):
    # Case 8.
    stream = env.stream("s8")
    with pytest.raises(ClientError) as exc:
        env.lam.create_event_source_mapping(
            FunctionName="ghost", EventSourceArn=stream, StartingPosition="LATEST",
            DestinationConfig={"OnSuccess": {
                "Destination": f"arn:aws:sqs:{REGION}:{ACCOUNT}:q"}})
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "Unsupported DestinationConfig parameter for given event source mapping type.", 400)


def test_duplicate_mapping_is_a_conflict_naming_the_first(env):
    # Case 9.
    env.function("fn")
    env.function("other")
    stream = env.stream("s9")
    first = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                                StartingPosition="LATEST")
    with pytest.raises(ClientError) as exc:
        env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="TRIM_HORIZON")
    assert error_of(exc) == (
        "ResourceConflictException",
        f'The event source arn (" {stream} ") and function (" fn ") provided mapping already '
        f"exists. Please update or delete the existing mapping with UUID {first['UUID']}",
        409)
    second = env.lam.create_event_source_mapping(FunctionName="other", EventSourceArn=stream,
                                                 StartingPosition="LATEST")
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert second["UUID"] != first["UUID"]
    # Moving the second mapping onto the first one's function makes the same duplicate.
    wait_state(env, second["UUID"], "Enabled")
    with pytest.raises(ClientError) as moved:
        env.lam.update_event_source_mapping(UUID=second["UUID"], FunctionName="fn")
    assert error_of(moved)[0] == "ResourceConflictException"
    assert error_of(moved)[2] == 409
    assert first["UUID"] in error_of(moved)[1]


def test_record_age_rule(env):
    # Case 10.
    for name in ("fa", "fb", "fc", "fd"):
        env.function(name)
    stream = env.stream("s10")
    with pytest.raises(ClientError) as exc:
        env.lam.create_event_source_mapping(FunctionName="fa", EventSourceArn=stream,
                                            StartingPosition="LATEST",
                                            MaximumRecordAgeInSeconds=30)
    assert error_of(exc) == (
        "InvalidParameterValueException",
        "MaximumRecordAgeInSeconds must be either -1 (forever) or between 60 and 604800 "
        "(inclusive)", 400)
    for name, age in (("fb", 60), ("fc", 604800), ("fd", -1)):
        m = env.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream,
                                                StartingPosition="LATEST",
                                                MaximumRecordAgeInSeconds=age)
        assert m["MaximumRecordAgeInSeconds"] == age


@pytest.mark.parametrize("member,value,field", [
    ("BatchSize", 0, "batchSize"),
    ("BatchSize", 10001, "batchSize"),
    ("ParallelizationFactor", 11, "parallelizationFactor"),
    ("MaximumBatchingWindowInSeconds", 301, "maximumBatchingWindowInSeconds"),
    ("TumblingWindowInSeconds", 901, "tumblingWindowInSeconds"),
    ("MaximumRetryAttempts", -2, "maximumRetryAttempts"),
    ("MaximumRetryAttempts", 10001, "maximumRetryAttempts"),
])
def test_out_of_range_numbers_are_validation_exceptions(env, member, value, field):
    # Case 11, as a client that does not validate would send it.
    env.function("fn")
    stream = env.stream("s11")
    status, headers, body = env.raw("POST", ESM_PATH, {
        "FunctionName": "fn", "EventSourceArn": stream, "StartingPosition": "LATEST",
        member: value})
    assert (status, headers["x-amzn-errortype"]) == (400, "ValidationException")
    assert body["message"].startswith(
        f"1 validation error detected: Value '{value}' at '{field}' failed to satisfy "
        "constraint: Member must have value ")


def test_at_timestamp_without_timestamp(env):
    # Case 12.
    env.function("fn")
    stream = env.stream("s12")
    with pytest.raises(ClientError) as exc:
        env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="AT_TIMESTAMP")
    assert error_of(exc) == ("InvalidParameterValueException", "Need to specify a timestamp",
                             400)


@pytest.mark.parametrize("pattern", ["single-string", '[{"a": ["x"=1}]'])
def test_invalid_filter_patterns(env, pattern):
    # Case 13.
    env.function("fn")
    stream = env.stream("s13")
    with pytest.raises(ClientError) as exc:
        env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="LATEST",
                                            FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert error_of(exc) == ("InvalidParameterValueException",
                             "Invalid filter pattern definition.", 400)


def test_empty_filters_give_no_filter_criteria_key(env):
    # Case 14, and a real filter echoed verbatim.
    env.function("fn")
    env.function("g")
    stream = env.stream("s14")
    m = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="LATEST",
                                            FilterCriteria={"Filters": []})
    assert "FilterCriteria" not in m
    pattern = '{"data": {"kind": ["refund"]}}'
    f = env.lam.create_event_source_mapping(FunctionName="g", EventSourceArn=stream,
                                            StartingPosition="LATEST",
                                            FilterCriteria={"Filters": [{"Pattern": pattern}]})
    assert f["FilterCriteria"] == {"Filters": [{"Pattern": pattern}]}


def test_unknown_uuid_is_404_with_capital_message(env):
    # Case 15.
    uuid = "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c"
    expected = {"Type": "User", "Message": "The resource you requested does not exist."}
    for method, body in (("GET", None), ("PUT", {"BatchSize": 5}), ("DELETE", None)):
        status, headers, got = env.raw(method, ESM_PATH + uuid, body)
        assert (status, headers["x-amzn-errortype"]) == (404, "ResourceNotFoundException")
        assert got == expected
    for call in (lambda: env.lam.get_event_source_mapping(UUID=uuid),
                 lambda: env.lam.update_event_source_mapping(UUID=uuid, BatchSize=5),
                 lambda: env.lam.delete_event_source_mapping(UUID=uuid)):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc) == ("ResourceNotFoundException",
                                 "The resource you requested does not exist.", 404)


def test_disable_then_change_batch_size(env):
    # Cases 16 and 17.
    env.function("fn")
    stream = env.stream("s16")
    uuid = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                               StartingPosition="LATEST")["UUID"]
    wait_state(env, uuid, "Enabled")
    off = env.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert off["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert off["State"] == "Disabling"
    wait_state(env, uuid, "Disabled")
    on = env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert on["State"] == "Enabling"
    wait_state(env, uuid, "Enabled")
    bigger = env.lam.update_event_source_mapping(UUID=uuid, BatchSize=500)
    assert bigger["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert bigger["BatchSize"] == 500
    assert bigger["State"] == "Updating"
    got = wait_state(env, uuid, "Enabled")
    assert got["BatchSize"] == 500


def test_update_applies_and_clears_members(env):
    env.function("fn")
    env.function("g")
    stream = env.stream("s16b")
    # A destination must exist on the server (docs/esm.md, "On-failure destinations").
    _client("sqs", env.proc).create_queue(QueueName="dlq")
    dlq = f"arn:aws:sqs:{REGION}:{ACCOUNT}:dlq"
    m = env.lam.create_event_source_mapping(
        FunctionName="fn", EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": dlq}},
        FilterCriteria={"Filters": [{"Pattern": '{"data": {"a": ["b"]}}'}]})
    assert m["DestinationConfig"] == {"OnFailure": {"Destination": dlq}}
    assert m["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    uuid = m["UUID"]
    wait_state(env, uuid, "Enabled")
    u = env.lam.update_event_source_mapping(
        UUID=uuid, FunctionName="g", FilterCriteria={}, FunctionResponseTypes=[],
        DestinationConfig={"OnFailure": {"Destination": ""}}, MaximumRetryAttempts=3,
        BisectBatchOnFunctionError=True, ParallelizationFactor=4)
    assert u["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:g"
    assert "FilterCriteria" not in u
    assert u["FunctionResponseTypes"] == []
    assert u["DestinationConfig"] == {"OnFailure": {}}
    assert (u["MaximumRetryAttempts"], u["BisectBatchOnFunctionError"],
            u["ParallelizationFactor"]) == (3, True, 4)
    assert u["StartingPosition"] == "TRIM_HORIZON"
    with pytest.raises(ClientError) as bad:
        env.lam.update_event_source_mapping(UUID=uuid, FunctionName="ghost")
    assert error_of(bad) == ("InvalidParameterValueException", "Function does not exist", 400)
    with pytest.raises(ClientError) as scaling:
        env.lam.update_event_source_mapping(UUID=uuid, ScalingConfig={"MaximumConcurrency": 2})
    assert error_of(scaling)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as dest:
        env.lam.update_event_source_mapping(
            UUID=uuid, DestinationConfig={"OnFailure": {
                "Destination": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"}})
    assert error_of(dest)[0] == "InvalidParameterValueException"


def test_delete_answers_deleting_then_404(env):
    # Case 18.
    env.function("fn")
    stream = env.stream("s18")
    uuid = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                               StartingPosition="LATEST")["UUID"]
    wait_state(env, uuid, "Enabled")
    d = env.lam.delete_event_source_mapping(UUID=uuid)
    assert d["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert d["State"] == "Deleting"
    assert set(k for k in d if k != "ResponseMetadata") == ALWAYS_KEYS
    wait_gone(env, uuid)
    listed = env.lam.list_event_source_mappings()["EventSourceMappings"]
    assert uuid not in [m["UUID"] for m in listed]


def test_at_timestamp_is_echoed_by_create_get_and_list(env):
    # Case 19.
    env.function("fn")
    stream = env.stream("s19")
    t = datetime.fromtimestamp(int(time.time()) - 3600 + 0.5, tz=timezone.utc)
    m = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="AT_TIMESTAMP",
                                            StartingPositionTimestamp=t)
    assert m["StartingPosition"] == "AT_TIMESTAMP"
    assert m["StartingPositionTimestamp"] == t
    assert env.lam.get_event_source_mapping(UUID=m["UUID"])["StartingPositionTimestamp"] == t
    listed = env.lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
    assert [x["StartingPositionTimestamp"] for x in listed] == [t]
    # The raw body carries the number as sent.
    status, _, body = env.raw("GET", ESM_PATH + m["UUID"])
    assert status == 200 and body["StartingPositionTimestamp"] == t.timestamp()


@pytest.mark.parametrize("name,suffix", [
    ("fn:$LATEST", ":$LATEST"), ("fn:1", ":1"), ("fn:alias", ":alias"),
    (f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn", ""),
])
def test_function_arn_keeps_the_qualifier(env, name, suffix):
    # Case 20.
    env.function("fn")
    stream = env.stream("s20")
    m = env.lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream,
                                            StartingPosition="LATEST")
    assert m["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn{suffix}"


def test_list_pages_by_one_hundred(env):
    # Case 21: 150 mappings (one stream, 150 functions), MaxItems 1000.
    stream = env.stream("s21")
    for i in range(150):
        env.function(f"f{i:03}")
        env.lam.create_event_source_mapping(FunctionName=f"f{i:03}", EventSourceArn=stream,
                                            StartingPosition="LATEST", Enabled=False)
    first = env.lam.list_event_source_mappings(MaxItems=1000)
    assert len(first["EventSourceMappings"]) == 100
    assert "NextMarker" in first
    second = env.lam.list_event_source_mappings(MaxItems=1000, Marker=first["NextMarker"])
    assert len(second["EventSourceMappings"]) == 50
    assert "NextMarker" not in second
    names = [m["FunctionArn"].rsplit(":", 1)[1]
             for m in first["EventSourceMappings"] + second["EventSourceMappings"]]
    assert names == [f"f{i:03}" for i in range(150)]  # oldest first, none twice
    # Filters: by function (name or ARN) and by stream; a filter naming nothing is empty.
    by_fn = env.lam.list_event_source_mappings(FunctionName="f007")["EventSourceMappings"]
    assert [m["FunctionArn"] for m in by_fn] == [
        f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f007"]
    assert env.lam.list_event_source_mappings(
        FunctionName="nothing-here")["EventSourceMappings"] == []
    assert env.lam.list_event_source_mappings(
        EventSourceArn=f"arn:aws:kinesis:{REGION}:{ACCOUNT}:stream/none")[
        "EventSourceMappings"] == []
    # Paginators follow NextMarker.
    pages = env.lam.get_paginator("list_event_source_mappings").paginate(EventSourceArn=stream)
    assert sum(len(p["EventSourceMappings"]) for p in pages) == 150


def test_deleting_the_function_leaves_the_mapping_enabled(env):
    # Case 22.
    env.function("fn")
    stream = env.stream("s22")
    uuid = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                               StartingPosition="LATEST")["UUID"]
    wait_state(env, uuid, "Enabled")
    env.lam.delete_function(FunctionName="fn")
    got = env.lam.get_event_source_mapping(UUID=uuid)
    assert got["State"] == "Enabled"
    assert got["FunctionArn"] == f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:fn"


def test_mappings_of_another_region_are_invisible(env, server):
    env.function("fn")
    stream = env.stream("sr")
    uuid = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                               StartingPosition="LATEST")["UUID"]
    other = boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{server.port}", region_name="eu-west-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=20, retries={"max_attempts": 1}))
    with pytest.raises(ClientError) as exc:
        other.get_event_source_mapping(UUID=uuid)
    assert error_of(exc)[0] == "ResourceNotFoundException"
    assert other.list_event_source_mappings()["EventSourceMappings"] == []


def test_created_disabled_settles_in_disabled(env):
    env.function("fn")
    stream = env.stream("sd")
    m = env.lam.create_event_source_mapping(FunctionName="fn", EventSourceArn=stream,
                                            StartingPosition="TRIM_HORIZON", Enabled=False)
    assert m["State"] == "Creating"
    wait_state(env, m["UUID"], "Disabled")


def test_mappings_survive_a_restart(launch, tmp_path):
    data = tmp_path / "data"
    first = Env(launch(data_dir=data))
    first.function("fn")
    stream = first.stream("keep")
    created = first.lam.create_event_source_mapping(
        FunctionName="fn:$LATEST", EventSourceArn=stream, StartingPosition="TRIM_HORIZON",
        BatchSize=7, FilterCriteria={"Filters": [{"Pattern": '{"data": {"k": ["v"]}}'}]})
    wait_state(first, created["UUID"], "Enabled")
    first.proc.signal(signal.SIGTERM)
    assert first.proc.wait_exit() == 0

    second = Env(launch(data_dir=data))
    got = wait_state(second, created["UUID"], "Enabled")
    for key in ("UUID", "EventSourceMappingArn", "EventSourceArn", "FunctionArn",
                "StartingPosition", "BatchSize", "FilterCriteria"):
        assert got[key] == created[key], key


def test_raw_create_on_the_trailing_slash_path_and_list_by_stream(env):
    # Spec lambda-api tests 58 and 63: the AWS CLI 2.9 form of the path (trailing slash)
    # creates; LastModified is a JSON number on the wire; EventSourceArn tells two streams'
    # mappings apart.
    fn = env.function("rawfn")
    one, two = env.stream("raw-one"), env.stream("raw-two")
    status, _, body = env.raw("POST", ESM_PATH, {
        "FunctionName": "rawfn", "EventSourceArn": one, "StartingPosition": "LATEST"})
    assert status == 202, body
    assert set(body) >= ALWAYS_KEYS
    assert isinstance(body["LastModified"], (int, float)) and not isinstance(
        body["LastModified"], bool)
    assert (body["FunctionArn"], body["EventSourceArn"], body["State"]) == (fn, one, "Creating")
    env.lam.create_event_source_mapping(FunctionName="rawfn", EventSourceArn=two,
                                        StartingPosition="TRIM_HORIZON")
    for stream in (one, two):
        listed = env.lam.list_event_source_mappings(EventSourceArn=stream)["EventSourceMappings"]
        assert [m["EventSourceArn"] for m in listed] == [stream]
    status, _, page = env.raw("GET", f"{ESM_PATH}?EventSourceArn={two}")
    assert status == 200
    assert [m["EventSourceArn"] for m in page["EventSourceMappings"]] == [two]
    assert all(isinstance(m["LastModified"], (int, float)) for m in page["EventSourceMappings"])
