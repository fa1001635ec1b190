"""Remote functions end to end (runtime "sluice.remote", docs/runtime.md): server A forwards
invocations to the Invoke API of server B, both real binaries on 127.0.0.1."""

import base64
import io
import json
import signal
import textwrap
import zipfile

import pytest
from botocore.exceptions import ClientError

from test_lambda_functions import ROLE, client, error_of

APP = textwrap.dedent('''\
    def handler(event, context):
        if event.get("fail"):
            raise RuntimeError("b failed: " + str(event["fail"]))
        print("b handled", context.aws_request_id)
        return {"served_by": "b", "event": event,
                "trace": context.client_context.custom if context.client_context else None}
    ''')


def zip_of(files):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(name, text)
    return buf.getvalue()


def invoke(lam, name, event, **extra):
    r = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode(), **extra)
    return r, json.loads(r["Payload"].read() or b"null")


@pytest.fixture
def pair(launch, tmp_path):
    """(server A, server B, A's client, B's client), B with a python function "worker"."""
    a = launch(data_dir=tmp_path / "data-a")
    b = launch(data_dir=tmp_path / "data-b")
    lam_a, lam_b = client(a), client(b)
    lam_b.create_function(FunctionName="worker", Runtime="python3.12", Handler="app.handler",
                          Role=ROLE, Code={"ZipFile": zip_of({"app.py": APP})})
    url = f"http://127.0.0.1:{b.port}/2015-03-31/functions/worker/invocations"
    lam_a.create_function(FunctionName="proxy", Runtime="sluice.remote", Handler=url, Role=ROLE,
                          Timeout=10, Code={"ZipFile": zip_of({"README": "remote"})})
    return a, b, lam_a, lam_b


def test_invoking_on_a_returns_bs_result_with_its_log_tail(pair):
    _, _, lam_a, _ = pair
    conf = lam_a.get_function_configuration(FunctionName="proxy")
    assert conf["Runtime"] == "sluice.remote"
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    r, out = invoke(lam_a, "proxy", {"n": 1}, LogType="Tail", ClientContext=context)
    assert r["StatusCode"] == 200
    assert "FunctionError" not in r
    assert out == {"served_by": "b", "event": {"n": 1}, "trace": {"k": "v"}}
    tail = base64.b64decode(r["LogResult"]).decode()
    assert "b handled" in tail and "START RequestId: " in tail and "REPORT RequestId: " in tail


def test_a_failing_function_on_b_is_a_function_error_on_a(pair):
    _, _, lam_a, _ = pair
    r, out = invoke(lam_a, "proxy", {"fail": "x"})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "RuntimeError"
    assert out["errorMessage"] == "b failed: x"


def test_b_stopped_gives_the_documented_service_error(pair):
    _, b, lam_a, _ = pair
    _, out = invoke(lam_a, "proxy", {"warm": True})
    assert out["served_by"] == "b"  # A now holds a kept-alive connection to B
    b.signal(signal.SIGTERM)
    assert b.wait_exit() == 0
    # Nothing ran anywhere: the invocation is refused like one Sluice could not start.
    with pytest.raises(ClientError) as e:
        invoke(lam_a, "proxy", {"n": 2})
    code, message, status = error_of(e)
    assert (code, status) == ("ServiceException", 500), message


def test_a_missing_function_on_b_is_a_remote_error(pair):
    a, b, lam_a, _ = pair
    url = f"http://127.0.0.1:{b.port}/2015-03-31/functions/nobody/invocations"
    lam_a.create_function(FunctionName="dangling", Runtime="sluice.remote", Handler=url,
                          Role=ROLE, Code={"ZipFile": zip_of({"README": "remote"})})
    r, out = invoke(lam_a, "dangling", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Sluice.RemoteError"
    assert "HTTP 404 ResourceNotFoundException" in out["errorMessage"]


def test_endpoint_urls_are_validated(server):
    lam = client(server)
    code = {"ZipFile": zip_of({"README": "remote"})}
    for handler in ("https://example.com/x", "ftp://h/x", "http://", "http://:80/x",
                    "http://u:p@h/x", "http://h:99999/x", "127.0.0.1:9000/x"):
        with pytest.raises(ClientError) as e:
            lam.create_function(FunctionName="r", Runtime="sluice.remote", Handler=handler,
                                Role=ROLE, Code=code)
        assert error_of(e)[0] == "InvalidParameterValueException", handler
    lam.create_function(FunctionName="r", Runtime="sluice.remote",
                        Handler="http://localhost:9000/2015-03-31/functions/function/invocations",
                        Role=ROLE, Code=code)
    with pytest.raises(ClientError) as e:
        lam.update_function_configuration(FunctionName="r", Handler="https://localhost/x")
    assert error_of(e)[0] == "InvalidParameterValueException"
