"""In-process C++ handlers end to end (runtime "sluice.cpp", docs/runtime.md): shared libraries
built by the test build (examples/cpp-handler and tests/runtime/handlers) are zipped, created
through boto3 and invoked on the real binary.

The libraries come from $SLUICE_HANDLER_DIR (the Makefile sets it), else from the `handlers`
directory next to the sluice binary (where tests/runtime/CMakeLists.txt puts them)."""

import base64
import io
import json
import os
import pathlib
import threading
import urllib.request
import zipfile

import time

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import find_binary
from test_lambda_functions import ROLE, client, error_of


def handler_dir():
    env = os.environ.get("SLUICE_HANDLER_DIR")
    return pathlib.Path(env) if env else find_binary().parent / "handlers"


def library(name):
    path = handler_dir() / name
    if not path.is_file():
        pytest.fail(f"{path} not found: build the test targets, or set SLUICE_HANDLER_DIR")
    return path.read_bytes()


def zip_with(lib_bytes, name="lib/handler.so"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr(name, lib_bytes)
    return buf.getvalue()


def invoke(lam, name, event, **extra):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return r, json.loads(r["Payload"].read() or b"null")


@pytest.fixture
def lam(server):
    return client(server)


def client_without_retries(proc):
    """boto3's standard mode retries a 429 after up to a second: not when the test wants to
    see the 429 itself."""
    return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{proc.port}",
                        region_name="us-east-1", aws_access_key_id="test",
                        aws_secret_access_key="test",
                        config=Config(connect_timeout=5, read_timeout=20,
                                      retries={"total_max_attempts": 1, "mode": "standard"}))


def test_example_handler_result_error_exception_and_tail(lam):
    lam.create_function(FunctionName="hello", Runtime="sluice.cpp", Handler="lib/handler.so",
                        Role=ROLE, MemorySize=256,
                        Code={"ZipFile": zip_with(library("libhello_handler.so"))})
    conf = lam.get_function_configuration(FunctionName="hello")
    assert (conf["Runtime"], conf["Handler"], conf["State"]) == ("sluice.cpp", "lib/handler.so",
                                                                 "Active")

    r, out = invoke(lam, "hello", {"name": "sluice"}, LogType="Tail")
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/json"
    assert out == {"greeting": "hello from C++", "bytes": len(json.dumps({"name": "sluice"})),
                   "request_id": rid, "function": "hello", "memory_mb": 256,
                   "has_time_left": True}
    tail = base64.b64decode(r["LogResult"]).decode()
    assert tail.startswith(f"START RequestId: {rid} Version: $LATEST\n"
                           f"hello handler: 18 bytes in\nEND RequestId: {rid}\n"
                           f"REPORT RequestId: {rid}\tDuration: "), tail

    r, out = invoke(lam, "hello", {"fail": True})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "the event asked to fail", "errorType": "HelloError",
                   "stackTrace": []}

    r, out = invoke(lam, "hello", {"throw": True})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "the event asked for an exception",
                   "errorType": "std::invalid_argument", "stackTrace": []}

    # The server survived the exception and keeps serving the function.
    r, out = invoke(lam, "hello", {})
    assert out["greeting"] == "hello from C++"


def test_code_update_loads_the_new_library(lam):
    lam.create_function(FunctionName="versioned", Runtime="sluice.cpp",
                        Handler="lib/handler.so", Role=ROLE,
                        Code={"ZipFile": zip_with(library("libtest_handlers_v1.so"))})
    _, out = invoke(lam, "versioned", {"n": 1})
    assert out == {"version": 1, "echo": {"n": 1}}
    lam.update_function_code(FunctionName="versioned",
                             ZipFile=zip_with(library("libtest_handlers_v2.so")))
    lam.get_waiter("function_updated_v2").wait(FunctionName="versioned",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    _, out = invoke(lam, "versioned", {"n": 2})
    assert out == {"version": 2, "echo": {"n": 2}}


def test_named_symbol_timeout_and_concurrency(server):
    lam = client_without_retries(server)
    lib = zip_with(library("libtest_handlers_v1.so"))
    lam.create_function(FunctionName="slow", Runtime="sluice.cpp", Handler="lib/handler.so:sleepy",
                        Role=ROLE, Timeout=1, Code={"ZipFile": lib})
    lam.put_function_concurrency(FunctionName="slow", ReservedConcurrentExecutions=1)
    began = time.monotonic()
    r, out = invoke(lam, "slow", {"ms": 2500})
    assert time.monotonic() - began < 2.0  # reported at the deadline, not at the return
    rid = r["ResponseMetadata"]["RequestId"]
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorType": "Sandbox.Timedout",
                   "errorMessage": f"RequestId: {rid} Error: Task timed out after 1.00 seconds"}
    # The handler is still running (a thread cannot be killed): its slot stays taken.
    with pytest.raises(ClientError) as e:
        invoke(lam, "slow", {"ms": 0})
    code, _, status = error_of(e)
    assert (code, status) == ("TooManyRequestsException", 429)
    assert e.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # Once the handler has returned, the slot is free again.
    deadline = time.monotonic() + 10
    while True:
        try:
            r, out = invoke(lam, "slow", {"ms": 0})
            break
        except ClientError as err:
            assert err.response["Error"]["Code"] == "TooManyRequestsException"
            assert time.monotonic() < deadline, "the slot was never released"
            time.sleep(0.1)
    assert "FunctionError" not in r
    assert out == {"slept": True}


