"""Event source mappings delivering Kinesis records to real functions (spec
lambda-esm-kinesis.md section 14, cases 23-32, 40-48, 58, 59): the binary on 127.0.0.1, streams
and mappings made with boto3, Python handlers run by Sluice's runtime. Each handler appends one
JSON line per invocation to a file the test reads."""

import base64
import json
import time

import boto3
import pytest
from botocore.config import Config

from test_lambda_functions import ROLE
from test_lambda_invoke import zip_of

# Fast retries and transitions; the behaviour is the same as with the defaults.
ESM_FLAGS = ("--esm-retry-base-ms", "100", "--esm-retry-max-ms", "400",
             "--esm-throttle-wait-ms", "100", "--esm-transition-delay-ms", "50",
             "--esm-idle-poll-ms", "200", "--transition-delay-ms", "0",
             "--esm-stream-gone-disable-ms", "2000")

# Writes {"start", "end", "request_id", "records": [...], "event"} per invocation, then
# fails, sleeps or reports failures as the records' data ask.
HANDLER = '''
import base64, json, os, time

def handler(event, context):
    start = time.time()
    recs = event["Records"]
    items = [json.loads(base64.b64decode(r["kinesis"]["data"])[:200].split(b"|")[0])
             for r in recs]
    nap = max([it.get("sleep", 0) for it in items] + [0])
    if nap:
        time.sleep(nap)
    line = {"start": start, "end": time.time(), "request_id": context.aws_request_id,
            "records": [{"seq": r["kinesis"]["sequenceNumber"], "pk": r["kinesis"]["partitionKey"],
                         "shard": r["eventID"].split(":")[0], "item": it}
                        for r, it in zip(recs, items)],
            "size": len(json.dumps(event, separators=(",", ":")).encode()),
            "event": None if os.environ.get("NO_EVENT") else event}
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(line) + "\\n")
    if any(it.get("fail") for it in items):
        raise RuntimeError("asked to fail")
    if os.environ.get("REPORT"):
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"]["sequenceNumber"]}
                                      for r, it in zip(recs, items) if it.get("should_fail")]}
    return None
'''


def clients(proc):
    kw = dict(endpoint_url=f"http://127.0.0.1:{proc.port}", region_name="us-east-1",
              aws_access_key_id="test", aws_secret_access_key="test",
              config=Config(connect_timeout=5, read_timeout=30,
                            retries={"max_attempts": 1, "mode": "standard"}))
    return boto3.client("kinesis", **kw), boto3.client("lambda", **kw)


def wait_until(pred, timeout=20.0, what="condition"):
    end = time.time() + timeout
    while time.time() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


class Env:
    def __init__(self, proc, tmp_path):
        self.proc = proc
        self.tmp = tmp_path
        self.kinesis, self.lam = clients(proc)

    def stream(self, name="s", shards=1):
        self.kinesis.create_stream(StreamName=name, ShardCount=shards)
        wait_until(lambda: self.kinesis.describe_stream_summary(StreamName=name)
                   ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE", what="stream")
        return f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"

    def function(self, name="f", **env):
        out = self.tmp / f"{name}.jsonl"
        variables = {"OUT": str(out)}
        variables.update({k: str(v) for k, v in env.items()})
        self.lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                 Role=ROLE, Code={"ZipFile": zip_of({"app.py": HANDLER})},
                                 Timeout=30, Environment={"Variables": variables})
        return out

    def mapping(self, arn, function="f", **params):
        params.setdefault("StartingPosition", "TRIM_HORIZON")
        m = self.lam.create_event_source_mapping(FunctionName=function, EventSourceArn=arn,
                                                 **params)
        assert m["State"] == "Creating"
        self.wait_state(m["UUID"], "Enabled" if params.get("Enabled", True) else "Disabled")
        return m["UUID"]

    def wait_state(self, uuid, state):
        wait_until(lambda: self.lam.get_event_source_mapping(UUID=uuid)["State"] == state,
                   what=f"mapping {state}")

    def put(self, stream, items, key=lambda i, it: f"k{i}", hash_key=None):
        records = []
        for i, it in enumerate(items):
            r = {"Data": json.dumps(it).encode(), "PartitionKey": key(i, it)}
            if hash_key is not None:
                r["ExplicitHashKey"] = hash_key(i, it)
            records.append(r)
        out = self.kinesis.put_records(StreamName=stream, Records=records)
        assert out["FailedRecordCount"] == 0
        return [r["SequenceNumber"] for r in out["Records"]]


