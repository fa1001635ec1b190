"""Invoke end to end (spec lambda-api.md section 4): real functions run as child processes
through Sluice's runtime clients, invoked with boto3 and the AWS CLI v1 against the binary."""

import base64
import concurrent.futures
import io
import json
import os
import pathlib
import re
import shutil
import signal
import subprocess
import tempfile
import textwrap
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import SluiceProcess
from test_lambda_functions import AWS_CLI, CLI_TIMEOUT_S, ROLE, client, error_of

# The seed's handler (shared/seed/kinesis-lambda-batching.txt), unchanged.
SEED_HANDLER = textwrap.dedent('''\
    import base64
    import json

    def lambda_handler(event, context):
        processed_records = []
        for record in event['Records']:
            payload = base64.b64decode(record['data']).decode('utf-8')
            data = json.loads(payload)

            # --- Your processing logic here ---
            print(f"Processing record: {data}")
            processed_data = {
                "temperature": data.get("temperature", 0) * 1.8 + 32, # Convert C to F
                "humidity": data.get("humidity", 0)
            }
            processed_records.append(processed_data)
            # ---------------------------------

        print(f"Successfully processed {len(processed_records)} records.")
        return {
            'statusCode': 200,
            'body': json.dumps('Batch processed successfully!')
        }
    ''')

# The seed's (simplified) example event, comments removed so that it is JSON.
SEED_EVENT = {"Records": [
    {"kinesisSchemaVersion": "1.0", "partitionKey": "shardId-000000000000",
     "sequenceNumber": "49590338271490256608566034412747477696011298004109859329",
     "data": "eyAidGVtcGVyYXR1cmUiOiA3MCwgImh1bWlkaXR5IjogNTB9",
     "approximateArrivalTimestamp": 1545084650.987},
    {"kinesisSchemaVersion": "1.0", "partitionKey": "shardId-000000000000",
     "sequenceNumber": "49590338271490256608566034412747477696011298004109859330",
     "data": "eyAidGVtcGVyYXR1cmUiOiA3MiwgImh1bWlkaXR5IjogNTF9",
     "approximateArrivalTimestamp": 1545084651.123},
]}

PYTHON_APP = textwrap.dedent('''\
    import os
    import time

    calls = 0

    def handler(event, context):
        global calls
        calls += 1
        if event.get("fail"):
            raise ValueError("asked to fail: " + str(event["fail"]))
        if event.get("sleep"):
            time.sleep(event["sleep"])
        print("handling", context.aws_request_id)
        return {"echo": event, "calls": calls, "pid": os.getpid(),
                "request_id": context.aws_request_id,
                "leaked": os.environ.get("SLUICE_TEST_SECRET")}
    ''')

NODE_APP = textwrap.dedent('''\
    exports.handler = async (event, context) => {
      if (event.fail) throw new TypeError("node failed: " + event.fail);
      return { node: true, sum: (event.a || 0) + (event.b || 0), id: context.awsRequestId };
    };
    ''')


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def make_function(lam, name, runtime, handler, files, **extra):
    lam.create_function(FunctionName=name, Runtime=runtime, Handler=handler, Role=ROLE,
                        Code={"ZipFile": zip_of(files)}, **extra)