def test_text_result_keeps_its_content_type(lam):
    lam.create_function(FunctionName="text", Runtime="sluice.cpp", Handler="lib/handler.so:text",
                        Role=ROLE, Code={"ZipFile": zip_with(library("libtest_handlers_v1.so"))})
    r = lam.invoke(FunctionName="text", Payload=b"{}")
    assert r["Payload"].read() == b"plain words"
    assert r["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "text/plain"


def test_missing_library_is_an_invalid_entrypoint_and_bad_paths_are_refused(lam):
    lib = zip_with(library("libtest_handlers_v1.so"))
    lam.create_function(FunctionName="nolib", Runtime="sluice.cpp", Handler="lib/other.so",
                        Role=ROLE, Code={"ZipFile": lib})
    r, out = invoke(lam, "nolib", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"
    for handler in ("/etc/lib.so", "../lib.so", "lib/../../x.so"):
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName="bad", Runtime="sluice.cpp", Handler=handler,
                                Role=ROLE, Code={"ZipFile": lib})
        assert error_of(e)[:1] == ("InvalidParameterValueException",), handler


def test_a_quick_handler_run_inline_that_turns_slow_holds_only_its_own_request(server):
    # After 16 quick calls the handler runs on the Invoke request's own event-loop thread
    # (docs/runtime.md). A call that then sleeps past its deadline is still answered
    # Sandbox.Timedout at the deadline, and meanwhile the server answers everything else.
    lam = client_without_retries(server)
    lib = zip_with(library("libtest_handlers_v1.so"))
    lam.create_function(FunctionName="turns-slow", Runtime="sluice.cpp",
                        Handler="lib/handler.so:sleepy", Role=ROLE, Timeout=1,
                        Code={"ZipFile": lib})
    lam.create_function(FunctionName="bystander", Runtime="sluice.cpp",
                        Handler="lib/handler.so:sleepy", Role=ROLE, Code={"ZipFile": lib})
    for _ in range(20):
        r, out = invoke(lam, "turns-slow", {"ms": 0})
        assert out == {"slept": True}

    result = {}

    def slow_call():
        began = time.monotonic()
        result["r"], result["out"] = invoke(client_without_retries(server), "turns-slow",
                                            {"ms": 2500})
        result["took"] = time.monotonic() - began

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.3)  # the slow handler is running now
    others_began = time.monotonic()
    for _ in range(5):
        _, out = invoke(lam, "bystander", {"ms": 0})
        assert out == {"slept": True}
    health = lam.meta.endpoint_url + "/_sluice/health"
    with urllib.request.urlopen(health, timeout=5) as resp:
        assert resp.status == 200
    assert time.monotonic() - others_began < 1.5  # not behind the 2.5 s handler
    t.join(10)
    assert not t.is_alive()
    assert result["out"]["errorType"] == "Sandbox.Timedout"
    assert result["took"] < 2.0  # at the 1 s deadline, not when the handler returned


def test_inline_runs_can_be_switched_off(launch, run_sluice):
    proc = launch("--inprocess-inline-us", "0")
    lam = client_without_retries(proc)
    lam.create_function(FunctionName="f", Runtime="sluice.cpp", Handler="lib/handler.so:sleepy",
                        Role=ROLE, Code={"ZipFile": zip_with(library("libtest_handlers_v1.so"))})
    for _ in range(20):
        _, out = invoke(lam, "f", {"ms": 0})
        assert out == {"slept": True}
    refused = run_sluice("serve", "--port", "0", "--inprocess-inline-us", "-1")
    assert refused.returncode != 0
    assert "--inprocess-inline-us" in refused.stderr.decode()