def complete_lines(path):
    """The lines the handlers have finished writing. Each line goes out with its newline in
    one write, but a reader can still catch a long one half-written: whatever follows the last
    newline is a line in progress, not a line."""
    if not path.exists():
        return []
    text = path.read_text()
    return [line for line in text[:text.rfind("\n") + 1].splitlines() if line.strip()]


def calls(path):
    return [json.loads(line) for line in complete_lines(path)]


def delivered(path):
    return [r["item"]["i"] for c in calls(path) for r in c["records"]]


@pytest.fixture
def env(launch, tmp_path):
    return Env(launch(*ESM_FLAGS), tmp_path)


def test_case23_event_shape_of_one_put_records_batch(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, StartingPosition="LATEST")
    seqs = env.put("s", [{"i": i} for i in range(10)])
    wait_until(lambda: calls(out), what="an invocation")
    time.sleep(0.3)
    got = calls(out)
    assert len(got) == 1
    records = got[0]["event"]["Records"]
    assert [r["kinesis"]["sequenceNumber"] for r in records] == seqs
    raw = (env.tmp / "f.jsonl").read_text().splitlines()[0]
    # Key order as AWS sends it (json.loads keeps it in the handler's dict and its dump).
    event = json.loads(raw)["event"]
    first = event["Records"][0]
    assert list(first) == ["kinesis", "eventSource", "eventVersion", "eventID", "eventName",
                           "invokeIdentityArn", "awsRegion", "eventSourceARN"]
    assert list(first["kinesis"]) == ["kinesisSchemaVersion", "partitionKey", "sequenceNumber",
                                      "data", "approximateArrivalTimestamp"]
    for i, r in enumerate(records):
        k = r["kinesis"]
        assert k["kinesisSchemaVersion"] == "1.0"
        assert k["partitionKey"] == f"k{i}"
        assert base64.b64decode(k["data"]) == json.dumps({"i": i}).encode()
        ts = k["approximateArrivalTimestamp"]
        assert isinstance(ts, float) and len(str(int(ts))) == 10
        assert abs(ts - time.time()) < 60
        assert r["eventSource"] == "aws:kinesis"
        assert r["eventVersion"] == "1.0"
        assert r["eventID"] == f"shardId-000000000000:{seqs[i]}"
        assert r["eventName"] == "aws:kinesis:record"
        assert r["invokeIdentityArn"] == ROLE
        assert r["awsRegion"] == "us-east-1"
        assert r["eventSourceARN"] == arn


def test_case24_trim_horizon_batches_of_batch_size(env):
    arn = env.stream()
    out = env.function()
    env.put("s", [{"i": i} for i in range(20)])
    env.mapping(arn, BatchSize=10)
    wait_until(lambda: len(delivered(out)) == 20, what="20 records")
    env.put("s", [{"i": i} for i in range(20, 30)])
    wait_until(lambda: len(delivered(out)) == 30, what="30 records")
    time.sleep(0.3)
    assert [len(c["records"]) for c in calls(out)] == [10, 10, 10]
    assert delivered(out) == list(range(30))


def test_case25_one_batch_in_flight_per_shard(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, BatchSize=10, StartingPosition="LATEST")
    env.put("s", [{"i": i, "sleep": 2} for i in range(10)])
    time.sleep(0.5)
    env.put("s", [{"i": i} for i in range(10, 20)])
    wait_until(lambda: len(calls(out)) == 2, what="two invocations")
    first, second = calls(out)
    assert second["start"] >= first["start"] + 2.0
    assert delivered(out) == list(range(20))


def test_case26_batching_window_and_batch_size(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, BatchSize=100, MaximumBatchingWindowInSeconds=2, StartingPosition="LATEST")
    t0 = time.time()
    for i in range(5):
        env.put("s", [{"i": i}])
        time.sleep(0.2)
    wait_until(lambda: calls(out), what="the window's invocation")
    got = calls(out)
    assert len(got) == 1 and delivered(out) == list(range(5))
    assert got[0]["start"] >= t0 + 1.9  # not before the window ran out

    out2 = env.function("g")
    env.kinesis.create_stream(StreamName="s2", ShardCount=1)
    wait_until(lambda: env.kinesis.describe_stream_summary(StreamName="s2")
               ["StreamDescriptionSummary"]["StreamStatus"] == "ACTIVE")
    env.mapping("arn:aws:kinesis:us-east-1:000000000000:stream/s2", function="g", BatchSize=2,
                MaximumBatchingWindowInSeconds=4, StartingPosition="LATEST")
    t1 = time.time()
    env.put("s2", [{"i": i} for i in range(5)])
    wait_until(lambda: len(delivered(out2)) == 5, what="five records", timeout=15)
    got = calls(out2)
    assert [len(c["records"]) for c in got] == [2, 2, 1]
    assert got[1]["start"] < t1 + 3.5  # full batches do not wait for the window
    assert got[2]["start"] >= got[1]["end"] + 3.9  # the rest waits for it


