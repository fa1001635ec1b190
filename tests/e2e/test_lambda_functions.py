"""Lambda function control plane end to end (spec lambda-api.md sections 1-2 and the control
plane cases of section 11), with boto3 and the AWS CLI v1 from build/venv.

Retries are off for boto3 (so that a 5xx would show), every call has a deadline."""

import base64
import concurrent.futures
import hashlib
import http.client
import io
import json
import os
import pathlib
import signal
import subprocess
import sys
import urllib.request
import zipfile

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/r"
CLI_TIMEOUT_S = 60
AWS_CLI = pathlib.Path(sys.executable).parent / "aws"


def make_zip(source="def handler(e, c):\n    return {'ok': True, 'e': e}\n"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("app.py", source)
        info = zipfile.ZipInfo("bootstrap")
        info.external_attr = 0o100755 << 16
        z.writestr(info, "#!/bin/sh\necho hi\n")
    return buf.getvalue()


def sha256_b64(data):
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def client(proc, region="us-east-1"):
    return boto3.client(
        "lambda",
        endpoint_url=f"http://127.0.0.1:{proc.port}",
        region_name=region,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(connect_timeout=5, read_timeout=20,
                      retries={"max_attempts": 1, "mode": "standard"}),
    )


def create(lam, name, zip_bytes=None, **extra):
    return lam.create_function(FunctionName=name, Runtime="python3.12", Handler="app.handler",
                               Role=ROLE, Code={"ZipFile": zip_bytes or make_zip()}, **extra)


def error_of(excinfo):
    e = excinfo.value.response
    return e["Error"]["Code"], e["Error"]["Message"], e["ResponseMetadata"]["HTTPStatusCode"]


def fetch(url):
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read()


def test_create_get_wait_update_delete_with_boto3(server):
    lam = client(server)
    code = make_zip()
    created = create(lam, "f1", code)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["State"] == "Pending"
    assert created["StateReasonCode"] == "Creating"
    assert created["Version"] == "$LATEST"
    assert created["CodeSha256"] == sha256_b64(code)
    assert created["CodeSize"] == len(code)
    assert (created["Timeout"], created["MemorySize"]) == (3, 128)
    assert "LastUpdateStatus" not in created
    headers = created["ResponseMetadata"]["HTTPHeaders"]
    assert len(headers["x-amzn-requestid"]) == 36

    lam.get_waiter("function_active_v2").wait(
        FunctionName="f1", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    got = lam.get_function(FunctionName="f1")
    assert got["Configuration"]["State"] == "Active"
    assert got["Configuration"]["LastUpdateStatus"] == "Successful"
    status, body = fetch(got["Code"]["Location"])
    assert status == 200 and body == code

    # The full ARN (boto3 percent-encodes it in the path) finds the same function.
    by_arn = lam.get_function_configuration(FunctionName=created["FunctionArn"])
    assert by_arn["RevisionId"] == got["Configuration"]["RevisionId"]

    new_code = make_zip("def handler(e, c):\n    return 2\n")
    updated = lam.update_function_code(FunctionName="f1", ZipFile=new_code,
                                       RevisionId=by_arn["RevisionId"])
    assert updated["LastUpdateStatus"] == "InProgress"
    assert updated["CodeSha256"] == sha256_b64(new_code)
    assert updated["RevisionId"] != by_arn["RevisionId"]
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="f1", WaiterConfig={"Delay": 1, "MaxAttempts": 3})
    location = lam.get_function(FunctionName="f1")["Code"]["Location"]
    assert fetch(location)[1] == new_code

    cfg = lam.update_function_configuration(FunctionName="f1", Timeout=9,
                                            Environment={"Variables": {"B": "2"}})
    assert cfg["Timeout"] == 9 and cfg["Environment"]["Variables"] == {"B": "2"}
    lam.get_waiter("function_updated_v2").wait(
        FunctionName="f1", WaiterConfig={"Delay": 1, "MaxAttempts": 3})

    with pytest.raises(ClientError) as stale:
        lam.update_function_code(FunctionName="f1", ZipFile=new_code, RevisionId="stale")
    assert error_of(stale)[0] == "PreconditionFailedException"
    assert error_of(stale)[2] == 412

    with pytest.raises(ClientError) as latest:
        lam.delete_function(FunctionName="f1", Qualifier="$LATEST")
    assert error_of(latest)[1] == "$LATEST version cannot be deleted without deleting the function."

    deleted = lam.delete_function(FunctionName="f1")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as again:
        lam.delete_function(FunctionName="f1")
    assert error_of(again) == (
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:f1", 404)


def test_errors_have_code_message_and_status(server):
    lam = client(server)
    with pytest.raises(ClientError) as nope:
        lam.get_function(FunctionName="nope")
    assert error_of(nope) == (
        "ResourceNotFoundException",
        "Function not found: arn:aws:lambda:us-east-1:000000000000:function:nope", 404)
    assert nope.value.response["ResponseMetadata"]["HTTPHeaders"][
        "x-amzn-errortype"] == "ResourceNotFoundException"

    create(lam, "f1")
    with pytest.raises(ClientError) as dup:
        create(lam, "f1")
    assert error_of(dup) == ("ResourceConflictException", "Function already exist: f1", 409)

    with pytest.raises(ClientError) as region:
        lam.get_function(FunctionName="arn:aws:lambda:eu-west-1:000000000000:function:f1")
    assert error_of(region)[1] == (
        "Functions from 'eu-west-1' are not reachable in this region ('us-east-1')")

    with pytest.raises(ClientError) as role:
        lam.create_function(FunctionName="f2", Runtime="python3.12", Handler="app.handler",
                            Role="r1", Code={"ZipFile": make_zip()})
    code, message, status = error_of(role)
    assert (code, status) == ("ValidationException", 400) and "'role'" in message

    with pytest.raises(ClientError) as runtime:
        lam.create_function(FunctionName="f2", Runtime="PYTHON3.9", Handler="app.handler",
                            Role=ROLE, Code={"ZipFile": make_zip()})
    assert error_of(runtime)[0] == "InvalidParameterValueException"
    assert error_of(runtime)[1].startswith("Value PYTHON3.9 at 'runtime'")

    with pytest.raises(ClientError) as long_name:
        create(lam, "n" * 65)
    assert error_of(long_name)[1].endswith("less than or equal to 64")

    with pytest.raises(ClientError) as not_zip:
        create(lam, "f2", b"this is not a zip")
    assert error_of(not_zip)[1] == (
        "Could not unzip uploaded file. Please check your file, then try to upload again.")

    with pytest.raises(ClientError) as reserved:
        create(lam, "f2", Environment={"Variables": {"AWS_REGION": "x"}})
    assert error_of(reserved)[1].endswith("Reserved keys used in this request: AWS_REGION")

    with pytest.raises(ClientError) as big:
        create(lam, "f2", Environment={"Variables": {"BIG": "v" * 5000}})
    assert "exceeded the 4KB limit" in error_of(big)[1]

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../escape.py", "x = 1\n")
    with pytest.raises(ClientError) as slip:
        create(lam, "f2", buf.getvalue())
    assert error_of(slip)[0] == "InvalidParameterValueException"
    assert "outside" in error_of(slip)[1]

    # Invoking an unknown function is the same 404 for every invocation type.
    for invocation_type in ("RequestResponse", "Event", "DryRun"):
        with pytest.raises(ClientError) as invoke:
            lam.invoke(FunctionName="nope", InvocationType=invocation_type, Payload=b"{}")
        assert error_of(invoke)[0] == "ResourceNotFoundException"
        assert error_of(invoke)[2] == 404


def test_list_pages_with_marker(server):
    lam = client(server)
    for name in ("c", "a", "b"):
        create(lam, name)
    first = lam.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    second = lam.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c"]
    assert "NextMarker" not in second
    pages = lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 2})
    assert [f["FunctionName"] for p in pages for f in p["Functions"]] == ["a", "b", "c"]
    # The trailing-slash form (AWS CLI v2) answers the same.
    status, _, body = server.request("GET", "/2015-03-31/functions/?MaxItems=1")
    assert status == 200 and json.loads(body)["Functions"][0]["FunctionName"] == "a"


