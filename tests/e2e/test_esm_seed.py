"""The seed's scenario end to end (issue 5, "Tests" bullets 2 and 4), against the real binary.

1. The corrected seed handler (examples/seed-temperature/handler.py), deployed from a zip with
   the AWS CLI, behind a mapping with BatchSize 100 and a 2 s batching window: records put one
   by one and in bursts arrive in batches of the right sizes, in order per shard, with the
   window's timing, and converted to Fahrenheit.
2. At-least-once under faults with examples/seed-temperature/handler_idempotent.py: the server
   is killed with SIGKILL while batches are in flight and restarted on the same data dir; a
   function process dies mid-batch, once by itself and once by our SIGKILL. Each time the
   SQLite table ends with exactly one row per record and none missing.

The handlers are deployed unchanged; a small probe module in the zip wraps them to record what
each invocation saw (one JSON file per invocation) and to inject the faults. Every wait has a
deadline.
"""

import collections
import hashlib
import io
import json
import os
import pathlib
import re
import signal
import sqlite3
import time
import urllib.request
import zipfile

import boto3
import pytest
from botocore.config import Config

from test_lambda_functions import aws_cli, run_cli

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
EXAMPLE_DIR = REPO_ROOT / "examples" / "seed-temperature"
ROLE = "arn:aws:iam::000000000000:role/kinesis-processor"
ACCOUNT = "000000000000"
REGION = "us-east-1"
RUNTIME = "python3.11"  # Debian 12's interpreter; any python3.X would run on it
WINDOW_S = 3  # long enough that "did not wait for the window" holds on a loaded machine
FAST_FLAGS = ("--transition-delay-ms", "0", "--esm-transition-delay-ms", "0",
              "--esm-retry-base-ms", "100", "--esm-retry-max-ms", "400",
              "--esm-idle-poll-ms", "200")

# ---- probes: deployed next to the example handlers, which they import unchanged -------------

# Wraps handler.lambda_handler: records when the batch started, its eventIDs and the readings
# the handler converted (through handler.convert_reading, the handler's own conversion).
SEED_PROBE = r'''
import json
import os
import time

import handler


def lambda_handler(event, context):
    started = time.time()
    converted = []
    real = handler.convert_reading

    def spy(reading):
        out = real(reading)
        converted.append(out)
        return out

    handler.convert_reading = spy
    try:
        result = handler.lambda_handler(event, context)
    finally:
        handler.convert_reading = real
    trace = {"started": started, "finished": time.time(),
             "request_id": context.aws_request_id,
             "event_ids": [r["eventID"] for r in event["Records"]],
             "converted": converted, "result": result}
    out_dir = os.environ["TRACE_DIR"]
    tmp = os.path.join(out_dir, ".tmp-" + context.aws_request_id)
    with open(tmp, "w") as f:
        json.dump(trace, f)
    os.rename(tmp, os.path.join(out_dir, "%.6f-%s.json" % (started, context.aws_request_id)))
    return result
'''

# Wraps handler_idempotent.lambda_handler. After the real handler has committed its batch
# (so its effects exist whatever happens next), it records the delivery, then may fail the
# invocation:
#  - EXIT_ON_READING: the first batch holding that reading ends the process with os._exit;
#  - STALL_ON_READING: the first batch holding that reading writes stalled.json (with its pid)
#    and sleeps until the test kills the process;
#  - while FAULT_DIR/hold exists, a batch after which its shard has HOLD_AFTER_ROWS rows or
#    more writes held-<request id>.json and waits for the file to go (the test kills the
#    server meanwhile).
FAULT_PROBE = r'''
import base64
import json
import os
import time

import handler_idempotent

FAULT_DIR = os.environ["FAULT_DIR"]


def _create_once(name, content):
    """True if this call created FAULT_DIR/name (exactly one caller wins). The file appears
    whole: it is written under a name of this process's own and linked into place, so the
    test never reads it half written."""
    path = os.path.join(FAULT_DIR, name)
    scratch = "%s.%d.tmp" % (path, os.getpid())
    with open(scratch, "w") as f:
        json.dump(content, f)
    try:
        os.link(scratch, path)
        return True
    except FileExistsError:
        return False
    finally:
        os.unlink(scratch)


def _shard_rows(event_id):
    shard_id = event_id.split(":", 1)[0]
    query = "SELECT count(*) FROM readings WHERE shard_id = ?"
    return handler_idempotent._db().execute(query, (shard_id,)).fetchone()[0]


def lambda_handler(event, context):
    readings = [json.loads(base64.b64decode(r["kinesis"]["data"]))["reading"]
                for r in event["Records"]]
    ids = [r["eventID"] for r in event["Records"]]
    result = handler_idempotent.lambda_handler(event, context)
    delivery = {"request_id": context.aws_request_id, "pid": os.getpid(), "event_ids": ids}
    _create_once(os.path.join("trace", context.aws_request_id + ".json"), delivery)

    exit_on = os.environ.get("EXIT_ON_READING")
    if exit_on and int(exit_on) in readings and _create_once("exited.json", delivery):
        os._exit(3)
    stall_on = os.environ.get("STALL_ON_READING")
    if stall_on and int(stall_on) in readings and _create_once("stalled.json", delivery):
        time.sleep(60)  # the test SIGKILLs us long before
    hold = os.path.join(FAULT_DIR, "hold")
    if os.path.exists(hold) and _shard_rows(ids[0]) >= int(os.environ["HOLD_AFTER_ROWS"]):
        _create_once("held-%s.json" % context.aws_request_id, delivery)
        deadline = time.monotonic() + 30
        while os.path.exists(hold) and time.monotonic() < deadline:
            time.sleep(0.02)
    return result
'''


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def example(name):
    return (EXAMPLE_DIR / name).read_text()