def test_case28_two_mappings_each_get_every_record(env):
    arn = env.stream()
    out_f = env.function("f")
    out_g = env.function("g")
    env.mapping(arn, function="f")
    env.mapping(arn, function="g")
    env.put("s", [{"i": 0}])
    wait_until(lambda: delivered(out_f) == [0] and delivered(out_g) == [0], what="both")


def test_case29_a_failing_shard_does_not_hold_up_the_others(env):
    arn = env.stream(shards=4)
    out = env.function()
    env.mapping(arn, MaximumRetryAttempts=-1)
    quarter = 2 ** 128 // 4
    env.put("s", [{"i": 0, "fail": True}], hash_key=lambda i, it: "0")
    for n in range(1, 4):
        env.put("s", [{"i": n * 10 + j} for j in range(3)],
                hash_key=lambda i, it, n=n: str(n * quarter + 1))
    wait_until(lambda: sorted(x for x in delivered(out) if x) ==
               [10, 11, 12, 20, 21, 22, 30, 31, 32], what="the other shards")

    def failures():
        return [c for c in calls(out) if c["records"][0]["shard"] == "shardId-000000000000"]

    # Shard 0 may not have had its first turn yet when the others are done (a loaded machine):
    # what matters is that it is tried beside them, with its one record each time.
    wait_until(lambda: len(failures()) >= 1, what="a failed call on shard 0")
    assert all(r["item"]["i"] == 0 for c in failures() for r in c["records"])


@pytest.mark.parametrize("position", ["TRIM_HORIZON", "LATEST"])
def test_case30_disable_then_enable_resumes_at_the_checkpoint(env, position):
    arn = env.stream()
    out = env.function()
    uuid = env.mapping(arn, StartingPosition=position)
    env.put("s", [{"i": i} for i in range(3)])
    wait_until(lambda: delivered(out) == [0, 1, 2], what="first records")
    r = env.lam.update_event_source_mapping(UUID=uuid, Enabled=False)
    assert r["State"] == "Disabling"
    env.wait_state(uuid, "Disabled")
    env.put("s", [{"i": i} for i in range(3, 6)])
    time.sleep(0.5)
    assert delivered(out) == [0, 1, 2]  # nothing while disabled
    r = env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    assert r["State"] == "Enabling"
    env.wait_state(uuid, "Enabled")
    wait_until(lambda: len(delivered(out)) >= 6, what="the records put while disabled")
    time.sleep(0.3)
    assert delivered(out) == list(range(6))


def test_case31_function_change_continues_from_the_checkpoint(env):
    arn = env.stream()
    out_f = env.function("f")
    out_g = env.function("g")
    uuid = env.mapping(arn)
    env.put("s", [{"i": i} for i in range(3)])
    wait_until(lambda: delivered(out_f) == [0, 1, 2], what="f's records")
    r = env.lam.update_event_source_mapping(UUID=uuid, FunctionName="g")
    assert r["State"] == "Updating"
    assert r["FunctionArn"].endswith(":function:g")
    env.wait_state(uuid, "Enabled")
    env.put("s", [{"i": i} for i in range(3, 5)])
    wait_until(lambda: delivered(out_g) == [3, 4], what="g's records")
    assert delivered(out_f) == [0, 1, 2]


