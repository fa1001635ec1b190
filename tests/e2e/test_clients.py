"""Real AWS clients against the real binary (issue 3): the AWS SDK for JavaScript v3, the AWS
SDK for Java v2 and the Kinesis Client Library, each with its shipped defaults.

The clients are installed by scripts/install-clients.sh (`make test-deps`), pinned in
tests/clients/js/package-lock.json and tests/clients/java/pom.xml; nothing is fetched here.
Each program runs one scenario and prints a JSON summary (or, for KCL, one JSON event per
line); these tests check the exit status and the summary, then check the data again through
boto3. tests/clients/README.md describes the programs.

SLUICE_CLIENTS_FALLBACK (comma-separated, for debugging a server only): `http1` makes the
clients use HTTP/1.1 instead of their default HTTP/2 (h2c), `json` turns the Java SDK's CBOR
off. Unset, as in `make test`, every client runs with its defaults. SLUICE_CLIENTS_JAVA_LOG sets
the Java programs' log level (default warn); their stderr is kept in each test's tmp_path."""

import json
import os
import pathlib
import queue
import signal
import subprocess
import threading
import time

import boto3
import pytest

# The JVM clients (Java SDK, KCL with its lease table) are the heaviest tests: on parallel runs
# (make e2e, pytest-xdist --dist loadgroup) they share one worker, one after another.
pytestmark = pytest.mark.xdist_group("clients")
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import REPO_ROOT

JS_DIR = REPO_ROOT / "tests/clients/js"
JAVA_BUILD = REPO_ROOT / "build/clients/java"
CLIENT_TIMEOUT_S = 90.0   # one client program, start to exit (sanitizer builds are slow)
DEADLINE_S = 15.0
FALLBACK = {f for f in os.environ.get("SLUICE_CLIENTS_FALLBACK", "").split(",") if f}
# The Java programs' log level (their stderr lands in the test's tmp_path): warn, info, debug.
JAVA_LOG_LEVEL = os.environ.get("SLUICE_CLIENTS_JAVA_LOG", "warn")
# Short transitions: the scenarios reshard and wait for ACTIVE several times.
SERVE_ARGS = ("--transition-delay-ms", "100")


def require_clients():
    missing = [p for p in (JS_DIR / "node_modules/@aws-sdk/client-kinesis",
                           JS_DIR / "node_modules/dynalite",
                           JAVA_BUILD / "classes", JAVA_BUILD / "lib") if not p.exists()]
    if missing:
        pytest.fail(f"client programs not installed ({', '.join(map(str, missing))}); "
                    "run scripts/install-clients.sh (part of `make test-deps`)")


def java_command(main_class, *args):
    cp = f"{JAVA_BUILD / 'classes'}:{JAVA_BUILD / 'lib'}/*"
    cmd = ["java", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
           f"-Dorg.slf4j.simpleLogger.defaultLogLevel={JAVA_LOG_LEVEL}",
           "-Dorg.slf4j.simpleLogger.showDateTime=true",
           "-Dorg.slf4j.simpleLogger.logFile=System.err"]
    if "json" in FALLBACK:
        cmd.append("-Daws.cborEnabled=false")
    return cmd + ["-cp", cp, main_class, *args]


def client_env():
    env = dict(os.environ)
    # Nothing from the developer's AWS setup may steer the clients.
    for key in list(env):
        if key.startswith("AWS_"):
            del env[key]
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    return env


def run_client(cmd, cwd, log_path):
    """Runs a client program to completion; fails with its stderr on error or timeout. Returns
    the JSON object on its last stdout line."""
    with open(log_path, "wb") as log:
        try:
            result = subprocess.run(cmd, cwd=str(cwd), env=client_env(), stdin=subprocess.DEVNULL,
                                    stdout=subprocess.PIPE, stderr=log, timeout=CLIENT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            pytest.fail(f"{cmd[0]} did not finish in {CLIENT_TIMEOUT_S}s; stderr:\n"
                        f"{log_path.read_text(errors='replace')[-6000:]}")
    stderr = log_path.read_text(errors="replace")
    assert result.returncode == 0, f"{cmd} exited {result.returncode}; stderr:\n{stderr[-6000:]}"
    lines = result.stdout.decode().strip().splitlines()
    assert lines, f"no summary on stdout; stderr:\n{stderr[-3000:]}"
    summary = json.loads(lines[-1])
    assert summary["ok"] is True
    return summary


def kinesis_client(port):
    return boto3.client(
        "kinesis", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="AKIDSLUICETEST", aws_secret_access_key="sluice-test-secret",
        config=Config(connect_timeout=5, read_timeout=10,
                      retries={"max_attempts": 1, "mode": "standard"}))


def wait_until(what, check, deadline_s=DEADLINE_S):
    deadline = time.monotonic() + deadline_s
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def wait_active(kinesis, name):
    return wait_until(f"{name} ACTIVE", lambda: (lambda s: s if s["StreamStatus"] == "ACTIVE"
                                                   else None)(
        kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]))