def wait_for(what, check, timeout, interval=0.05):
    """Polls check() until it returns something truthy; fails the test at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            pytest.fail(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


# ---- the AWS CLI -------------------------------------------------------------------------------

def kinesis_cli(proc, *args):
    """The AWS CLI's kinesis commands."""
    return aws_cli(proc, "kinesis", *args)


def ok_json(result):
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def shard_of_key(key, shards):
    """The shard a partition key hashes to (MD5 as a 128-bit integer, as Kinesis does)."""
    h = int.from_bytes(hashlib.md5(key.encode()).digest(), "big")
    for s in shards:
        r = s["HashKeyRange"]
        if int(r["StartingHashKey"]) <= h <= int(r["EndingHashKey"]):
            return s["ShardId"]
    raise AssertionError(f"no shard covers key {key}")


def keys_by_shard(shards, per_shard):
    """`per_shard` partition keys for each shard id."""
    out = {s["ShardId"]: [] for s in shards}
    i = 0
    while any(len(v) < per_shard for v in out.values()):
        key = f"sensor-{i}"
        i += 1
        bucket = out[shard_of_key(key, shards)]
        if len(bucket) < per_shard:
            bucket.append(key)
    return out


def reading_doc(n):
    """The JSON of reading n: a Celsius temperature (some fractional, some negative)."""
    return {"reading": n, "temperature": (n % 50) - 10 + (n % 4) / 4, "humidity": n % 100}


def fahrenheit(doc):
    return {"temperature": doc["temperature"] * 1.8 + 32, "humidity": doc["humidity"]}


def traces(trace_dir):
    """Every invocation the seed probe recorded, by start time."""
    out = [json.loads(p.read_text()) for p in trace_dir.glob("*.json")]
    return sorted(out, key=lambda t: t["started"])


def shard_of(event_id):
    return event_id.split(":", 1)[0]


def seq_of(event_id):
    return int(event_id.split(":", 1)[1])


# ---- 1. the seed's scenario through the AWS CLI --------------------------------------------------