def test_case32_parent_records_before_child_records(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, BatchSize=5)
    env.put("s", [{"i": i} for i in range(10)], key=lambda i, it: f"key{i % 3}")
    env.kinesis.split_shard(StreamName="s", ShardToSplit="shardId-000000000000",
                            NewStartingHashKey=str(2 ** 127))
    wait_until(lambda: len(env.kinesis.list_shards(StreamName="s")["Shards"]) == 3,
               what="children")
    env.put("s", [{"i": i} for i in range(10, 30)], key=lambda i, it: f"key{i % 3}")
    wait_until(lambda: len(delivered(out)) == 30, what="every record")
    order = [(r["shard"], r["item"]["i"], r["pk"]) for c in calls(out) for r in c["records"]]
    assert [i for shard, i, pk in order[:10]] == list(range(10))
    assert all(shard == "shardId-000000000000" for shard, i, pk in order[:10])
    assert all(shard != "shardId-000000000000" for shard, i, pk in order[10:])
    for key in ("key0", "key1", "key2"):
        seen = [i for shard, i, pk in order if pk == key]
        assert seen == sorted(seen)


def test_case40_bisect_isolates_the_poison_record(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, BatchSize=8, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0)
    env.put("s", [{"i": i, "fail": i == 6} for i in range(1, 9)])
    wait_until(lambda: any(c["records"][0]["item"]["i"] == 7 for c in calls(out)),
               what="records after the poison one")
    time.sleep(0.5)
    ok = set()
    done_before = set()
    for c in calls(out):
        ids = [r["item"]["i"] for r in c["records"]]
        # Never a record before every earlier one is done.
        assert all(x in done_before or x in ids or x == 6 for x in range(1, min(ids)))
        if 6 not in ids:
            ok.update(ids)
        done_before.update(ids)
    assert ok == {1, 2, 3, 4, 5, 7, 8}
    assert [r["item"]["i"] for r in calls(out)[-1]["records"]] == [7, 8]
    alone = [c for c in calls(out) if [r["item"]["i"] for r in c["records"]] == [6]]
    assert len(alone) == 1  # MaximumRetryAttempts 0: one invocation of the isolated record


def test_case42_whole_batch_retried_then_discarded(env):
    arn = env.stream()
    out = env.function()
    uuid = env.mapping(arn, BatchSize=4, MaximumRetryAttempts=2)
    env.put("s", [{"i": i, "fail": i == 3} for i in range(1, 5)])
    wait_until(lambda: len(calls(out)) == 3, what="three attempts")
    env.put("s", [{"i": 5}])
    wait_until(lambda: delivered(out)[-1:] == [5], what="the shard to move on")
    got = calls(out)
    assert [[r["item"]["i"] for r in c["records"]] for c in got] == \
        [[1, 2, 3, 4]] * 3 + [[5]]
    # The handler writes its line before it returns: the outcome may still be on its way.
    wait_until(lambda: env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] ==
               "OK", what="the last outcome recorded")
    metrics = env.proc.request("GET", "/metrics")[2].decode()
    assert f'sluice_esm_discarded_records_total{{mapping="{uuid}",function="f"}} 4' in metrics


def test_case43_partial_failure_retries_the_rest_with_a_fresh_count(env):
    arn = env.stream()
    out = env.function(REPORT=1)
    env.mapping(arn, BatchSize=3, MaximumRetryAttempts=3,
                FunctionResponseTypes=["ReportBatchItemFailures"])
    env.put("s", [{"i": i, "should_fail": i == 6} for i in range(1, 7)])
    wait_until(lambda: delivered(out).count(6) == 5, what="five deliveries of record 6")
    env.put("s", [{"i": 7}])
    wait_until(lambda: delivered(out)[-1:] == [7], what="the shard to move on")
    counts = {i: delivered(out).count(i) for i in range(1, 8)}
    assert counts == {1: 1, 2: 1, 3: 1, 4: 1, 5: 1, 6: 5, 7: 1}


def test_case58_last_processing_result(env):
    arn = env.stream()
    env.function()
    uuid = env.mapping(arn, MaximumRetryAttempts=0)
    assert env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] == \
        "No records processed"
    env.put("s", [{"i": 0}])
    wait_until(lambda: env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] ==
               "OK", what="OK")
    env.put("s", [{"i": 1, "fail": True}])
    wait_until(lambda: env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] ==
               "PROBLEM: Function call failed", what="PROBLEM")


