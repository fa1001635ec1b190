"""The rest of the Kinesis surface end to end: --enforce-limits throttling, the stream-mode,
record-size and warm-throughput updates, --transition-delay-ms, kill -9 and SIGTERM in the
middle of a multi-connection write burst, and slow clients. Real binary, boto3 and raw
sockets."""

import json
import socket
import signal
import threading
import time

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from test_kinesis_api import client, read_all, wait_active


def arn(name):
    return f"arn:aws:kinesis:us-east-1:000000000000:stream/{name}"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_enforce_limits_throttles_a_provisioned_shard(launch):
    proc = launch("--enforce-limits", "--transition-delay-ms", "0")
    kinesis = client(proc)
    kinesis.create_stream(StreamName="tight", ShardCount=1)
    wait_active(kinesis, "tight")
    kinesis.update_max_record_size(StreamARN=arn("tight"), MaxRecordSizeInKiB=4096)
    # 1 MiB/s per shard: a 3 MiB record passes a full bucket and leaves 2 s of debt.
    kinesis.put_record(StreamName="tight", PartitionKey="k", Data=b"x" * (3 * 1024 * 1024))
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="tight", PartitionKey="k", Data=b"small")
    assert error_code(e) == "ProvisionedThroughputExceededException"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert e.value.response["Error"]["Message"] == (
        "Rate exceeded for shard shardId-000000000000 in stream tight under account "
        "000000000000.")
    # PutRecords: the request succeeds, the entries over the rate fail one by one. All three
    # entries are charged at the same instant, so only the first 900 KiB fits.
    time.sleep(3.2)
    blob = b"y" * (900 * 1024)
    resp = kinesis.put_records(StreamName="tight",
                               Records=[{"PartitionKey": "k", "Data": blob} for _ in range(3)])
    assert resp["FailedRecordCount"] == 2
    assert "SequenceNumber" in resp["Records"][0]
    assert [r.get("ErrorCode") for r in resp["Records"][1:]] == [
        "ProvisionedThroughputExceededException"] * 2
    # After a pause the shard takes writes again, and only acknowledged records are stored.
    time.sleep(1.2)
    kinesis.put_record(StreamName="tight", PartitionKey="k", Data=b"after")
    stored = read_all(kinesis, "tight", "shardId-000000000000")
    assert [len(r["Data"]) for r in stored] == [3 * 1024 * 1024, 900 * 1024, 5]