def test_seed_scenario_through_the_aws_cli(launch, tmp_path):
    proc = launch(*FAST_FLAGS)
    trace_dir = tmp_path / "trace"
    trace_dir.mkdir()

    ok_json(kinesis_cli(proc, "create-stream", "--stream-name", "my-data-stream",
                        "--shard-count", "2"))
    summary = ok_json(kinesis_cli(proc, "describe-stream-summary", "--stream-name",
                                  "my-data-stream"))["StreamDescriptionSummary"]
    assert summary["StreamStatus"] == "ACTIVE"  # --transition-delay-ms 0
    stream_arn = summary["StreamARN"]
    shards = ok_json(kinesis_cli(proc, "list-shards", "--stream-name", "my-data-stream"))["Shards"]
    assert len(shards) == 2
    keys = keys_by_shard(shards, 4)
    shard_a, shard_b = sorted(keys)

    zip_path = tmp_path / "function.zip"
    zip_path.write_bytes(zip_of({"handler.py": example("handler.py"),
                                 "seed_probe.py": SEED_PROBE}))
    created = ok_json(run_cli(proc, "create-function", "--function-name", "kinesis-processor",
                              "--runtime", RUNTIME, "--handler", "seed_probe.lambda_handler",
                              "--role", ROLE, "--zip-file", f"fileb://{zip_path}",
                              "--environment", f"Variables={{TRACE_DIR={trace_dir}}}"))
    assert created["Handler"] == "seed_probe.lambda_handler"
    mapping = ok_json(run_cli(proc, "create-event-source-mapping", "--function-name",
                              "kinesis-processor", "--event-source-arn", stream_arn,
                              "--starting-position", "TRIM_HORIZON", "--batch-size", "100",
                              "--maximum-batching-window-in-seconds", str(WINDOW_S)))
    assert mapping["BatchSize"] == 100
    assert mapping["MaximumBatchingWindowInSeconds"] == WINDOW_S
    assert mapping["State"] == "Creating"

    def enabled():
        got = ok_json(run_cli(proc, "get-event-source-mapping", "--uuid", mapping["UUID"]))
        return got["State"] == "Enabled"
    wait_for("the mapping to be Enabled", enabled, timeout=10, interval=0.2)

    docs = {}        # eventID -> the reading put
    put_order = collections.defaultdict(list)  # shard -> eventIDs in put order
    next_reading = 0

    def note(shard_id, seq, doc):
        event_id = f"{shard_id}:{seq}"
        docs[event_id] = doc
        put_order[shard_id].append(event_id)
        return event_id

    # Phase 1: one by one (put-record), to both shards. Each shard's first batch waits for
    # its window, and takes every record that was in before the window closed.
    singles = []  # (eventID, time before the put, time after it)
    for key in (keys[shard_a][0], keys[shard_b][0], keys[shard_a][1], keys[shard_a][0]):
        doc = reading_doc(next_reading)
        next_reading += 1
        before = time.time()
        put = ok_json(kinesis_cli(proc, "put-record", "--stream-name", "my-data-stream",
                                  "--partition-key", key, "--data", json.dumps(doc)))
        after = time.time()
        assert put["ShardId"] == shard_of_key(key, shards)
        singles.append((note(put["ShardId"], put["SequenceNumber"], doc), before, after))

    def delivered_ids():
        return [i for t in traces(trace_dir) for i in t["event_ids"]]
    wait_for("the single records to be delivered",
             lambda: len(delivered_ids()) >= len(singles), timeout=15)
    phase1 = traces(trace_dir)
    for shard in (shard_a, shard_b):
        mine = [s for s in singles if shard_of(s[0]) == shard]
        first_put_before, first_put_after = mine[0][1], mine[0][2]
        batches = [t for t in phase1 if shard_of(t["event_ids"][0]) == shard]
        first = batches[0]
        # The window opens when the reader sees the first record, so the batch cannot start
        # before the first put began + the window (small slack for clock granularity); and it
        # does not wait much longer (a cold start of the runtime comes on top).
        assert first["started"] >= first_put_before + WINDOW_S - 0.1, (shard, first, mine)
        assert first["started"] <= first_put_after + WINDOW_S + 3.0, (shard, first, mine)
        # Every record acknowledged well before the batch began is in it.
        for event_id, _, after in mine:
            if after < first["started"] - 0.2:
                assert event_id in first["event_ids"], (shard, event_id, first)

    # Phase 2: a burst (put-records) of 300: 200 to shard A, 100 to shard B, keys interleaved.
    # Full batches go out at once, without waiting for the window.
    burst = []
    for i in range(300):
        shard = shard_b if i % 3 == 2 else shard_a
        doc = reading_doc(next_reading)
        next_reading += 1
        burst.append((keys[shard][i % 4], doc))
    burst_file = tmp_path / "burst.json"
    burst_file.write_text(json.dumps([{"PartitionKey": k, "Data": json.dumps(d)}
                                      for k, d in burst]))
    before_burst_count = len(traces(trace_dir))
    put = ok_json(kinesis_cli(proc, "put-records", "--stream-name", "my-data-stream",
                              "--records", f"file://{burst_file}"))
    burst_acked = time.time()
    assert put["FailedRecordCount"] == 0
    for (key, doc), r in zip(burst, put["Records"]):
        assert r["ShardId"] == shard_of_key(key, shards)
        note(r["ShardId"], r["SequenceNumber"], doc)
    wait_for("the burst to be delivered", lambda: len(delivered_ids()) >= len(docs), timeout=15)
    phase2 = traces(trace_dir)[before_burst_count:]
    sizes = {shard: [len(t["event_ids"]) for t in phase2 if shard_of(t["event_ids"][0]) == shard]
             for shard in (shard_a, shard_b)}
    assert sizes == {shard_a: [100, 100], shard_b: [100]}, sizes
    for t in phase2:
        assert t["started"] - burst_acked < WINDOW_S - 0.5, ("a full batch waited", t)

    # Phase 3: a burst of 130 to shard A: 100 at once, the last 30 when the window that opened
    # after the first invocation has passed.
    tail = []
    for i in range(130):
        doc = reading_doc(next_reading)
        next_reading += 1
        tail.append({"PartitionKey": keys[shard_a][i % 4], "Data": json.dumps(doc)})
    tail_file = tmp_path / "tail.json"
    tail_file.write_text(json.dumps(tail))
    before_tail_count = len(traces(trace_dir))
    put = ok_json(kinesis_cli(proc, "put-records", "--stream-name", "my-data-stream",
                              "--records", f"file://{tail_file}"))
    tail_acked = time.time()
    assert put["FailedRecordCount"] == 0
    for entry, r in zip(tail, put["Records"]):
        assert r["ShardId"] == shard_a
        note(r["ShardId"], r["SequenceNumber"], json.loads(entry["Data"]))
    wait_for("the second burst to be delivered", lambda: len(delivered_ids()) >= len(docs),
             timeout=15)
    phase3 = traces(trace_dir)[before_tail_count:]
    assert [len(t["event_ids"]) for t in phase3] == [100, 30]
    assert phase3[0]["started"] - tail_acked < WINDOW_S - 0.5
    gap = phase3[1]["started"] - phase3[0]["finished"]
    assert WINDOW_S - 0.1 <= gap <= WINDOW_S + 1.5, gap

    # Nothing more comes, and every record came exactly once (no failures happened), in the
    # order it was put within its shard, converted to Fahrenheit.
    time.sleep(0.5)
    everything = traces(trace_dir)
    ids = [i for t in everything for i in t["event_ids"]]
    assert sorted(ids) == sorted(docs)
    for shard, expected in put_order.items():
        got = [i for i in ids if shard_of(i) == shard]
        assert got == expected, f"order of {shard}"
        assert [seq_of(i) for i in got] == sorted(seq_of(i) for i in got)
    for t in everything:
        assert len({shard_of(i) for i in t["event_ids"]}) == 1, "a batch mixed shards"
        assert len(t["event_ids"]) <= 100
        expected = [fahrenheit(docs[i]) for i in t["event_ids"]]
        assert [c["humidity"] for c in t["converted"]] == [e["humidity"] for e in expected]
        assert [c["temperature"] for c in t["converted"]] == pytest.approx(
            [e["temperature"] for e in expected])
        assert t["result"] == {"statusCode": 200,
                               "body": json.dumps("Batch processed successfully!")}

    # The function's own log (docs/runtime.md, "Logs") says the same: one summary line per
    # batch with its size, one "Processing record" line per record.
    log_path = (pathlib.Path(proc.ready["data_dir"]) / "runtime" / "logs" / REGION / ACCOUNT
                / "kinesis-processor.log")

    def log_complete():
        text = log_path.read_text() if log_path.exists() else ""
        n = re.findall(r"^Successfully processed (\d+) records\.$", text, re.M)
        return text if len(n) == len(everything) else None
    text = wait_for("the function's log", log_complete, timeout=10)
    logged_sizes = sorted(int(n) for n in
                          re.findall(r"^Successfully processed (\d+) records\.$", text, re.M))
    assert logged_sizes == sorted(len(t["event_ids"]) for t in everything)
    assert len(re.findall(r"^START RequestId: ", text, re.M)) == len(everything)
    processed = re.findall(r"^Processing record: (.*)$", text, re.M)
    assert len(processed) == len(docs)
    first_doc = docs[put_order[shard_a][0]]
    assert f"Processing record: {first_doc}" in text

    metrics = fetch_metrics(proc)
    assert metric(metrics, "batches_total", mapping["UUID"]) == len(everything)
    assert metric(metrics, "retries_total", mapping["UUID"]) == 0