def test_case59_iterator_age_is_exported(env):
    arn = env.stream()
    out = env.function()
    uuid = env.mapping(arn)
    env.put("s", [{"i": 0, "sleep": 0.3}])
    wait_until(lambda: calls(out), what="an invocation")

    def age():
        text = env.proc.request("GET", "/metrics")[2].decode()
        prefix = f'sluice_esm_iterator_age_ms{{mapping="{uuid}",shard="shardId-000000000000"}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return int(line[len(prefix):])
        return None
    value = wait_until(age, what="an IteratorAge sample")
    assert 300 <= value < 10_000  # put -> finished, the handler slept 0.3 s
    text = env.proc.request("GET", "/metrics")[2].decode()
    shard = f'{{mapping="{uuid}",shard="shardId-000000000000"}}'
    assert f"sluice_esm_checkpoint_lag_records{shard} 0" in text
    assert f"sluice_esm_millis_behind_latest{shard} " in text


def test_checkpoints_and_mappings_survive_kill_9(launch, tmp_path):
    proc = launch(*ESM_FLAGS)
    env = Env(proc, tmp_path)
    arn = env.stream()
    out = env.function()
    uuid = env.mapping(arn, BatchSize=5)
    env.put("s", [{"i": i} for i in range(10)])
    wait_until(lambda: len(delivered(out)) == 10, what="first records")
    time.sleep(0.3)  # the last checkpoint is written after the invocation returned
    proc.kill()
    proc2 = launch(*ESM_FLAGS)  # same data dir
    env2 = Env(proc2, tmp_path)
    m = env2.lam.get_event_source_mapping(UUID=uuid)
    assert m["State"] == "Enabled" and m["BatchSize"] == 5
    env2.put("s", [{"i": i} for i in range(10, 13)])
    wait_until(lambda: len(delivered(out)) == 13, what="records after the restart")
    time.sleep(0.3)
    assert delivered(out) == list(range(13))


def test_case27_events_stay_under_6_mb(env):
    arn = env.stream()
    out = env.function(NO_EVENT=1)
    env.mapping(arn, BatchSize=10000, StartingPosition="LATEST")
    for i in range(20):
        # ~900 KB each; the handler reads the JSON before the '|'.
        env.kinesis.put_record(StreamName="s", PartitionKey="k",
                               Data=json.dumps({"i": i}).encode() + b"|" + b"x" * 900_000)
    wait_until(lambda: len(delivered(out)) == 20, what="every large record", timeout=60)
    got = calls(out)
    assert delivered(out) == list(range(20))
    assert all(c["size"] <= 6_291_456 for c in got)
    assert len(got) >= 4  # 20 x ~1.2 MB of base64 cannot go in fewer events


def test_case41_a_timeout_is_a_function_error_and_bisect_proceeds(env):
    arn = env.stream()
    out = env.function()
    env.lam.update_function_configuration(FunctionName="f", Timeout=1)
    env.mapping(arn, BatchSize=4, BisectBatchOnFunctionError=True, MaximumRetryAttempts=0,
                StartingPosition="LATEST")
    env.put("s", [{"i": i, "sleep": 3 if i == 2 else 0} for i in range(1, 5)])
    env.put("s", [{"i": 5}])
    # Timed-out invocations never write their line; the others do.
    wait_until(lambda: 5 in delivered(out), what="the record after the slow one", timeout=40)
    ok = [r["item"]["i"] for c in calls(out) for r in c["records"]]
    assert sorted(set(ok)) == [1, 3, 4, 5]
    assert ok.index(1) < ok.index(3) < ok.index(5)


def test_case54_parallelization_factor_overlaps_and_keeps_key_order(env):
    arn = env.stream()
    out = env.function()
    env.mapping(arn, ParallelizationFactor=4, BatchSize=5, StartingPosition="LATEST")
    env.put("s", [{"i": i, "sleep": 1} for i in range(40)], key=lambda i, it: f"key{i % 8}")
    wait_until(lambda: len(delivered(out)) == 40, what="every record", timeout=60)
    got = calls(out)
    spans = [(c["start"], c["end"]) for c in got]
    most = max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans)
    assert 2 <= most <= 4
    per_key = {}
    for c in got:
        for r in c["records"]:
            per_key.setdefault(r["pk"], []).append(int(r["seq"]))
    assert len(per_key) == 8
    assert all(seqs == sorted(seqs) and len(seqs) == 5 for seqs in per_key.values())


RETURN_HANDLER = '''
import os

def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(event["Records"][0]["kinesis"]["sequenceNumber"] + "\\n")
    if os.environ.get("RAISE"):
        raise RuntimeError("asked to fail")
    return eval(os.environ["RETURN"])
'''