def test_enforce_limits_throttles_reads_but_not_on_demand_streams(launch):
    proc = launch("--enforce-limits", "--transition-delay-ms", "0")
    kinesis = client(proc)
    kinesis.create_stream(StreamName="reads", ShardCount=1)
    kinesis.create_stream(StreamName="od", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    wait_active(kinesis, "reads")
    wait_active(kinesis, "od")
    it = kinesis.get_shard_iterator(StreamName="reads", ShardId="shardId-000000000000",
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    # One keep-alive connection without an SDK, so that 40 calls take well under a second
    # even on a loaded machine: at 5 calls/s, most of them must be refused.
    conn = proc.connection()
    codes = []
    started = time.monotonic()
    for _ in range(40):
        conn.request("POST", "/", body=json.dumps({"ShardIterator": it}), headers={
            "X-Amz-Target": "Kinesis_20131202.GetRecords",
            "Content-Type": "application/x-amz-json-1.1",
            "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101/us-east-1/kinesis/"
                             "aws4_request, SignedHeaders=host, Signature=abc",
            "X-Amz-Date": "20240101T000000Z"})
        resp = conn.getresponse()
        body = json.loads(resp.read())
        codes.append(resp.status if resp.status == 200 else body["__type"])
    elapsed = time.monotonic() - started
    allowed = 5 + 5 * elapsed + 1
    assert set(codes) <= {200, "ProvisionedThroughputExceededException"}, codes
    assert codes.count(200) <= allowed, (codes, elapsed)
    assert codes[0] == 200
    for i in range(1500):  # well over 1000 records/s on one shard, never refused
        kinesis.put_record(StreamName="od", PartitionKey="same", Data=b"r")


def test_without_the_flag_bursts_are_not_throttled(server):
    kinesis = client(server)
    kinesis.create_stream(StreamName="free", ShardCount=1)
    wait_active(kinesis, "free")
    blob = b"x" * (600 * 1024)
    for _ in range(4):
        kinesis.put_record(StreamName="free", PartitionKey="k", Data=blob)


def test_update_stream_mode_max_record_size_and_warm_throughput(launch):
    proc = launch("--transition-delay-ms", "0")
    kinesis = client(proc)
    kinesis.create_stream(StreamName="modes", ShardCount=2)
    wait_active(kinesis, "modes")
    kinesis.update_stream_mode(StreamARN=arn("modes"),
                               StreamModeDetails={"StreamMode": "ON_DEMAND"})
    summary = wait_active(kinesis, "modes")
    assert summary["StreamModeDetails"]["StreamMode"] == "ON_DEMAND"
    assert len(summary["Shards"]) == 2  # the shards stay

    warm = kinesis.update_stream_warm_throughput(StreamName="modes", WarmThroughputMiBps=64)
    assert warm["StreamName"] == "modes"
    assert warm["WarmThroughput"] == {"TargetMiBps": 64, "CurrentMiBps": 64}
    d = kinesis.describe_stream_summary(StreamName="modes")["StreamDescriptionSummary"]
    assert d["WarmThroughput"]["TargetMiBps"] == 64

    two_mib = b"y" * (2 * 1024 * 1024)
    with pytest.raises(ClientError) as e:
        kinesis.put_record(StreamName="modes", PartitionKey="k", Data=two_mib)
    assert error_code(e) == "ValidationException"
    kinesis.update_max_record_size(StreamARN=arn("modes"), MaxRecordSizeInKiB=4096)
    r = kinesis.put_record(StreamName="modes", PartitionKey="k", Data=two_mib)
    got = read_all(kinesis, "modes", r["ShardId"])
    assert got[-1]["Data"] == two_mib
    d = kinesis.describe_stream_summary(StreamName="modes")["StreamDescriptionSummary"]
    assert d["MaxRecordSizeInKiB"] == 4096

    kinesis.update_stream_mode(StreamARN=arn("modes"),
                               StreamModeDetails={"StreamMode": "PROVISIONED"})
    assert wait_active(kinesis, "modes")["StreamModeDetails"]["StreamMode"] == "PROVISIONED"
    with pytest.raises(ClientError) as e:
        kinesis.update_stream_warm_throughput(StreamName="modes", WarmThroughputMiBps=8)
    assert error_code(e) == "InvalidArgumentException"
    with pytest.raises(ClientError) as e:
        kinesis.update_max_record_size(StreamARN=arn("modes"), MaxRecordSizeInKiB=99999)
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        kinesis.update_stream_mode(StreamARN=arn("missing"),
                                   StreamModeDetails={"StreamMode": "ON_DEMAND"})
    assert error_code(e) == "ResourceNotFoundException"


def test_transition_delay_flag_sets_how_long_streams_stay_creating(launch, tmp_path):
    slow = client(launch("--transition-delay-ms", "1500"))
    slow.create_stream(StreamName="s", ShardCount=1)
    assert slow.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"][
        "StreamStatus"] == "CREATING"
    fast = client(launch("--transition-delay-ms", "0", data_dir=tmp_path / "fast"))
    fast.create_stream(StreamName="s", ShardCount=1)
    assert fast.describe_stream_summary(StreamName="s")["StreamDescriptionSummary"][
        "StreamStatus"] == "ACTIVE"


def test_kill_9_during_a_put_records_burst_from_several_connections(launch, tmp_path):
    """Every acknowledged record survives with its sequence number; numbers keep growing."""
    data_dir = tmp_path / "burst"
    first = launch("--transition-delay-ms", "0", "--fsync", "group", data_dir=data_dir)
    setup = client(first)
    setup.create_stream(StreamName="burst", ShardCount=4)
    wait_active(setup, "burst")

    acked = []  # (partition key, data, shard, sequence number)
    lock = threading.Lock()
    stop = threading.Event()
    errors = []

    def writer(w):
        kinesis = client(first)
        n = 0
        while not stop.is_set():
            entries = [{"PartitionKey": f"w{w}-{n + i}", "Data": f"w{w}-{n + i}".encode() * 8}
                       for i in range(50)]
            n += len(entries)
            try:
                resp = kinesis.put_records(StreamName="burst", Records=entries)
            except Exception:  # the server died under us: this batch was not acknowledged
                return
            with lock:
                for e, r in zip(entries, resp["Records"]):
                    if "SequenceNumber" in r:
                        acked.append((e["PartitionKey"], e["Data"], r["ShardId"],
                                      r["SequenceNumber"]))
                    else:
                        errors.append(r)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 2000:
                break
        time.sleep(0.02)
    first.signal(signal.SIGKILL)
    first.wait_exit()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not errors
    assert len(acked) >= 2000, "the burst did not get going before the kill"

    second = launch("--transition-delay-ms", "0", data_dir=data_dir)
    kinesis = client(second)
    newest = assert_every_acked_record_reads_back(kinesis, "burst", acked)
    for shard, top in newest.items():
        # New records on the same shard get larger numbers than anything before the crash.
        r = kinesis.put_record(StreamName="burst", PartitionKey="after",
                               ExplicitHashKey=str(shard_start(kinesis, shard)), Data=b"after")
        assert r["ShardId"] == shard
        assert int(r["SequenceNumber"]) > top


def test_sigterm_during_a_write_burst_answers_or_refuses_every_write_and_loses_none(launch,
                                                                                   tmp_path):
    """A stopping server answers each write in flight with its result or with a 503
    ServiceUnavailableException, or closes the connection; it exits 0, and every write it
    acknowledged reads back after a restart."""
    data_dir = tmp_path / "drain"
    first = launch("--transition-delay-ms", "0", "--fsync", "group", data_dir=data_dir)
    setup = client(first)
    setup.create_stream(StreamName="drain", ShardCount=4)
    wait_active(setup, "drain")

    acked = []  # (partition key, data, shard, sequence number)
    refused = []
    unexpected = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        kinesis = client(first)  # one attempt: a 503 is seen, not retried
        n = 0
        while not stop.is_set():
            keys = [f"w{w}-{n + i}" for i in range(1 if w % 2 == 0 else 20)]
            n += len(keys)
            try:
                if len(keys) == 1:
                    r = kinesis.put_record(StreamName="drain", PartitionKey=keys[0],
                                           Data=keys[0].encode())
                    results = [(keys[0], r)]
                else:
                    resp = kinesis.put_records(
                        StreamName="drain",
                        Records=[{"PartitionKey": k, "Data": k.encode()} for k in keys])
                    results = list(zip(keys, resp["Records"]))
            except ClientError as e:
                status = e.response["ResponseMetadata"]["HTTPStatusCode"]
                with lock:
                    if status == 503 and error_code_of(e) == "ServiceUnavailableException":
                        refused.append(keys)
                    else:
                        unexpected.append((status, e.response["Error"]))
                continue
            except BotoCoreError:  # connection closed or refused: the server has stopped
                return
            with lock:
                for key, r in results:
                    if "SequenceNumber" in r:
                        acked.append((key, key.encode(), r["ShardId"], r["SequenceNumber"]))
                    else:
                        unexpected.append(r)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        with lock:
            if len(acked) >= 1000:
                break
        time.sleep(0.02)
    with lock:
        at_signal = len(acked)
    first.signal(signal.SIGTERM)
    assert first.wait_exit(timeout=30) == 0
    stop.set()
    for t in threads:
        t.join(timeout=30)
    assert not unexpected
    assert at_signal >= 1000, "the burst did not get going before the signal"
    # Six writers never pause: some of their writes were in flight at the signal and were
    # answered during the drain (in trial runs, 40-60 records).
    assert len(acked) > at_signal

    second = launch("--transition-delay-ms", "0", data_dir=data_dir)
    kinesis = client(second)
    assert_every_acked_record_reads_back(kinesis, "drain", acked)
    # The drain answers every write it took: nothing is stored that was not acknowledged.
    # A 503 means the write was not taken, so none of its records is stored either (a client
    # that retries it writes each record once); in trial runs the drain answered every
    # write in flight and refused none.
    stored = set()
    for shard in kinesis.list_shards(StreamName="drain")["Shards"]:
        stored.update(key for key, _ in read_shard(kinesis, "drain", shard["ShardId"]).values())
    assert stored == {key for key, _, _, _ in acked}
    assert not stored.intersection(key for keys in refused for key in keys)


def assert_every_acked_record_reads_back(kinesis, stream, acked):
    """acked: (partition key, data, shard id, sequence number) of every acknowledged record.
    Reads each shard from TRIM_HORIZON, checks that each of them is there unchanged and that
    the shard's numbers rise, and returns {shard id: its largest sequence number}."""
    by_shard = {}
    for key, data, shard, seq in acked:
        by_shard.setdefault(shard, {})[seq] = (key, data)
    newest = {}
    for shard, expected in by_shard.items():
        got = read_shard(kinesis, stream, shard)
        for seq, record in expected.items():
            assert got.get(seq) == record, f"acknowledged record {seq} on {shard} lost"
        seqs = [int(s) for s in got]
        assert seqs == sorted(seqs)
        newest[shard] = max(seqs)
    return newest


def read_shard(kinesis, stream, shard):
    """{sequence number: (partition key, data)} of every record of the shard, from
    TRIM_HORIZON to the tip."""
    got = {}
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard,
                                    ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    while it:
        resp = kinesis.get_records(ShardIterator=it, Limit=10000)
        for r in resp["Records"]:
            got[r["SequenceNumber"]] = (r["PartitionKey"], r["Data"])
        if not resp["Records"]:
            break
        it = resp.get("NextShardIterator")
    return got


def error_code_of(e):
    return e.response["Error"]["Code"]


def shard_start(kinesis, shard_id):
    for s in kinesis.list_shards(StreamName="burst")["Shards"]:
        if s["ShardId"] == shard_id:
            return int(s["HashKeyRange"]["StartingHashKey"])
    raise AssertionError(shard_id)


def test_slow_clients_do_not_hold_up_others(server):
    """Connections that dribble a request byte by byte, or stop half-way, leave the server
    answering everyone else at once."""
    slow = []
    for _ in range(8):
        s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Le")
        slow.append(s)
    kinesis = client(server)
    kinesis.create_stream(StreamName="busy", ShardCount=1)
    wait_active(kinesis, "busy")
    started = time.monotonic()
    for i in range(20):
        kinesis.put_record(StreamName="busy", PartitionKey="k", Data=b"%d" % i)
        for s in slow:
            s.sendall(b"n")  # one more byte of the header name, never finished
    assert time.monotonic() - started < 10
    # A half-sent body, then the client goes away.
    s = socket.create_connection(("127.0.0.1", server.port), timeout=5)
    s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: Kinesis_20131202.PutRecord\r\n"
              b"Content-Type: application/x-amz-json-1.1\r\nContent-Length: 500\r\n\r\n"
              b'{"StreamName":"busy","PartitionKey":"k","Da')
    s.close()
    for s in slow:
        s.close()
    assert len(read_all(kinesis, "busy", "shardId-000000000000")) == 20
    assert server.health()


def test_default_account_and_region_flags_name_unsigned_callers(launch, run_sluice):
    proc = launch("--default-account", "123456789012", "--default-region", "eu-west-3")
    status, _, body = proc.request(
        "POST", "/", body='{"StreamName":"acct","ShardCount":1}',
        headers={"X-Amz-Target": "Kinesis_20131202.CreateStream",
                 "Content-Type": "application/x-amz-json-1.1",
                 "Authorization": "AWS4-HMAC-SHA256 Credential=test/20240101//kinesis/"
                                  "aws4_request, SignedHeaders=host, Signature=abc",
                 "X-Amz-Date": "20240101T000000Z"})
    assert status == 200, body
    # Named by the signature, the same stream is found under the flag's account and region.
    kinesis = client(proc, region="eu-west-3", access_key="123456789012")
    d = kinesis.describe_stream_summary(StreamName="acct")["StreamDescriptionSummary"]
    assert d["StreamARN"] == "arn:aws:kinesis:eu-west-3:123456789012:stream/acct"
    bad = run_sluice("serve", "--default-account", "12", "--port", "0")
    assert bad.returncode == 2
    assert b"12-digit" in bad.stderr