# ---- 2. at-least-once under faults, with the idempotent handler ----------------------------------

def client(service, proc):
    return boto3.client(
        service, endpoint_url=f"http://127.0.0.1:{proc.port}", region_name=REGION,
        aws_access_key_id="test", aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=20,
                      retries={"max_attempts": 1, "mode": "standard"}))


def fetch_metrics(proc):
    with urllib.request.urlopen(f"http://127.0.0.1:{proc.port}/metrics", timeout=5) as resp:
        return resp.read().decode()


def metric(text, name, uuid):
    m = re.search(rf'^sluice_esm_{name}{{mapping="{uuid}"[^}}]*}} (\d+)$', text, re.M)
    assert m, f"no {name} for {uuid} in:\n{text}"
    return int(m.group(1))


class Store:
    """The idempotent example behind a mapping, with its SQLite file and fault directory."""

    def __init__(self, tmp_path):
        self.db_path = tmp_path / "readings.db"
        self.fault_dir = tmp_path / "faults"
        (self.fault_dir / "trace").mkdir(parents=True)
        self.docs = {}  # eventID -> reading document

    def deploy(self, proc, shards=2, **env):
        kin, lam = client("kinesis", proc), client("lambda", proc)
        kin.create_stream(StreamName="readings", ShardCount=shards)
        stream_arn = wait_for(
            "the stream", lambda: _active_arn(kin, "readings"), timeout=10)
        variables = {"READINGS_DB": str(self.db_path), "FAULT_DIR": str(self.fault_dir),
                     **{k: str(v) for k, v in env.items()}}
        code = zip_of({"handler_idempotent.py": example("handler_idempotent.py"),
                       "fault_probe.py": FAULT_PROBE})
        lam.create_function(FunctionName="store-readings", Runtime=RUNTIME,
                            Handler="fault_probe.lambda_handler", Role=ROLE, Timeout=30,
                            Code={"ZipFile": code}, Environment={"Variables": variables})
        m = lam.create_event_source_mapping(FunctionName="store-readings",
                                            EventSourceArn=stream_arn, BatchSize=100,
                                            StartingPosition="TRIM_HORIZON")
        wait_for("the mapping to be Enabled",
                 lambda: lam.get_event_source_mapping(UUID=m["UUID"])["State"] == "Enabled",
                 timeout=10)
        return m["UUID"]

    def put(self, proc, count):
        kin = client("kinesis", proc)
        for start in range(0, count, 500):
            batch = [reading_doc(n) for n in range(start, min(start + 500, count))]
            got = kin.put_records(StreamName="readings", Records=[
                {"PartitionKey": f"sensor-{d['reading'] % 37}",
                 "Data": json.dumps(d).encode()} for d in batch])
            assert got["FailedRecordCount"] == 0
            for d, r in zip(batch, got["Records"]):
                self.docs[f"{r['ShardId']}:{r['SequenceNumber']}"] = d

    def rows(self):
        if not self.db_path.exists():
            return 0
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            return conn.execute("SELECT count(*) FROM readings").fetchone()[0]
        except sqlite3.OperationalError:  # the table is not created yet
            return 0
        finally:
            conn.close()

    def deliveries(self):
        """eventID -> how many invocations committed it."""
        counts = collections.Counter()
        for p in (self.fault_dir / "trace").glob("*.json"):
            counts.update(json.loads(p.read_text())["event_ids"])
        return counts

    def check_exactly_once(self):
        conn = sqlite3.connect(self.db_path, timeout=10)
        try:
            rows = conn.execute(
                "SELECT event_id, shard_id, sequence_number, temperature_f, humidity "
                "FROM readings").fetchall()
        finally:
            conn.close()
        by_id = collections.Counter(r[0] for r in rows)
        assert len(rows) == len(self.docs), (len(rows), len(self.docs))
        assert max(by_id.values()) == 1, "a record has more than one row"
        assert set(by_id) == set(self.docs), "missing or unexpected records"
        for event_id, shard_id, seq, temperature_f, humidity in rows:
            assert event_id == f"{shard_id}:{seq}"
            assert (temperature_f, humidity) == pytest.approx(
                (fahrenheit(self.docs[event_id])["temperature"], self.docs[event_id]["humidity"]))