SUCCESSES = ['""', "[]", "None", "{}", '{"batchItemFailures": []}', '{"batchItemFailures": None}']
FAILURES = ['{"batchItemFailures": [{"itemIdentifier": 123}]}',
            '{"batchItemFailures": [{"itemIdentifier": ""}]}',
            '{"batchItemFailures": [{"itemIdentifier": None}]}',
            '{"batchItemFailures": [{"foo": 123}]}', '{"batchItemFailures": [{"foo": None}]}',
            "RAISE"]


def test_cases44_45_what_a_partial_batch_response_means(env):
    """One stream, function and mapping per return value (BatchSize 1, MaximumRetryAttempts 2,
    ReportBatchItemFailures): successes are invoked once, invalid responses and exceptions
    three times; the next record goes through after each."""
    outs = {}
    for n, value in enumerate(SUCCESSES + FAILURES):
        name = f"r{n}"
        env.stream(name)
        out = env.tmp / f"{name}.txt"
        variables = {"OUT": str(out), "RETURN": "None" if value == "RAISE" else value}
        if value == "RAISE":
            variables["RAISE"] = "1"
        env.lam.create_function(FunctionName=name, Runtime="python3.11", Handler="app.handler",
                                Role=ROLE, Code={"ZipFile": zip_of({"app.py": RETURN_HANDLER})},
                                Environment={"Variables": variables})
        env.mapping(f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}", function=name,
                    BatchSize=1, MaximumRetryAttempts=2,
                    FunctionResponseTypes=["ReportBatchItemFailures"])
        outs[value] = (name, out)
    firsts = {}
    for value, (name, out) in outs.items():
        firsts[value] = env.kinesis.put_record(StreamName=name, PartitionKey="k",
                                               Data=b"1")["SequenceNumber"]
    for value, (name, out) in outs.items():
        expected = 1 if value in SUCCESSES else 3
        wait_until(lambda: out.exists() and out.read_text().split().count(firsts[value]) ==
                   expected, what=f"{expected} invocations for {value}", timeout=30)
        second = env.kinesis.put_record(StreamName=name, PartitionKey="k",
                                        Data=b"2")["SequenceNumber"]
        wait_until(lambda: second in out.read_text().split(), what=f"the next record ({value})")
        assert out.read_text().split().count(firsts[value]) == expected, value


def test_stream_deletion_leaves_the_mapping_enabled_with_a_problem(env):
    arn = env.stream()
    env.function()
    uuid = env.mapping(arn)
    env.put("s", [{"i": 0}])
    wait_until(lambda: delivered(env.tmp / "f.jsonl") == [0], what="a first record")
    env.kinesis.delete_stream(StreamName="s")
    wait_until(lambda: env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] ==
               "PROBLEM: Stream not found", what="the problem", timeout=20)
    assert env.lam.get_event_source_mapping(UUID=uuid)["State"] == "Enabled"
    # Gone for longer than --esm-stream-gone-disable-ms: disabled by Sluice, not by the user.
    env.wait_state(uuid, "Disabled")
    m = env.lam.get_event_source_mapping(UUID=uuid)
    assert m["StateTransitionReason"] == "Lambda initiated"
    assert m["LastProcessingResult"] == "PROBLEM: Stream not found"
    # A new stream of the same name: enabled again, the mapping reads it from the start.
    out = env.tmp / "f.jsonl"
    before = len(delivered(out))
    wait_until(lambda: not env.kinesis.list_streams()["StreamNames"], what="the old stream gone")
    env.stream()
    env.put("s", [{"i": 100}, {"i": 101}])
    env.lam.update_event_source_mapping(UUID=uuid, Enabled=True)
    env.wait_state(uuid, "Enabled")
    wait_until(lambda: delivered(out)[before:] == [100, 101], what="the new stream's records")