def read_shard(kinesis, stream, shard_id):
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    records = []
    for _ in range(50):
        out = kinesis.get_records(ShardIterator=it)
        records += out["Records"]
        it = out.get("NextShardIterator")
        if not it or (not out["Records"] and out["MillisBehindLatest"] == 0):
            break
    return records


def check_kept_stream(kinesis, kept):
    """What a client program wrote and left behind reads back the same through boto3."""
    expected = kept["records"]
    assert len(expected) == 3
    shards = {r["shard"] for r in expected}
    got = []
    for shard in shards:
        got += [{"shard": shard, "key": r["PartitionKey"], "data": r["Data"].decode(),
                 "seq": r["SequenceNumber"]} for r in read_shard(kinesis, kept["stream"], shard)]
    assert sorted(got, key=lambda r: r["key"]) == sorted(expected, key=lambda r: r["key"])


def check_deleted(kinesis, stream):
    with pytest.raises(ClientError) as e:
        kinesis.describe_stream_summary(StreamName=stream)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"


def check_scenario_run(run):
    # 2 + 2 split children + 1 merged + the 4 of UpdateShardCount(2 -> 4) = 9, 4 open.
    assert run["shards"] == 9 and run["open_shards"] == 4
    assert run["records_read"] == run.get("records_written", run["records_read"]) == 28
    assert run["deleted"] is True


# --- the AWS SDK for JavaScript v3 ---------------------------------------------------------

def test_js_sdk_v3_with_its_default_http2_handler(launch, tmp_path):
    require_clients()
    server = launch(*SERVE_ARGS)
    cmd = ["node", "kinesis_scenario.mjs", "--endpoint", f"http://127.0.0.1:{server.port}",
           "--stream", "js-sdk-scenario"]
    if "http1" in FALLBACK:
        cmd.append("--http1")
    summary = run_client(cmd, JS_DIR, tmp_path / "js-sdk.stderr")

    assert summary["handler"] == ("NodeHttpHandler" if "http1" in FALLBACK
                                  else "NodeHttp2Handler")
    check_scenario_run(summary)
    written = summary["written"]
    assert len(written) == 28
    assert len({w["seq"] for w in written}) == 28
    assert summary["error"]["name"] == "ResourceNotFoundException"
    assert summary["error"]["status"] == 400
    assert "js-sdk-no-such-stream" in summary["error"]["message"]

    kinesis = kinesis_client(server.port)
    check_deleted(kinesis, "js-sdk-scenario")
    check_kept_stream(kinesis, summary["kept"])


# --- the AWS SDK for Java v2 ---------------------------------------------------------------

def run_java_scenario(server, tmp_path, transports):
    args = ["--endpoint", f"http://127.0.0.1:{server.port}", "--transport", ",".join(transports)]
    if "json" in FALLBACK:
        args.append("--no-cbor")
    summary = run_client(java_command("dev.sluice.clients.KinesisScenario", *args),
                         REPO_ROOT, tmp_path / "java-sdk.stderr")
    assert summary["cbor"] is ("json" not in FALLBACK)
    assert [r["transport"] for r in summary["runs"]] == transports
    wire = "application/x-amz-json-1.1" if "json" in FALLBACK else "application/x-amz-cbor-1.1"
    kinesis = kinesis_client(server.port)
    for run in summary["runs"]:
        check_scenario_run(run)
        assert run["request_content_types"] == [wire]
        assert wire in run["response_content_types"]
        assert run["error"] == {
            "code": "ResourceNotFoundException", "status": 400,
            "message": run["error"]["message"]}
        assert f"{run['stream']}-no-such-stream" in run["error"]["message"]
        check_deleted(kinesis, run["stream"])
        check_kept_stream(kinesis, run["kept"])
    return summary


def test_java_sdk_v2_sync_clients_with_cbor(launch, tmp_path):
    """KinesisClient over the Apache and the URLConnection HTTP/1.1 clients, CBOR on."""
    require_clients()
    server = launch(*SERVE_ARGS)
    run_java_scenario(server, tmp_path, ["apache", "urlconnection"])