def _active_arn(kin, name):
    d = kin.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    return d["StreamARN"] if d["StreamStatus"] == "ACTIVE" else None


def children_of(pid):
    """Pids of the processes whose parent is `pid` (from /proc/<pid>/stat)."""
    out = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = pathlib.Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses, so split after ")".
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            out.append(int(entry))
    return out


def alive(pid):
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_server_killed_mid_batch_restarts_and_every_record_lands_once(launch, tmp_path):
    store = Store(tmp_path)
    data_dir = tmp_path / "data"
    first = launch(*FAST_FLAGS, data_dir=data_dir)
    uuid = store.deploy(first, HOLD_AFTER_ROWS=300)
    # Once a shard has 300 rows, its next batch is held after its commit: when the server
    # dies, one batch per shard is in flight with its rows already written.
    (store.fault_dir / "hold").write_text("")
    store.put(first, 2000)
    per_shard = collections.Counter(shard_of(i) for i in store.docs)
    assert len(per_shard) == 2 and min(per_shard.values()) >= 500, per_shard

    def held_on_both_shards():
        held = sorted(store.fault_dir.glob("held-*.json"))
        return [json.loads(p.read_text()) for p in held] if len(held) == 2 else None
    held_batches = wait_for("a held batch on each shard", held_on_both_shards, timeout=20)
    assert {shard_of(b["event_ids"][0]) for b in held_batches} == set(per_shard)
    runtimes = children_of(first.pid)
    assert {b["pid"] for b in held_batches} <= set(runtimes)
    rows_at_kill = store.rows()
    assert rows_at_kill < 2000
    first.proc.send_signal(signal.SIGKILL)
    assert first.wait_exit() == -signal.SIGKILL
    first.kill()  # closes its pipes

    # The orphaned runtimes finish their invocation, cannot answer, and exit by themselves.
    (store.fault_dir / "hold").unlink()
    wait_for("the old runtime processes to exit",
             lambda: not any(alive(p) for p in runtimes), timeout=10)

    second = launch(*FAST_FLAGS, data_dir=data_dir)
    wait_for("every record in the database", lambda: store.rows() >= 2000, timeout=30,
             interval=0.1)
    time.sleep(0.3)  # a duplicate delivery would come now; it must change nothing
    store.check_exactly_once()

    # The held batches had written their rows but were never acknowledged: the restarted
    # server delivered them again (at-least-once), and the UPSERT kept one row each.
    deliveries = store.deliveries()
    for b in held_batches:
        assert all(deliveries[i] >= 2 for i in b["event_ids"]), b["request_id"]
    assert metric(fetch_metrics(second), "records_read_total", uuid) >= 2000 - rows_at_kill