def test_in_process_cpp_handler_through_a_mapping(env):
    """Runtime sluice.cpp (the handler library of tests/runtime/handlers, loaded into the
    server): batches reach it, and its failures are retried and discarded by policy."""
    from test_lambda_inprocess import library, zip_with
    lib = zip_with(library("libtest_handlers_v1.so"))
    arn = env.stream()
    for name, symbol in (("echo", "echo"), ("fail", "fail")):
        env.lam.create_function(FunctionName=name, Runtime="sluice.cpp",
                                Handler=f"lib/handler.so:{symbol}", Role=ROLE,
                                Code={"ZipFile": lib})
    echo = env.mapping(arn, function="echo", BatchSize=100)
    fail = env.mapping(arn, function="fail", BatchSize=100, MaximumRetryAttempts=1)
    for start in range(0, 250, 50):
        env.put("s", [{"i": i} for i in range(start, start + 50)])

    def metric(uuid, label, name):
        text = env.proc.request("GET", "/metrics")[2].decode()
        prefix = f'sluice_esm_{name}{{mapping="{uuid}",{label}}} '
        for line in text.splitlines():
            if line.startswith(prefix):
                return int(line[len(prefix):])
        return None
    shard = 'shard="shardId-000000000000"'
    wait_until(lambda: metric(echo, 'function="echo"', "records_read_total") == 250 and
               metric(echo, shard, "checkpoint_lag_records") == 0 and
               metric(fail, 'function="fail"', "discarded_records_total") == 250,
               what="both mappings through every record", timeout=30)
    assert metric(echo, 'function="echo"', "function_errors_total") == 0
    assert metric(echo, 'function="echo"', "batches_total") >= 3
    batches_failed = metric(fail, 'function="fail"', "invocations_total")
    assert metric(fail, 'function="fail"', "function_errors_total") == batches_failed
    assert batches_failed % 2 == 0 and batches_failed >= 6  # two attempts per batch
    assert env.lam.get_event_source_mapping(UUID=fail)["LastProcessingResult"] == \
        "PROBLEM: Function call failed"


WINDOW_HANDLER = '''
import json, os, time

def handler(event, context):
    line = {"window": event["window"], "state": event["state"], "final": event["isFinalInvokeForWindow"],
            "early": event["isWindowTerminatedEarly"], "shard": event["shardId"],
            "arrivals": [r["kinesis"]["approximateArrivalTimestamp"] for r in event["Records"]]}
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps(line) + "\\n")
    if os.environ.get("NO_STATE"):
        return {"batchItemFailures": []}
    return {"state": {"count": event["state"].get("count", 0) + len(event["Records"])}}
'''


def iso_to_epoch(text):
    import datetime
    return datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(
        tzinfo=datetime.timezone.utc).timestamp()


def test_case55_tumbling_windows_carry_state_and_end_with_a_final_invocation(env):
    arn = env.stream()
    out = env.tmp / "w.jsonl"
    env.lam.create_function(FunctionName="w", Runtime="python3.11", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": zip_of({"app.py": WINDOW_HANDLER})},
                            Environment={"Variables": {"OUT": str(out)}})
    env.mapping(arn, function="w", TumblingWindowInSeconds=2, StartingPosition="LATEST")
    put = 0
    end = time.time() + 5
    while time.time() < end:
        env.put("s", [{"i": put}])
        put += 1
        time.sleep(0.25)
    lines = lambda: [json.loads(x) for x in complete_lines(out)]
    wait_until(lambda: sum(len(x["arrivals"]) for x in lines()) == put and
               sum(1 for x in lines() if x["final"]) >= 3, what="every record and final calls",
               timeout=20)
    windows = {}
    for x in lines():
        start, stop = iso_to_epoch(x["window"]["start"]), iso_to_epoch(x["window"]["end"])
        assert stop - start == 2
        assert all(start <= t < stop for t in x["arrivals"])
        windows.setdefault(x["window"]["start"], []).append(x)
    for start, calls in windows.items():
        finals = [c for c in calls if c["final"]]
        if not finals:
            continue  # the last window may still be open
        assert len(finals) == 1 and calls[-1]["final"]
        assert calls[0]["state"] == {}
        count = 0
        for c in calls:
            assert c["state"] == ({} if count == 0 and c is calls[0] else {"count": count})
            count += len(c["arrivals"])
        assert finals[0]["arrivals"] == [] and finals[0]["state"] == {"count": count}


SUM_HANDLER = '''
import base64, json, os

def handler(event, context):
    total = event["state"].get("sum", 0)
    for r in event["Records"]:
        total += json.loads(base64.b64decode(r["kinesis"]["data"]))["v"]
    if event["isFinalInvokeForWindow"]:
        with open(os.environ["OUT"], "a") as f:
            f.write(json.dumps({"shard": event["shardId"], "start": event["window"]["start"],
                                "sum": total}) + "\\n")
    return {"state": {"sum": total}}
'''


