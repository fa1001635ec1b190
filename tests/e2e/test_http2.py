"""HTTP/2 with prior knowledge (h2c) on the binary's one port, driven by curl, whose Debian
build speaks HTTP/2 through nghttp2 (the AWS SDK for JavaScript v3 talks to Sluice this way)."""

import concurrent.futures
import json
import shutil
import subprocess
import time

import pytest

from test_lambda_invoke import make_function
from test_lambda_functions import client as lambda_client

CURL_TIMEOUT_S = 10
KINESIS_HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/kinesis/aws4_request, "
                     "SignedHeaders=host;x-amz-date, Signature=abc",
    "X-Amz-Date": "20240101T000000Z",
}
# Written by curl after each transfer, on a line of its own.
WRITE_OUT = r"\n@@%{http_version} %{http_code}\n"

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")


def curl(*args):
    """Runs curl with a deadline; returns its stdout (the test fails on a non-zero exit)."""
    result = subprocess.run(
        ["curl", "--silent", "--show-error", "--http2-prior-knowledge",
         "--max-time", str(CURL_TIMEOUT_S), *args],
        capture_output=True, timeout=CURL_TIMEOUT_S + 5)
    assert result.returncode == 0, result.stderr.decode("utf-8", "replace")
    return result.stdout.decode("utf-8", "replace")


def transfers(output):
    """Splits curl output made with WRITE_OUT into [(http_version, status, body)]."""
    out = []
    parts = output.split("\n@@")
    body = parts[0]
    for part in parts[1:]:
        line, _, rest = part.partition("\n")
        version, status = line.split(" ")
        out.append((version, int(status), body))
        body = rest
    return out


def kinesis_call(port, operation, payload):
    """One Kinesis call over a fresh HTTP/2 connection: (http_version, status, body)."""
    args = ["--request", "POST", "--data-binary", json.dumps(payload),
            "--header", f"X-Amz-Target: Kinesis_20131202.{operation}",
            "--write-out", WRITE_OUT]
    for name, value in KINESIS_HEADERS.items():
        args += ["--header", f"{name}: {value}"]
    (result,) = transfers(curl(*args, f"http://127.0.0.1:{port}/"))
    return result


def test_health_answers_over_http2(server):
    ((version, status, body),) = transfers(
        curl("--write-out", WRITE_OUT, f"http://127.0.0.1:{server.port}/_sluice/health"))
    assert version == "2"
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_list_streams_over_http2_returns_json(server):
    version, status, body = kinesis_call(server.port, "CreateStream",
                                         {"StreamName": "h2-orders", "ShardCount": 1})
    assert (version, status, body) == ("2", 200, "")
    version, status, body = kinesis_call(server.port, "ListStreams", {})
    assert version == "2"
    assert status == 200
    assert json.loads(body)["StreamNames"] == ["h2-orders"]


def test_response_headers_are_lower_case_and_complete(server):
    args = ["--request", "POST", "--data-binary", "{}", "--dump-header", "-",
            "--header", "X-Amz-Target: Kinesis_20131202.ListStreams"]
    for name, value in KINESIS_HEADERS.items():
        args += ["--header", f"{name}: {value}"]
    out = curl(*args, f"http://127.0.0.1:{server.port}/")
    head, _, body = out.partition("\r\n\r\n")
    lines = head.split("\r\n")
    assert lines[0].startswith("HTTP/2 200")
    names = [line.split(":", 1)[0] for line in lines[1:]]
    assert all(name == name.lower() for name in names), names
    fields = dict(line.split(": ", 1) for line in lines[1:])
    assert fields["content-type"] == "application/x-amz-json-1.1"
    assert int(fields["content-length"]) == len(body.encode())
    assert "x-amzn-requestid" in fields


def test_parallel_transfers_from_one_curl(server, tmp_path):
    # --parallel-immediate: a connection per transfer. Debian 12's curl 7.88.1 fails when it
    # reuses a prior-knowledge connection ("Error in the HTTP2 framing layer", curl/curl#10634,
    # fixed in curl 8.0.0), so multiplexing on one connection is tested in tests/net instead.
    # Bodies go to files: in parallel mode curl interleaves what it writes to stdout.
    args = ["--parallel", "--parallel-immediate", "--parallel-max", "10",
            "--write-out", r"%{http_version} %{http_code}\n"]
    for i in range(10):
        args += [f"http://127.0.0.1:{server.port}/_sluice/health?n={i}",
                 "--output", str(tmp_path / f"body-{i}")]
    lines = curl(*args).splitlines()
    assert lines == ["2 200"] * 10
    for i in range(10):
        assert json.loads((tmp_path / f"body-{i}").read_text())["status"] == "ok"


def test_parallel_clients_each_on_a_fresh_connection(server):
    # What the JavaScript SDK v3 does: a new HTTP/2 connection for every request.
    assert kinesis_call(server.port, "CreateStream",
                        {"StreamName": "h2-parallel", "ShardCount": 2})[1] == 200
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(kinesis_call, server.port, "ListStreams", {}) for _ in range(16)]
        results = [f.result(timeout=CURL_TIMEOUT_S + 10) for f in futures]
    for version, status, body in results:
        assert (version, status) == ("2", 200)
        assert json.loads(body)["StreamNames"] == ["h2-parallel"]
    # HTTP/1.1 keeps working on the same port.
    assert server.health()["status"] == "ok"


def test_unknown_operation_over_http2_gets_the_json_error(server):
    version, status, body = kinesis_call(server.port, "NoSuchOperation", {})
    assert version == "2"
    assert status == 400
    assert json.loads(body)["__type"] == "UnknownOperationException"


def test_a_waiting_handler_does_not_hold_the_event_loop(server):
    # Synchronous Invokes over HTTP/2 wait for their function on the handler pool: with more of
    # them running than Sluice has event-loop threads, another HTTP/2 client is still answered
    # while they wait.
    lam = lambda_client(server)
    make_function(lam, "slow", "python3.12", "app.handler",
                  {"app.py": "import time\ndef handler(e, c):\n    time.sleep(6)\n    return 1\n"},
                  Timeout=30)
    invoke_args = ["--request", "POST", "--data-binary", "{}", "--write-out", WRITE_OUT]
    for name, value in KINESIS_HEADERS.items():
        invoke_args += ["--header", f"{name}: {value}"]
    url = f"http://127.0.0.1:{server.port}/2015-03-31/functions/slow/invocations"
    slow = [subprocess.Popen(["curl", "--silent", "--http2-prior-knowledge", "--max-time", "60",
                              *invoke_args, url], stdout=subprocess.PIPE)
            for _ in range(4)]
    try:
        # Each Invoke holds an environment for 6 s (plus its cold start); the health request
        # must come back while they all still wait.
        time.sleep(1.0)
        ((version, status, _),) = transfers(
            curl("--write-out", WRITE_OUT, f"http://127.0.0.1:{server.port}/_sluice/health"))
        assert (version, status) == ("2", 200)
        assert all(p.poll() is None for p in slow), "the slow invokes ended too early to tell"
        for p in slow:
            out, _ = p.communicate(timeout=90)
            ((version, status, body),) = transfers(out.decode())
            assert (version, status, body) == ("2", 200, "1")
    finally:
        for p in slow:
            if p.poll() is None:
                p.kill()