def error_type_header(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-errortype", "")


def invoke(lam, name, event, **extra):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return r, json.loads(r["Payload"].read() or b"null")


@pytest.fixture
def lam(launch, monkeypatch):
    # Nothing of the server's environment may reach a function.
    monkeypatch.setenv("SLUICE_TEST_SECRET", "must-not-leak")
    return client(launch())


def test_python_function_result_warm_reuse_and_request_ids(lam):
    make_function(lam, "py", "python3.12", "app.handler", {"app.py": PYTHON_APP})
    r1, out1 = invoke(lam, "py", {"n": 1})
    assert r1["StatusCode"] == 200
    assert "FunctionError" not in r1
    assert r1["ExecutedVersion"] == "$LATEST"
    assert out1["echo"] == {"n": 1}
    assert out1["leaked"] is None
    # The function sees the request id the caller gets back.
    assert out1["request_id"] == r1["ResponseMetadata"]["RequestId"]
    r2, out2 = invoke(lam, "py", {"n": 2})
    assert (out2["calls"], out2["pid"]) == (2, out1["pid"])  # the same warm environment
    assert out2["request_id"] != out1["request_id"]


def test_function_error_is_reported_the_aws_way(lam):
    make_function(lam, "bad", "python3.12", "app.handler", {"app.py": PYTHON_APP})
    r, out = invoke(lam, "bad", {"fail": "x"})
    assert r["StatusCode"] == 200
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "asked to fail: x"
    assert out["requestId"] == r["ResponseMetadata"]["RequestId"]
    assert isinstance(out["stackTrace"], list) and out["stackTrace"]


def test_timeout_gives_sandbox_timedout_and_a_fresh_environment(lam):
    make_function(lam, "slow", "python3.12", "app.handler", {"app.py": PYTHON_APP}, Timeout=1)
    r, out = invoke(lam, "slow", {"sleep": 5}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    rid = r["ResponseMetadata"]["RequestId"]
    assert out == {"errorType": "Sandbox.Timedout",
                   "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    # Spec test 24's log line, as Lambda writes it: "<timestamp> <id> Task timed out ...".
    assert re.search(rf"^\S+ {rid} Task timed out after 1\.00 seconds$",
                     base64.b64decode(r["LogResult"]).decode(), re.M)
    r2, out2 = invoke(lam, "slow", {"n": 3})
    assert "FunctionError" not in r2
    assert out2["calls"] == 1  # the timed-out environment was replaced


def test_log_tail_dry_run_and_bad_payloads(lam):
    make_function(lam, "logs", "python3.12", "app.handler", {"app.py": PYTHON_APP})
    r, out = invoke(lam, "logs", {"n": 1}, LogType="Tail")
    tail = base64.b64decode(r["LogResult"]).decode()
    assert f"handling {out['request_id']}" in tail
    assert f"START RequestId: {out['request_id']}" in tail
    assert f"REPORT RequestId: {out['request_id']}" in tail

    dry = lam.invoke(FunctionName="logs", InvocationType="DryRun", Payload=b"{}")
    assert dry["StatusCode"] == 204

    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="logs", Payload=b"{not json")
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidRequestContentException", 400)
    assert error_type_header(e) == "InvalidRequestContentException"  # spec test 14
    assert message.startswith("Could not parse request body into json: Could not parse payload "
                              "into json: ")
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="logs", Payload=b"[" + b"1," * 3_200_000 + b"1]")
    code, message, status = error_of(e)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert error_type_header(e) == "RequestEntityTooLargeException"
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="nope", Payload=b"{}")
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_reserved_concurrency_zero_throttles(lam):
    make_function(lam, "held", "python3.12", "app.handler", {"app.py": PYTHON_APP})
    lam.put_function_concurrency(FunctionName="held", ReservedConcurrentExecutions=0)
    with pytest.raises(ClientError) as e:
        invoke(lam, "held", {})
    code, message, status = error_of(e)
    assert (code, status, message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
    assert error_type_header(e) == "TooManyRequestsException"
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_node_function(lam):
    make_function(lam, "js", "nodejs20.x", "index.handler", {"index.js": NODE_APP})
    r, out = invoke(lam, "js", {"a": 2, "b": 3})
    assert "FunctionError" not in r
    assert out["node"] is True and out["sum"] == 5
    r, out = invoke(lam, "js", {"fail": "boom"})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError"
    assert out["errorMessage"] == "node failed: boom"


def test_the_seed_handler_runs_unchanged(lam):
    make_function(lam, "seed", "python3.12", "app.lambda_handler", {"app.py": SEED_HANDLER})
    r, out = invoke(lam, "seed", SEED_EVENT, LogType="Tail")
    assert "FunctionError" not in r
    assert out == {"statusCode": 200, "body": json.dumps("Batch processed successfully!")}
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "Processing record: {'temperature': 70, 'humidity': 50}" in tail
    assert "Successfully processed 2 records." in tail
    # With the real Kinesis event shape the data sits under record['kinesis']['data']: the
    # seed handler raises KeyError, reported exactly as Lambda reports it.
    real = {"Records": [{"kinesis": {"data": SEED_EVENT["Records"][0]["data"]},
                         "eventSource": "aws:kinesis"}]}
    r, out = invoke(lam, "seed", real)
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "KeyError"
    assert out["errorMessage"] == "'data'"
    assert out["requestId"] == r["ResponseMetadata"]["RequestId"]


def cli_invoke(proc, name, payload, out, *cli_options, **env_extra):
    """`aws lambda invoke` (CLI v1) of `name` with `payload` (None: none), the result written
    to `out`; `cli_options` go before the command, `env_extra` into its environment."""
    env = {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "PATH": "/usr/bin:/bin", **env_extra}
    payload_args = [] if payload is None else ["--payload", payload]
    return subprocess.run(
        [str(AWS_CLI), "--endpoint-url", f"http://127.0.0.1:{proc.port}", *cli_options,
         "lambda", "invoke", "--function-name", name, *payload_args, str(out)],
        env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def test_aws_cli_invoke_writes_the_result_or_the_function_error_to_the_outfile(launch, tmp_path):
    proc = launch()
    make_function(client(proc), "cli", "python3.12", "app.handler", {"app.py": PYTHON_APP})
    out = tmp_path / "out.json"
    done = cli_invoke(proc, "cli", '{"via": "cli"}', out)
    assert done.returncode == 0, done.stderr
    meta = json.loads(done.stdout)
    assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST"
    assert json.loads(out.read_text())["echo"] == {"via": "cli"}
    # Spec test 23, the CLI's half: a function error is the function's, not the call's.
    failed = cli_invoke(proc, "cli", '{"fail": "bad"}', out)
    assert failed.returncode == 0, failed.stderr
    assert json.loads(failed.stdout)["FunctionError"] == "Unhandled"
    body = json.loads(out.read_text())
    assert (body["errorType"], body["errorMessage"]) == ("ValueError", "asked to fail: bad")


def test_result_content_type_and_tenant_reach_their_ends(lam):
    # A Python handler returning bytes is posted as application/unknown (spec 4.3: the Invoke
    # response carries the runtime's type); X-Amz-Tenant-Id reaches context.tenant_id.
    app = textwrap.dedent('''\
        def handler(event, context):
            if event.get("raw"):
                return b"raw bytes"
            return {"tenant": context.tenant_id}
        ''')
    make_function(lam, "ctype", "python3.12", "app.handler", {"app.py": app})
    r = lam.invoke(FunctionName="ctype", Payload=b'{"raw": true}')
    assert r["Payload"].read() == b"raw bytes"
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/unknown"
    r, out = invoke(lam, "ctype", {}, TenantId="tenant-7")
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert out == {"tenant": "tenant-7"}
    r, out = invoke(lam, "ctype", {})
    assert out == {"tenant": None}


def test_handlers_get_the_servers_url_as_aws_endpoint_url(lam):
    # Spec 5.2: AWS_ENDPOINT_URL is Sluice's own endpoint, so that SDK calls a handler makes
    # come back to Sluice; a function may set its own. The handler calls the Kinesis API there.
    app = textwrap.dedent('''\
        import json, os, urllib.request

        def handler(event, context):
            url = os.environ.get("AWS_ENDPOINT_URL")
            if event.get("call"):
                # What an SDK would send, signed with the function's own credentials.
                cred = "{}/20260101/{}/kinesis/aws4_request".format(
                    os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_REGION"])
                req = urllib.request.Request(url + "/", data=b"{}", headers={
                    "X-Amz-Target": "Kinesis_20131202.ListStreams",
                    "Content-Type": "application/x-amz-json-1.1",
                    "X-Amz-Date": "20260101T000000Z",
                    "Authorization": "AWS4-HMAC-SHA256 Credential=" + cred +
                                     ", SignedHeaders=host;x-amz-date, Signature=00"})
                with urllib.request.urlopen(req, timeout=5) as r:
                    return {"url": url, "streams": json.loads(r.read())["StreamNames"]}
            return {"url": url}
        ''')
    make_function(lam, "endpoint", "python3.12", "app.handler", {"app.py": app})
    endpoint = lam.meta.endpoint_url.rstrip("/")
    _, out = invoke(lam, "endpoint", {"call": True})
    assert out == {"url": endpoint, "streams": []}
    make_function(lam, "own-endpoint", "python3.12", "app.handler", {"app.py": app},
                  Environment={"Variables": {"AWS_ENDPOINT_URL": "http://example.invalid"}})
    _, out = invoke(lam, "own-endpoint", {})
    assert out == {"url": "http://example.invalid"}


def test_parallel_invokes_use_several_environments(lam):
    # Spec case 28: five synchronous invokes of a 1 s handler at once run side by side, in
    # more than one environment (each has its own log stream name).
    app = textwrap.dedent('''\
        import time

        def handler(event, context):
            time.sleep(1)
            return {"stream": context.log_stream_name}
        ''')
    make_function(lam, "parallel", "python3.12", "app.handler", {"app.py": app})
    invoke(lam, "parallel", {})  # one warm environment to start with
    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(5) as pool:
        results = list(pool.map(lambda _: invoke(lam, "parallel", {}), range(5)))
    took = time.monotonic() - started
    assert all("FunctionError" not in r for r, _ in results)
    streams = {out["stream"] for _, out in results}
    assert len(streams) >= 2, streams
    assert took < 3, took  # side by side: one after the other would take 5 s


WRITER_APP = textwrap.dedent('''\
    import os

    def handler(event, context):
        out = {}
        for name, directory in (("code", os.environ["LAMBDA_TASK_ROOT"]),
                                ("scratch", os.environ["TMPDIR"])):
            try:
                with open(os.path.join(directory, "written.txt"), "w") as f:
                    f.write("x")
                out[name] = "written"
            except OSError as e:
                out[name] = type(e).__name__
        return out
    ''')


def test_the_code_directory_is_read_only(sluice_bin, tmp_path):
    # Issue 4, security: the function may write to its scratch space, not to its code. Sluice
    # strips every write bit from the extracted code. Permission bits do not bind root, so
    # when the tests run as root the server runs as nobody here (setpriv), as it should in use.
    data = pathlib.Path(tempfile.mkdtemp(prefix="sluice-ro-"))
    os.chmod(data, 0o777)
    prefix = []
    if os.geteuid() == 0:
        # A copy nobody can reach: the checkout may sit below a directory only root enters.
        copy = data / "sluice"
        shutil.copy2(sluice_bin, copy)
        os.chmod(copy, 0o755)
        prefix = ["--reuid=65534", "--regid=65534", "--clear-groups", str(copy)]
    binary = shutil.which("setpriv") if prefix else sluice_bin
    assert binary, "setpriv (util-linux) is needed to run the server unprivileged"
    proc = SluiceProcess(binary, [*prefix, "serve", "--port", "0", "--data-dir", data / "d"],
                         tmp_path / "ro.stderr")
    try:
        proc.wait_ready()
        lam = client(proc)
        make_function(lam, "writer", "python3.12", "app.handler", {"app.py": WRITER_APP})
        _, out = invoke(lam, "writer", {})
        assert out == {"code": "PermissionError", "scratch": "written"}
        (task,) = (data / "d" / "functions").glob("*/*/writer/*/task")
        for path in [task, *task.rglob("*")]:
            assert path.stat().st_mode & 0o222 == 0, path
        # Deleting the function removes its read-only code.
        lam.delete_function(FunctionName="writer")
        assert not task.exists()
    finally:
        proc.signal(signal.SIGTERM)
        assert proc.wait_exit() == 0, proc.stderr_text()
        proc.kill()
        shutil.rmtree(data, ignore_errors=True)


def hot_app(version):
    return PYTHON_APP.replace('return {"echo": event,', f'return {{"version": {version}, "echo": event,')


def test_hot_reload_runs_the_directory_and_restarts_after_a_change(launch, tmp_path):
    # Spec 2.9, docs/wire/lambda.md: with --lambda-hot-reload, Code.S3Bucket "hot-reload" runs
    # the function from S3Key; an unchanged directory keeps its warm environment, and every
    # invocation after a change gets a fresh one that reads the new files.
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(hot_app(1))
    lam = client(launch("--lambda-hot-reload"))
    lam.create_function(FunctionName="hot", Runtime="python3.12", Handler="app.handler",
                        Role=ROLE, Code={"S3Bucket": "hot-reload", "S3Key": str(code)})
    assert lam.get_function_configuration(FunctionName="hot")["CodeSha256"] == "sluice-hot-reload"
    _, first = invoke(lam, "hot", {"n": 1})
    _, warm = invoke(lam, "hot", {"n": 2})
    assert (first["version"], warm["version"]) == (1, 1)
    assert (warm["pid"], warm["calls"]) == (first["pid"], 2)

    (code / "app.py").write_text(hot_app(2))
    _, changed = invoke(lam, "hot", {"n": 3})
    assert changed["version"] == 2
    assert (changed["calls"], changed["echo"]) == (1, {"n": 3})
    assert changed["pid"] != first["pid"]

    (code / "helper.py").write_text("X = 1\n")  # a new file is a change too
    _, added = invoke(lam, "hot", {"n": 4})
    assert added["version"] == 2 and added["calls"] == 1 and added["pid"] != changed["pid"]
    _, again = invoke(lam, "hot", {"n": 5})
    assert (again["pid"], again["calls"]) == (added["pid"], 2)
    # The runtime's bytecode cache went to the environment's scratch space, not here.
    assert sorted(p.name for p in code.iterdir()) == ["app.py", "helper.py"]


def test_hot_reload_bucket_without_the_flag_is_an_ordinary_missing_bucket(lam, tmp_path):
    with pytest.raises(ClientError) as e:
        lam.create_function(FunctionName="cold", Runtime="python3.12", Handler="app.handler",
                            Role=ROLE, Code={"S3Bucket": "hot-reload", "S3Key": str(tmp_path)})
    code, message, status = error_of(e)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert message == ("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                       "S3 Error Message: The specified bucket does not exist")


STATE_APP = textwrap.dedent('''\
    import os
    import tempfile

    calls = 0

    def handler(event, context):
        global calls
        calls += 1
        scratch = os.path.join(tempfile.gettempdir(), "note.txt")
        before = open(scratch).read() if os.path.exists(scratch) else None
        with open(scratch, "w") as f:
            f.write(f"written by call {calls}")
        return {"event": event, "calls": calls, "pid": os.getpid(), "scratch_before": before,
                "A": os.environ.get("A"), "B": os.environ.get("B"),
                "log_stream": os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")}
    ''')


def function_log(tmp_path, name):
    path = tmp_path / "data" / "runtime" / "logs" / "us-east-1" / "000000000000" / f"{name}.log"
    return path.read_text() if path.exists() else ""


def test_empty_payload_dry_run_and_bad_payload(lam, tmp_path):
    # Spec tests 17, 18 and 20: neither a DryRun nor an unparsable payload starts the function;
    # an Invoke without a payload hands the handler {}.
    make_function(lam, "quiet", "python3.12", "app.handler", {"app.py": STATE_APP})
    assert lam.invoke(FunctionName="quiet", InvocationType="DryRun")["StatusCode"] == 204
    with pytest.raises(ClientError) as e:
        lam.invoke(FunctionName="quiet", Payload=b"not json")
    assert error_of(e)[0] == "InvalidRequestContentException"
    assert "START RequestId" not in function_log(tmp_path, "quiet")
    r = lam.invoke(FunctionName="quiet")
    out = json.loads(r["Payload"].read())
    assert (out["event"], out["calls"]) == ({}, 1)
    assert function_log(tmp_path, "quiet").count("START RequestId") == 1


def test_module_state_and_scratch_files_survive_warm_invocations(lam):
    # Spec test 27.
    make_function(lam, "state", "python3.12", "app.handler", {"app.py": STATE_APP})
    outs = [invoke(lam, "state", {"n": n})[1] for n in range(3)]
    assert [o["calls"] for o in outs] == [1, 2, 3]
    assert len({o["pid"] for o in outs}) == 1
    assert [o["scratch_before"] for o in outs] == [None, "written by call 1",
                                                    "written by call 2"]


def test_configuration_update_replaces_the_variables_and_the_environment(lam):
    # Spec test 11.
    make_function(lam, "conf", "python3.12", "app.handler", {"app.py": STATE_APP},
                  Environment={"Variables": {"A": "1"}})
    _, before = invoke(lam, "conf", {})
    assert (before["A"], before["B"]) == ("1", None)
    lam.update_function_configuration(FunctionName="conf", Timeout=9,
                                      Environment={"Variables": {"B": "2"}})
    lam.get_waiter("function_updated_v2").wait(FunctionName="conf",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    _, after = invoke(lam, "conf", {})
    assert (after["A"], after["B"]) == (None, "2")
    assert after["calls"] == 1 and after["pid"] != before["pid"]
    assert after["log_stream"] != before["log_stream"]


def test_log_tail_is_the_last_4096_bytes_of_a_long_log(lam):
    # Spec test 21: 100 KB of output; the tail ends with the invocation's END and REPORT lines.
    app = textwrap.dedent('''\
        def handler(event, context):
            for i in range(1000):
                print(f"line {i:04d} " + "x" * 90)
            return "done"
        ''')
    make_function(lam, "chatty", "python3.12", "app.handler", {"app.py": app})
    r, _ = invoke(lam, "chatty", {}, LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    tail = base64.b64decode(r["LogResult"])
    assert 3500 < len(tail) <= 4096
    text = tail.decode()
    assert "line 0999 " in text and "line 0000 " not in text
    assert f"END RequestId: {rid}" in text and f"REPORT RequestId: {rid}" in text


@pytest.mark.parametrize("length, too_large", [(6291554, False), (6291555, True)])
def test_response_size_limit_is_6291556_bytes(lam, length, too_large):
    # Spec test 41 at the boundary: a JSON string of `length` characters is length + 2 bytes.
    app = textwrap.dedent('''\
        def handler(event, context):
            return "x" * event["length"]
        ''')
    make_function(lam, "big", "python3.12", "app.handler", {"app.py": app})
    r, out = invoke(lam, "big", {"length": length})
    if too_large:
        assert r["FunctionError"] == "Unhandled"
        assert out == {"errorMessage": "Response payload size exceeded maximum allowed payload "
                                       "size (6291556 bytes).",
                       "errorType": "Function.ResponseSizeTooLarge"}
    else:
        assert "FunctionError" not in r and len(out) == length


def test_python_process_gets_every_lambda_variable(launch):
    # Spec test 47 against the table of spec 5.2.
    proc = launch()
    lam = client(proc)
    app = textwrap.dedent('''\
        import os

        def handler(event, context):
            return {"env": dict(os.environ), "cwd": os.getcwd()}
        ''')
    make_function(lam, "envs", "python3.12", "app.handler", {"app.py": app})
    _, out = invoke(lam, "envs", {})
    env, root = out["env"], out["cwd"]
    expected = {
        "_HANDLER": "app.handler",
        "LAMBDA_TASK_ROOT": root,
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": "envs",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/envs",
        "AWS_ACCESS_KEY_ID": "000000000000",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
        "LD_LIBRARY_PATH": f"{root}:{root}/lib",
        "AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR",
        "AWS_ENDPOINT_URL": f"http://127.0.0.1:{proc.port}",
    }
    assert {k: env.get(k) for k in expected} == expected
    assert re.fullmatch(r"127\.0\.0\.1:\d+", env["AWS_LAMBDA_RUNTIME_API"])
    assert re.fullmatch(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}",
                        env["AWS_LAMBDA_LOG_STREAM_NAME"])
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=[01].*",
                        env["_X_AMZN_TRACE_ID"])
    for name in ("LAMBDA_RUNTIME_DIR", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "PATH",
                 "TMPDIR"):
        assert env.get(name), name
    for name in ("PYTHONPATH", "AWS_ACCESS_KEY", "AWS_LAMBDA_EXEC_WRAPPER"):
        assert name not in env, name


def test_client_context_reaches_python_and_node_handlers(lam):
    # Spec test 31, through the Invoke API and Sluice's own runtime clients.
    python_app = textwrap.dedent('''\
        def handler(event, context):
            return context.client_context.custom
        ''')
    node_app = "exports.handler = async (e, c) => c.clientContext.custom;\n"
    make_function(lam, "ccpy", "python3.12", "app.handler", {"app.py": python_app})
    make_function(lam, "ccjs", "nodejs20.x", "index.handler", {"index.js": node_app})
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    for name in ("ccpy", "ccjs"):
        r, out = invoke(lam, name, {}, ClientContext=context)
        assert "FunctionError" not in r, out
        assert out == {"k": "v"}, name


def test_cli_retries_of_a_read_timed_out_invoke_run_the_function_again(launch, tmp_path):
    # Spec test 66: a client that stops waiting before the function answers sends the Invoke
    # again (same amz-sdk-invocation-id, next attempt), and the function runs each time;
    # docs/wire/lambda.md tells users about --cli-read-timeout for that reason.
    proc = launch("--log-level", "debug")
    app = textwrap.dedent('''\
        import time

        def handler(event, context):
            print("slow call", context.aws_request_id)
            time.sleep(2)
            return "late"
        ''')
    make_function(client(proc), "slowcli", "python3.12", "app.handler", {"app.py": app},
                  Timeout=10)
    done = cli_invoke(proc, "slowcli", None, tmp_path / "out.json", "--cli-read-timeout", "1",
                      AWS_MAX_ATTEMPTS="2")
    assert done.returncode != 0 and "Read timeout" in done.stderr, done.stderr
    attempts = re.findall(r"POST /2015-03-31/functions/slowcli/invocations "
                          r"sdk-invocation=(\S+) sdk-request=\"attempt=(\d+)", proc.stderr_text())
    assert len(attempts) == 2, attempts
    assert attempts[0][0] == attempts[1][0]
    assert [n for _, n in attempts] == ["1", "2"]
    deadline = time.monotonic() + 10  # the second run is still sleeping when the CLI gives up
    while function_log(tmp_path, "slowcli").count("END RequestId") < 2:
        assert time.monotonic() < deadline, function_log(tmp_path, "slowcli")
        time.sleep(0.05)
    assert function_log(tmp_path, "slowcli").count("slow call") == 2


def test_a_handler_using_boto3_reaches_this_server_without_an_endpoint(lam):
    # Spec test 57: boto3 (>= 1.28 reads AWS_ENDPOINT_URL) with no endpoint and no
    # credentials of its own lists this server's functions. The test venv's boto3 is put on
    # the function's PYTHONPATH, a variable a function may set.
    import boto3
    site_packages = str(pathlib.Path(boto3.__file__).parent.parent)
    app = textwrap.dedent('''\
        import boto3

        def handler(event, context):
            names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
            return {"boto3": boto3.__version__, "names": names}
        ''')
    make_function(lam, "sdk", "python3.12", "app.handler", {"app.py": app}, Timeout=30,
                  Environment={"Variables": {"PYTHONPATH": site_packages}})
    r, out = invoke(lam, "sdk", {})
    assert "FunctionError" not in r, out
    assert out == {"boto3": boto3.__version__, "names": ["sdk"]}


@pytest.mark.parametrize("how, reason", [
    ("exit", "Runtime exited with error: exit status 3"),     # spec test 25
    ("kill", "Runtime exited with error: signal: killed"),   # spec test 26
])
def test_a_python_handler_that_ends_its_process(lam, how, reason):
    app = textwrap.dedent('''\
        import os
        import signal

        def handler(event, context):
            if event.get("how") == "exit":
                os._exit(3)
            if event.get("how") == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            return {"pid": os.getpid()}
        ''')
    make_function(lam, "ender", "python3.12", "app.handler", {"app.py": app})
    _, before = invoke(lam, "ender", {})
    r, out = invoke(lam, "ender", {"how": how})
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorType": "Runtime.ExitError", "errorMessage": f"RequestId: {rid} Error: {reason}"}
    r2, after = invoke(lam, "ender", {})
    assert "FunctionError" not in r2 and after["pid"] != before["pid"]


PY_MOD = "def h(event, context):\n    return {'from': __name__}\n"
CJS = "exports.handler = async () => ({kind: 'cjs'});\n"
ESM = "export const handler = async () => ({kind: 'esm'});\n"
NESTED = "exports.nested = {fn: async () => ({kind: 'nested'})};\n"
CALLBACK = "exports.handler = (e, c, cb) => { cb(null, {cb: true}); };\n"


@pytest.mark.parametrize("runtime, handler, files, expected", [
    # Spec test 42: a path or a dotted module name.
    ("python3.12", "pkg/mod.h", {"pkg/__init__.py": "", "pkg/mod.py": PY_MOD}, {"from": "pkg.mod"}),
    ("python3.12", "pkg.mod.h", {"pkg/__init__.py": "", "pkg/mod.py": PY_MOD}, {"from": "pkg.mod"}),
    # Spec test 48: CommonJS, ESM by extension and by package.json, a nested property path.
    ("nodejs20.x", "index.handler", {"index.js": CJS}, {"kind": "cjs"}),
    ("nodejs20.x", "index.handler", {"index.mjs": ESM}, {"kind": "esm"}),
    ("nodejs20.x", "index.handler", {"index.js": ESM, "package.json": '{"type":"module"}'},
     {"kind": "esm"}),
    ("nodejs20.x", "sub/dir/file.nested.fn", {"sub/dir/file.js": NESTED}, {"kind": "nested"}),
    # Spec test 50: a callback handler.
    ("nodejs20.x", "index.handler", {"index.js": CALLBACK}, {"cb": True}),
], ids=["py-path", "py-dotted", "node-cjs", "node-mjs", "node-type-module", "node-nested",
        "node-callback"])
def test_handler_forms_resolve(lam, runtime, handler, files, expected):
    make_function(lam, "form", runtime, handler, files)
    r, out = invoke(lam, "form", {})
    assert "FunctionError" not in r, out
    assert out == expected


@pytest.mark.parametrize("runtime, handler, files, error_type, message", [
    # Spec tests 43, 44 and 49.
    ("python3.12", "nosuch.handler", {"app.py": PY_MOD}, "Runtime.ImportModuleError",
     "Unable to import module 'nosuch': No module named 'nosuch'"),
    ("python3.12", "app.missing", {"app.py": PY_MOD}, "Runtime.HandlerNotFound",
     "Handler 'missing' missing on module 'app'"),
    ("python3.12", "app", {"app.py": PY_MOD}, "Runtime.MalformedHandlerName", None),
    ("python3.12", "sys.handler", {"app.py": PY_MOD}, "Runtime.BuiltInModuleConflict",
     "Cannot use built-in module sys as a handler module"),
    ("nodejs20.x", "index.nothere", {"index.js": CJS}, "Runtime.HandlerNotFound",
     "index.nothere is undefined or not exported"),
    ("nodejs20.x", "../x.h", {"index.js": CJS}, "Runtime.MalformedHandlerName", None),
], ids=["py-import", "py-missing", "py-malformed", "py-builtin", "node-missing",
        "node-malformed"])
def test_handler_errors_are_reported_the_aws_way(lam, runtime, handler, files, error_type,
                                                 message):
    make_function(lam, "broken", runtime, handler, files)
    r, out = invoke(lam, "broken", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == error_type, out
    if message is not None:
        assert out["errorMessage"] == message