def test_java_sdk_v2_async_netty_http2_with_cbor(launch, tmp_path):
    """KinesisAsyncClient over Netty with Protocol.HTTP2: prior-knowledge h2c on http://."""
    require_clients()
    server = launch(*SERVE_ARGS)
    run_java_scenario(server, tmp_path,
                      ["netty-h1" if "http1" in FALLBACK else "netty-h2"])


# --- the Kinesis Client Library ------------------------------------------------------------

class LineProcess:
    """A child process whose stdout lines are collected by a thread. Always killed by stop()."""

    def __init__(self, cmd, cwd, stderr_path, env=None):
        self.stderr_path = stderr_path
        self._stderr = open(stderr_path, "wb")
        self.proc = subprocess.Popen(cmd, cwd=str(cwd), env=env or client_env(),
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr)
        self.lines = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for raw in self.proc.stdout:
            self.lines.put(raw.decode("utf-8", "replace").rstrip("\n"))
        self.lines.put(None)

    def next_line(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            return ""
        try:
            line = self.lines.get(timeout=left)
        except queue.Empty:
            return ""
        if line is None:
            pytest.fail(f"{self.proc.args[0]} exited ({self.proc.wait()}); stderr:\n"
                        f"{self.stderr_text()[-6000:]}")
        return line

    def stderr_text(self):
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._stderr.close()


def start_dynalite(tmp_path):
    proc = LineProcess(["node", "dynalite_server.mjs"], JS_DIR, tmp_path / "dynalite.stderr")
    line = proc.next_line(time.monotonic() + DEADLINE_S)
    assert line.startswith("dynalite ready: http://127.0.0.1:"), line
    return proc, line.split(" ", 2)[2]


class KclEvents:
    """The KCL consumer's stdout events, in order."""

    def __init__(self, proc):
        self.proc = proc
        self.events = []

    def records(self):
        return [e for e in self.events if e["event"] == "record"]

    def wait_for(self, what, done, deadline_s):
        deadline = time.monotonic() + deadline_s
        while not done(self):
            line = self.proc.next_line(deadline)
            if not line:
                pytest.fail(f"KCL: timed out waiting for {what}; events so far: "
                            f"{self.events[-20:]}\nstderr:\n{self.proc.stderr_text()[-6000:]}")
            event = json.loads(line)
            assert event["event"] != "error", event
            self.events.append(event)


def put_batch(kinesis, stream, entries):
    """entries: (key, data, explicit hash key or None). Returns what was written, with the
    shard and sequence number the server gave each record."""
    records = []
    for key, data, hash_key in entries:
        r = {"PartitionKey": key, "Data": data.encode()}
        if hash_key is not None:
            r["ExplicitHashKey"] = str(hash_key)
        records.append(r)
    out = kinesis.put_records(StreamName=stream, Records=records)
    assert out["FailedRecordCount"] == 0
    return [{"shard": r["ShardId"], "key": key, "data": data, "seq": r["SequenceNumber"]}
            for (key, data, _), r in zip(entries, out["Records"])]


def test_kcl_polling_consumer_sees_every_record_across_split_and_merge(launch, tmp_path):
    require_clients()
    server = launch(*SERVE_ARGS)
    kinesis = kinesis_client(server.port)
    stream = "kcl-orders"
    kinesis.create_stream(StreamName=stream, ShardCount=2)
    wait_active(kinesis, stream)
    written = put_batch(kinesis, stream, [(f"order-{i}", f"before-reshard-{i}", None)
                                          for i in range(12)])
    assert {w["shard"] for w in written} == {"shardId-000000000000", "shardId-000000000001"}

    dynalite, dynamo_endpoint = start_dynalite(tmp_path)
    kcl = None
    try:
        args = ["--kinesis-endpoint", f"http://127.0.0.1:{server.port}",
                "--dynamodb-endpoint", dynamo_endpoint, "--stream", stream,
                "--app", "sluice-kcl-test", "--create-lease-table"]
        if "http1" in FALLBACK:
            args.append("--kinesis-http1")
        kcl = LineProcess(java_command("dev.sluice.clients.KclConsumer", *args), REPO_ROOT,
                          tmp_path / "kcl.stderr")
        events = KclEvents(kcl)

        def seen_all(ev):
            seen = {(e["shard"], e["seq"]) for e in ev.records()}
            return all((w["shard"], w["seq"]) in seen for w in written)

        # KCL waits a random 1-30 s before its first shard sync on an empty lease table.
        events.wait_for("the records written before KCL started", seen_all, 75)

        # Split shard 0 in the middle while KCL is reading; write to both children.
        shards = kinesis.list_shards(StreamName=stream)["Shards"]
        shard0 = next(s for s in shards if s["ShardId"] == "shardId-000000000000")
        lo = int(shard0["HashKeyRange"]["StartingHashKey"])
        hi = int(shard0["HashKeyRange"]["EndingHashKey"])
        mid = lo + (hi - lo + 1) // 2
        kinesis.split_shard(StreamName=stream, ShardToSplit=shard0["ShardId"],
                            NewStartingHashKey=str(mid))
        wait_active(kinesis, stream)
        children = sorted((s for s in kinesis.list_shards(StreamName=stream)["Shards"]
                           if s.get("ParentShardId") == shard0["ShardId"]),
                          key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))
        assert len(children) == 2
        after_split = put_batch(kinesis, stream, [
            ("split-low-0", "after-split-low-0", lo), ("split-low-1", "after-split-low-1", mid - 1),
            ("split-high-0", "after-split-high-0", mid), ("split-high-1", "after-split-high-1", hi),
            ("other-0", "after-split-shard-1", hi + 1)])
        assert [w["shard"] for w in after_split] == [
            children[0]["ShardId"], children[0]["ShardId"], children[1]["ShardId"],
            children[1]["ShardId"], "shardId-000000000001"]
        written += after_split

        # Merge the two children back; write to the merged shard.
        kinesis.merge_shards(StreamName=stream, ShardToMerge=children[0]["ShardId"],
                             AdjacentShardToMerge=children[1]["ShardId"])
        wait_active(kinesis, stream)
        merged = next(s for s in kinesis.list_shards(StreamName=stream)["Shards"]
                      if s.get("ParentShardId") == children[0]["ShardId"])
        assert merged["AdjacentParentShardId"] == children[1]["ShardId"]
        after_merge = put_batch(kinesis, stream, [
            (f"merged-{i}", f"after-merge-{i}", h) for i, h in enumerate((lo, mid, hi))])
        assert {w["shard"] for w in after_merge} == {merged["ShardId"]}
        written += after_merge

        events.wait_for("every record, through the split and the merge", seen_all, 60)
        kcl.proc.stdin.close()  # asks for a graceful shutdown
        # KCL's graceful shutdown waits for its lease and worker threads: on two loaded cores
        # it took over 20 s once, so the consumer allows 50 s.
        events.wait_for("the consumer to stop",
                        lambda ev: ev.events and ev.events[-1]["event"] == "stopped", 70)
        stopped = events.events[-1]
        assert stopped["clean"] is True
        wire = "application/x-amz-json-1.1" if "json" in FALLBACK else "application/x-amz-cbor-1.1"
        assert stopped["request_content_types"] == [wire]
        assert wire in stopped["response_content_types"]
        assert kcl.proc.wait(timeout=15) == 0
    finally:
        if kcl is not None:
            kcl.stop()
        dynalite.proc.stdin.close()
        dynalite.stop()

    # Every record was handed to the processor, from the shard it was written to, with its
    # partition key and data; nothing else was.
    seen = {}
    for e in events.records():
        seen.setdefault((e["shard"], e["seq"]), e)
    for w in written:
        got = seen.get((w["shard"], w["seq"]))
        assert got is not None, f"KCL never saw {w}"
        assert (got["key"], got["data"]) == (w["key"], w["data"])
    assert len(seen) == len(written), sorted(set(seen) - {(w["shard"], w["seq"]) for w in written})

    # Per shard, records arrive in sequence order; a child starts only after its parents
    # reached SHARD_END (KCL's parent-first guarantee, driven by ChildShards and ListShards).
    position = {}
    for i, e in enumerate(events.events):
        if e["event"] == "shard_end":
            position.setdefault(("end", e["shard"]), i)
        if e["event"] == "record":
            position.setdefault(("first", e["shard"]), i)
    # (KCL delivers at least once: a lease lost and taken again replays from the last
    # checkpoint, so only first deliveries are held to the order.)
    by_shard = {}
    for e in events.records():
        seqs = by_shard.setdefault(e["shard"], [])
        if int(e["seq"]) not in seqs:
            seqs.append(int(e["seq"]))
    for shard, seqs in by_shard.items():
        assert seqs == sorted(seqs), shard
    for child in children:
        assert position[("end", shard0["ShardId"])] < position[("first", child["ShardId"])]
        assert ("end", child["ShardId"]) in position
    for parent in children:
        assert position[("end", parent["ShardId"])] < position[("first", merged["ShardId"])]
