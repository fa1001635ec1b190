"""Asynchronous invocations end to end (spec lambda-api.md 4.4 and 4.5, docs/async-invoke.md):
Invoke with InvocationType Event and the legacy InvokeAsync, through boto3 and the AWS CLI v1,
against the real binary with small retry delays. Handlers write what they saw to files in a
directory named by their environment, which is how the tests see that (and how often) they
ran."""

import json
import os
import signal
import subprocess
import textwrap
import time

import pytest
from botocore.exceptions import ClientError

from test_lambda_functions import AWS_CLI, CLI_TIMEOUT_S, client, error_of
from test_lambda_invoke import make_function

RETRY_FLAGS = ("--async-retry-delays-ms", "300,600")
WAIT_S = 20.0

APP = textwrap.dedent('''\
    import json
    import os
    import time

    def _append(name, line):
        with open(os.path.join(os.environ["OUT_DIR"], name), "a") as f:
            f.write(line + "\\n")

    def _lines(name):
        try:
            with open(os.path.join(os.environ["OUT_DIR"], name)) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def record(event, context):
        _append("record.log", json.dumps({"event": event, "id": context.aws_request_id}))
        return {"ok": True}

    def flaky(event, context):
        _append("flaky.log", json.dumps({"id": context.aws_request_id, "t": time.time()}))
        n = len(_lines("flaky.log"))
        if n < 3:
            raise RuntimeError("attempt %d fails" % n)
        return {"attempts": n}

    def broken(event, context):
        _append("broken.log", json.dumps({"id": context.aws_request_id, "t": time.time()}))
        raise ValueError("always")

    def slow_once(event, context):
        _append("slow.log", json.dumps({"id": context.aws_request_id}))
        if len(_lines("slow.log")) == 1:
            time.sleep(60)
        return {"ok": True}
    ''')