def test_restart_keeps_functions_and_code(launch, tmp_path):
    data = tmp_path / "data"
    first = launch(data_dir=data)
    lam = client(first)
    code = make_zip("def handler(e, c):\n    return 'persisted'\n")
    created = create(lam, "keep", code, Tags={"team": "x"})
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0

    second = launch(data_dir=data)
    lam = client(second)
    got = lam.get_function(FunctionName="keep")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Configuration"]["CodeSha256"] == sha256_b64(code)
    assert got["Tags"] == {"team": "x"}
    status, body = fetch(got["Code"]["Location"])
    assert status == 200 and sha256_b64(body) == created["CodeSha256"]
    zips = list((data / "functions").rglob("code.zip"))
    assert len(zips) == 1 and zips[0].read_bytes() == code
    bootstraps = list((data / "functions").rglob("task/bootstrap"))
    assert len(bootstraps) == 1 and os.access(bootstraps[0], os.X_OK)


def test_auxiliary_routes_and_kinesis_side_by_side(server):
    lam = client(server)
    arn = create(lam, "f1")["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={"k": "v"})
    assert lam.list_tags(Resource=arn)["Tags"] == {"k": "v"}
    lam.untag_resource(Resource=arn, TagKeys=["k"])
    assert lam.list_tags(Resource=arn)["Tags"] == {}
    lam.put_function_concurrency(FunctionName="f1", ReservedConcurrentExecutions=2)
    assert lam.get_function_concurrency(FunctionName="f1")["ReservedConcurrentExecutions"] == 2
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == 1
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="f1")["Versions"]] == [
        "$LATEST"]
    kinesis = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{server.port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test")
    assert "StreamNames" in kinesis.list_streams()


def aws_cli(proc, *args, sign=True):
    """The AWS CLI against `proc` with test credentials and no user configuration."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_MAX_ATTEMPTS": "1",
        "HOME": os.environ.get("HOME", "/tmp"),
    }
    cmd = [sys.executable, str(AWS_CLI), "--endpoint-url", f"http://127.0.0.1:{proc.port}",
           "--output", "json", *(() if sign else ("--no-sign-request",)), *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT_S)


def run_cli(proc, *args, sign=True):
    return aws_cli(proc, "lambda", *args, sign=sign)


def test_aws_cli_v1(server, tmp_path):
    code = make_zip()
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(code)
    created = run_cli(server, "create-function", "--function-name", "f1", "--runtime",
                      "python3.12", "--handler", "app.handler", "--role", ROLE,
                      "--zip-file", f"fileb://{zip_path}")
    assert created.returncode == 0, created.stderr
    body = json.loads(created.stdout)
    assert body["State"] == "Pending" and body["CodeSha256"] == sha256_b64(code)

    again = run_cli(server, "create-function", "--function-name", "f1", "--runtime",
                    "python3.12", "--handler", "app.handler", "--role", ROLE,
                    "--zip-file", f"fileb://{zip_path}")
    assert again.returncode == 255
    assert "ResourceConflictException" in again.stderr and "Function already exist: f1" in again.stderr

    waited = run_cli(server, "wait", "function-active-v2", "--function-name", "f1")
    assert waited.returncode == 0, waited.stderr
    got = json.loads(run_cli(server, "get-function", "--function-name", "f1").stdout)
    assert got["Configuration"]["State"] == "Active"
    assert fetch(got["Code"]["Location"])[1] == code

    missing = run_cli(server, "get-function", "--function-name", "nope")
    assert missing.returncode == 255 and "ResourceNotFoundException" in missing.stderr

    unsigned = run_cli(server, "list-functions", sign=False)
    assert unsigned.returncode == 0, unsigned.stderr
    assert [f["FunctionName"] for f in json.loads(unsigned.stdout)["Functions"]] == ["f1"]

    (tmp_path / "v2.zip").write_bytes(make_zip("def handler(e, c):\n    return 3\n"))
    upd = run_cli(server, "update-function-code", "--function-name", "f1",
                  "--zip-file", f"fileb://{tmp_path / 'v2.zip'}")
    assert upd.returncode == 0, upd.stderr
    assert json.loads(upd.stdout)["LastUpdateStatus"] == "InProgress"
    assert run_cli(server, "wait", "function-updated-v2", "--function-name", "f1").returncode == 0

    deleted = run_cli(server, "delete-function", "--function-name", "f1")
    assert deleted.returncode == 0, deleted.stderr
    assert run_cli(server, "delete-function", "--function-name", "f1").returncode == 255


def test_one_io_thread_serves_invokes_and_stream_writes(launch):
    """--io-threads 1: process environments run on the event loop, and writes are answered
    from the group commit to it; with one loop thread both still complete, concurrently."""
    proc = launch("--io-threads", "1", "--transition-delay-ms", "0")
    lam = client(proc)
    create(lam, "one-loop")
    kinesis = boto3.client("kinesis", endpoint_url=f"http://127.0.0.1:{proc.port}",
                           region_name="us-east-1", aws_access_key_id="test",
                           aws_secret_access_key="test",
                           config=Config(retries={"max_attempts": 1, "mode": "standard"}))
    kinesis.create_stream(StreamName="one-loop", ShardCount=2)
    kinesis.get_waiter("stream_exists").wait(StreamName="one-loop",
                                             WaiterConfig={"Delay": 0.1, "MaxAttempts": 50})

    def invoke(i):
        r = lam.invoke(FunctionName="one-loop", Payload=json.dumps({"i": i}).encode())
        return r["StatusCode"], json.loads(r["Payload"].read())

    def put(i):
        return kinesis.put_record(StreamName="one-loop", PartitionKey=f"k{i}",
                                  Data=f"d{i}".encode())["SequenceNumber"]

    with concurrent.futures.ThreadPoolExecutor(max_workers=6) as pool:
        invokes = [pool.submit(invoke, i) for i in range(12)]
        puts = [pool.submit(put, i) for i in range(30)]
        assert [f.result(timeout=60) for f in invokes] == [
            (200, {"ok": True, "e": {"i": i}}) for i in range(12)]
        sequence_numbers = [f.result(timeout=60) for f in puts]
    assert len(set(sequence_numbers)) == 30


def test_invalid_input_to_every_route_is_a_4xx_with_an_error_type(launch):
    # Spec test 65: deterministic bad input gets a 4xx with x-amzn-ErrorType, never a 5xx;
    # afterwards the server still creates and lists functions.
    proc = launch()
    lam = client(proc)
    create(lam, "victim")
    routes = [
        ("POST", "/2015-03-31/functions"),
        ("GET", "/2015-03-31/functions?MaxItems=x&Marker=%ZZ"),
        ("GET", "/2015-03-31/functions/%00bad"),
        ("DELETE", "/2015-03-31/functions/victim?Qualifier=%FF"),
        ("PUT", "/2015-03-31/functions/victim/configuration"),
        ("PUT", "/2015-03-31/functions/victim/code"),
        ("POST", "/2015-03-31/functions/victim/invocations"),
        ("POST", "/2015-03-31/functions/victim/policy"),
        ("POST", "/2014-11-13/functions/victim/invoke-async"),
        ("PUT", "/2017-10-31/functions/victim/concurrency"),
        ("POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:000000000000:function:victim"),
        ("POST", "/2015-03-31/event-source-mappings"),
        ("PUT", "/2015-03-31/event-source-mappings/not-a-uuid"),
        ("GET", "/2015-03-31/event-source-mappings?MaxItems=-1"),
        ("PATCH", "/2015-03-31/functions/victim"),
    ]
    bodies = [b"", b"null", b"[]", b"{", b"\xff\xfe\x00garbage", b'{"FunctionName": 7}',
              b'{"Timeout": "x", "MemorySize": -1, "Environment": []}',
              b'{"Code": {"ZipFile": "!!!"}, "Runtime": {}}', b'"' + b"a" * 70000 + b'"',
              json.dumps({"BatchSize": 10**12, "StartingPosition": 5}).encode()]
    seen = []
    for method, path in routes:
        for body in bodies:
            conn = http.client.HTTPConnection("127.0.0.1", proc.port, timeout=10)
            try:
                conn.request(method, path, body=body,
                             headers={"Content-Type": "application/json"})
                resp = conn.getresponse()
                resp.read()
                seen.append((method, path, body[:20], resp.status,
                             resp.getheader("x-amzn-ErrorType")))
            finally:
                conn.close()
    fives = [s for s in seen if s[3] >= 500]
    assert not fives
    untyped = [s for s in seen if s[3] >= 400 and not s[4]]
    assert not untyped
    assert all(s[3] >= 400 for s in seen if s[2] in (b"{", b"\xff\xfe\x00garbage"))
    create(lam, "after")
    assert {f["FunctionName"] for f in lam.list_functions()["Functions"]} == {"victim", "after"}