def test_tumbling_window_sums_across_windows_and_shards_match_a_reference(env):
    arn = env.stream(shards=3)
    out = env.tmp / "sums.jsonl"
    env.lam.create_function(FunctionName="sum", Runtime="python3.11", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": zip_of({"app.py": SUM_HANDLER})},
                            Environment={"Variables": {"OUT": str(out)}})
    env.mapping(arn, function="sum", TumblingWindowInSeconds=1, BatchSize=7,
                StartingPosition="TRIM_HORIZON")
    quarter = 2 ** 128 // 3
    n = 0
    end = time.time() + 3.5
    while time.time() < end:
        env.put("s", [{"i": n + j, "v": (n + j) * 7 % 13} for j in range(5)],
                hash_key=lambda i, it: str((it["i"] % 3) * quarter + 1))
        n += 5
        time.sleep(0.1)
    # The reference: every record as GetRecords sees it, summed per shard and 1 s window.
    reference = {}
    for shard in env.kinesis.list_shards(StreamName="s")["Shards"]:
        it = env.kinesis.get_shard_iterator(StreamName="s", ShardId=shard["ShardId"],
                                            ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        got = env.kinesis.get_records(ShardIterator=it, Limit=10000)["Records"]
        for r in got:
            window = int(r["ApproximateArrivalTimestamp"].timestamp())
            key = (shard["ShardId"], window)
            reference[key] = reference.get(key, 0) + json.loads(r["Data"])["v"]
    assert sum(1 for _ in reference) >= 6  # several windows on each of three shards
    lines = lambda: [json.loads(x) for x in complete_lines(out)]
    # Every window has ended by now (puts stopped); each gets its final invocation.
    wait_until(lambda: len(lines()) >= len(reference), what="a final call per window",
               timeout=30)
    got = {(x["shard"], int(iso_to_epoch(x["start"]))): x["sum"] for x in lines()}
    assert len(lines()) == len(got)  # one final invocation per shard and window
    assert got == reference


def test_case56_a_window_response_without_state_is_retried(env):
    arn = env.stream()
    out = env.tmp / "w.jsonl"
    env.lam.create_function(FunctionName="w", Runtime="python3.11", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": zip_of({"app.py": WINDOW_HANDLER})},
                            Environment={"Variables": {"OUT": str(out), "NO_STATE": "1"}})
    uuid = env.mapping(arn, function="w", TumblingWindowInSeconds=60, MaximumRetryAttempts=2,
                       StartingPosition="LATEST")
    env.put("s", [{"i": 0}])
    wait_until(lambda: len(complete_lines(out)) == 3,
               what="three attempts")
    wait_until(lambda: env.lam.get_event_source_mapping(UUID=uuid)["LastProcessingResult"] ==
               "PROBLEM: Function call failed", what="the failure")


def test_cases49_to_53_filter_criteria(env):
    arn = env.stream()
    out1 = env.function("f1")
    out2 = env.function("f2")
    pattern = lambda kind: {"Filters": [{"Pattern": json.dumps({"data": {"kind": [kind]}})}]}
    env.mapping(arn, function="f1", BatchSize=10, FilterCriteria=pattern("one"))
    uuid2 = env.mapping(arn, function="f2", BatchSize=10, FilterCriteria=pattern("two"))
    # Case 50: data that is not JSON is never delivered and does not hold up later records.
    env.kinesis.put_record(StreamName="s", PartitionKey="k", Data=b"\xff not json")
    env.put("s", [{"i": 1, "kind": "one"}, {"i": 2, "kind": "two"}, {"i": 3, "kind": "none"}])
    wait_until(lambda: delivered(out1) == [1] and delivered(out2) == [2], what="cases 49, 51")
    got = calls(out2)[0]["event"]["Records"][0]["kinesis"]["data"]
    assert json.loads(base64.b64decode(got)) == {"i": 2, "kind": "two"}  # the original bytes
    # Case 53: FilterCriteria {} removes the filters; every later record is delivered.
    r = env.lam.update_event_source_mapping(UUID=uuid2, FilterCriteria={})
    assert "FilterCriteria" not in r
    env.wait_state(uuid2, "Enabled")
    env.put("s", [{"i": 4, "kind": "one"}, {"i": 5}])
    wait_until(lambda: delivered(out2) == [2, 4, 5], what="every record after the update")
    assert "FilterCriteria" not in env.lam.get_event_source_mapping(UUID=uuid2)
    time.sleep(0.3)
    assert delivered(out1) == [1, 4]