def lines(path):
    """The JSON lines handlers have finished writing (text after the last newline is a line
    still being written)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text[:text.rfind("\n") + 1].splitlines()]


def wait_for_lines(path, n, timeout=WAIT_S):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = lines(path)
        if len(got) >= n:
            return got
        time.sleep(0.05)
    pytest.fail(f"{path.name}: wanted {n} line(s) within {timeout}s, have {lines(path)}")


def make(lam, name, handler, out_dir, **extra):
    make_function(lam, name, "python3.12", "app." + handler, {"app.py": APP},
                  Environment={"Variables": {"OUT_DIR": str(out_dir)}}, **extra)


@pytest.fixture
def out_dir(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    return d


def cli(proc, *args):
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [str(AWS_CLI), "--endpoint-url", f"http://127.0.0.1:{proc.port}", "lambda", *args],
        env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def test_event_invoke_answers_202_and_runs_with_the_same_request_id(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "rec", "record", out_dir)
    started = time.monotonic()
    r = lam.invoke(FunctionName="rec", InvocationType="Event", Payload=b'{"n": 1}')
    assert r["StatusCode"] == 202
    assert r["Payload"].read() == b""
    assert "FunctionError" not in r
    rid = r["ResponseMetadata"]["RequestId"]
    got = wait_for_lines(out_dir / "record.log", 1)
    assert got == [{"event": {"n": 1}, "id": rid}]
    assert time.monotonic() - started < 10  # spec case 19 asks for about 1 s; cold start
    # An empty body is the event {} (spec 4.1).
    lam.invoke(FunctionName="rec", InvocationType="Event")
    got = wait_for_lines(out_dir / "record.log", 2)
    assert got[1]["event"] == {}


def test_aws_cli_event_invoke_and_legacy_invoke_async(launch, out_dir, tmp_path):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "rec", "record", out_dir)
    outfile = tmp_path / "out.json"
    done = cli(proc, "invoke", "--function-name", "rec", "--invocation-type", "Event",
               "--payload", '{"via": "cli"}', str(outfile))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["StatusCode"] == 202
    assert outfile.read_bytes() == b""

    args_file = tmp_path / "args.json"
    args_file.write_text('{"via": "invoke-async"}')
    done = cli(proc, "invoke-async", "--function-name", "rec", "--invoke-args",
               str(args_file))  # a streaming blob: a plain path
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"Status": 202}

    r = lam.invoke_async(FunctionName="rec", InvokeArgs=b'{"via": "boto3"}')
    assert r["Status"] == 202
    got = wait_for_lines(out_dir / "record.log", 3)
    assert sorted(g["event"]["via"] for g in got) == ["boto3", "cli", "invoke-async"]
    assert len({g["id"] for g in got}) == 3


def test_a_function_failing_twice_succeeds_on_the_third_attempt(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "flaky", "flaky", out_dir)
    r = lam.invoke(FunctionName="flaky", InvocationType="Event", Payload=b"{}")
    rid = r["ResponseMetadata"]["RequestId"]
    got = wait_for_lines(out_dir / "flaky.log", 3)
    assert [g["id"] for g in got] == [rid, rid, rid]  # one request id for every attempt
    # The configured delays (300 ms, then 600 ms) separate the attempts.
    assert got[1]["t"] - got[0]["t"] >= 0.25
    assert got[2]["t"] - got[1]["t"] >= 0.55
    time.sleep(1.5)
    assert len(lines(out_dir / "flaky.log")) == 3  # succeeded: not run again
    assert "async invocation dropped" not in proc.stderr_text()


def test_a_function_that_always_fails_runs_exactly_three_times(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "broken", "broken", out_dir)
    r = lam.invoke(FunctionName="broken", InvocationType="Event", Payload=b"{}")
    rid = r["ResponseMetadata"]["RequestId"]
    got = wait_for_lines(out_dir / "broken.log", 3)
    assert [g["id"] for g in got] == [rid, rid, rid]
    deadline = time.monotonic() + WAIT_S
    while "async invocation dropped" not in proc.stderr_text() and time.monotonic() < deadline:
        time.sleep(0.05)
    dropped = [line for line in proc.stderr_lines() if "async invocation dropped" in line]
    assert len(dropped) == 1, proc.stderr_text()
    assert f"request_id={rid}" in dropped[0]
    assert "function=arn:aws:lambda:us-east-1:000000000000:function:broken" in dropped[0]
    assert "warn" in dropped[0].lower()
    time.sleep(2.0)  # longer than every retry delay: nothing more comes
    assert len(lines(out_dir / "broken.log")) == 3


def test_an_accepted_event_survives_kill_9(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "held", "record", out_dir)
    # Reserved concurrency 0: the event is accepted, then waits (spec 4.6) without running.
    lam.put_function_concurrency(FunctionName="held", ReservedConcurrentExecutions=0)
    r = lam.invoke(FunctionName="held", InvocationType="Event", Payload=b'{"keep": "me"}')
    assert r["StatusCode"] == 202
    rid = r["ResponseMetadata"]["RequestId"]
    time.sleep(1.0)
    assert lines(out_dir / "record.log") == []
    proc.signal(signal.SIGKILL)
    proc.wait_exit()

    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    time.sleep(1.0)  # still throttled after the restart, still waiting
    assert lines(out_dir / "record.log") == []
    lam.delete_function_concurrency(FunctionName="held")
    got = wait_for_lines(out_dir / "record.log", 1)
    assert got == [{"event": {"keep": "me"}, "id": rid}]
    time.sleep(1.0)
    assert len(lines(out_dir / "record.log")) == 1


def test_an_attempt_cut_short_by_shutdown_runs_again_after_restart(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "slow", "slow_once", out_dir, Timeout=120)
    r = lam.invoke(FunctionName="slow", InvocationType="Event", Payload=b"{}")
    rid = r["ResponseMetadata"]["RequestId"]
    wait_for_lines(out_dir / "slow.log", 1)  # the first attempt is running (sleeping)
    proc.signal(signal.SIGTERM)
    assert proc.wait_exit() == 0

    launch(*RETRY_FLAGS)
    got = wait_for_lines(out_dir / "slow.log", 2)
    assert [g["id"] for g in got] == [rid, rid]  # at least once, with the same request id


def test_event_invoke_limits_and_errors(launch, out_dir):
    proc = launch(*RETRY_FLAGS)
    lam = client(proc)
    make(lam, "rec", "record", out_dir)
    big = b'{"s": "' + b"x" * 262_200 + b'"}'
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="rec", InvocationType="Event", Payload=big)
    code, message, status = error_of(e)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert message == (f"{len(big)} byte payload is too large for the Event invocation type "
                       "(limit 262144 bytes)")
    # The same payload is fine synchronously (6 MB limit).
    r = lam.invoke(FunctionName="rec", Payload=big)
    assert r["StatusCode"] == 200 and "FunctionError" not in r

    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="rec", InvocationType="Event", Payload=b"{nope")
    assert error_of(e)[:1] == ("InvalidRequestContentException",)
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="missing", InvocationType="Event", Payload=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        lam.invoke_async(FunctionName="missing", InvokeArgs=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException"
    # Only the synchronous invoke ran.
    time.sleep(0.5)
    assert len(lines(out_dir / "record.log")) == 1


def test_async_flags_are_validated(run_sluice, tmp_path):
    for bad in (["--async-retry-delays-ms", "1,x"], ["--async-retry-delays-ms", ""],
                ["--async-max-event-age-s", "0"], ["--async-max-retries", "3"]):
        done = run_sluice("serve", "--port", "0", "--data-dir", tmp_path / "d", *bad)
        assert done.returncode == 2, (bad, done.stderr)
        assert b"async" in done.stderr, done.stderr