def test_function_process_killed_mid_batch_is_retried_without_duplicates(launch, tmp_path):
    store = Store(tmp_path)
    proc = launch(*FAST_FLAGS)
    # Reading 700's batch: the process exits by itself after its commit. Reading 1300's batch:
    # the process stalls after its commit and we SIGKILL it, found as a child of the server.
    uuid = store.deploy(proc, EXIT_ON_READING=700, STALL_ON_READING=1300)
    store.put(proc, 2000)

    stalled = wait_for("the stalled batch",
                       lambda: (store.fault_dir / "stalled.json").exists() and json.loads(
                           (store.fault_dir / "stalled.json").read_text()), timeout=20)
    assert stalled["pid"] in children_of(proc.pid), "the runtime is not the server's child"
    os.kill(stalled["pid"], signal.SIGKILL)

    wait_for("every record in the database", lambda: store.rows() >= 2000, timeout=30,
             interval=0.1)
    time.sleep(0.3)
    store.check_exactly_once()

    exited = json.loads((store.fault_dir / "exited.json").read_text())
    deliveries = store.deliveries()
    for batch in (exited, stalled):
        assert all(deliveries[i] >= 2 for i in batch["event_ids"]), batch["request_id"]
    wait_for("the retries in the metrics",
             lambda: metric(fetch_metrics(proc), "retries_total", uuid) >= 2, timeout=5)
    metrics = fetch_metrics(proc)
    assert metric(metrics, "function_errors_total", uuid) >= 2
    assert metric(metrics, "discarded_records_total", uuid) == 0
    assert not alive(stalled["pid"])
    log = (pathlib.Path(proc.ready["data_dir"]) / "runtime" / "logs" / REGION / ACCOUNT
           / "store-readings.log").read_text()
    # Both failed attempts ran in the function (their output is in its log), and so did
    # their retries.
    for batch in (exited, stalled):
        assert f"START RequestId: {batch['request_id']} " in log
    assert len(re.findall(r"^START RequestId: ", log, re.M)) >= 2000 // 100 + 2
