"""Sluice's Python runtime client (src/runtime/clients/python/sluice_runtime.py) against the fake
Runtime API: results, error documents, init errors, handler resolution, context, logging.
Expected bodies are those of spec/lambda-api.md sections 7, 8.1 and 9."""

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import FUNCTION_ARN, LOG_STREAM, PYTHON_CLIENT, REPO_ROOT

APP_OK = 'def handler(e, c):\n    return {"ok": True, "e": e}\n'


def test_success_posts_json_result(launch, fake_api):
    proc = launch("python", {"app.py": APP_OK}, "app.handler")
    rid = fake_api.invoke({"a": 1})
    res = fake_api.result(rid)
    assert res.kind == "response"
    assert res.json() == {"ok": True, "e": {"a": 1}}
    assert res.headers["content-type"] == "application/json"
    assert proc.proc.poll() is None  # still serving


@pytest.mark.parametrize("expr,expected", [
    ("[1, 'two', None]", b'[1, "two", null]'),
    ("'hi'", b'"hi"'),
    ("None", b"null"),
    ("{'n': 1.5, 'x': {'y': []}}", b'{"n": 1.5, "x": {"y": []}}'),
])
def test_result_shapes(launch, fake_api, expr, expected):
    launch("python", {"app.py": f"def handler(e, c):\n    return {expr}\n"}, "app.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "response"
    assert res.body == expected


def test_bytes_result_is_posted_raw(launch, fake_api):
    launch("python", {"app.py": 'def handler(e, c):\n    return b"raw\\x00bytes"\n'}, "app.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.body == b"raw\x00bytes"
    assert res.headers["content-type"] == "application/unknown"


def test_decimal_keeps_its_digits(launch, fake_api):
    code = ("import decimal\n"
            "def handler(e, c):\n"
            "    return {'d': decimal.Decimal('1.10'), 'l': [decimal.Decimal('12345678901234567890.5')]}\n")
    launch("python", {"app.py": code}, "app.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).body == b'{"d": 1.10, "l": [12345678901234567890.5]}'


def test_non_ascii_escaped_before_312_and_kept_after(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return 'h\\u00e9'\n"}, "app.handler",
           runtime="python3.11")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).body == b'"h\\u00e9"'


def test_non_ascii_kept_on_312(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return 'h\\u00e9'\n"}, "app.handler",
           runtime="python3.12")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).body == '"h\u00e9"'.encode()


def test_handler_exception_error_document(launch, fake_api, tmp_path):
    code = 'def handler(e, c):\n    raise ValueError("bad")\n'
    proc = launch("python", {"app.py": code}, "app.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    app = str(tmp_path / "task" / "app.py")
    assert res.json() == {
        "errorMessage": "bad",
        "errorType": "ValueError",
        "requestId": rid,
        "stackTrace": [f'  File "{app}", line 2, in handler\n    raise ValueError("bad")\n'],
    }
    assert list(res.json()) == ["errorMessage", "errorType", "requestId", "stackTrace"]
    assert res.headers["lambda-runtime-function-error-type"] == "ValueError"
    line = proc.wait_line(lambda l: l.startswith("[ERROR] ValueError: bad"), "the error log line")
    assert "\rTraceback (most recent call last):\r" in line
    assert "\u00a0\u00a0File " in line  # indentation kept with no-break spaces
    # The process survives a handler error and serves the next event.
    rid2 = fake_api.invoke({})
    assert fake_api.result(rid2).kind == "error"
    assert proc.proc.poll() is None


def test_custom_exception_class_name_is_error_type(launch, fake_api):
    code = ("class OrderRejected(Exception):\n    pass\n"
            "def helper():\n    raise OrderRejected('order 7 rejected')\n"
            "def handler(e, c):\n    helper()\n")
    launch("python", {"app.py": code}, "app.handler")
    rid = fake_api.invoke({})
    doc = fake_api.result(rid).json()
    assert doc["errorType"] == "OrderRejected"
    assert doc["errorMessage"] == "order 7 rejected"
    assert len(doc["stackTrace"]) == 2  # handler frame, then helper frame; no runtime frames
    assert "in handler" in doc["stackTrace"][0] and "in helper" in doc["stackTrace"][1]
    assert all("sluice_runtime" not in f for f in doc["stackTrace"])


def test_import_error_is_reported_at_init(launch, fake_api):
    proc = launch("python", {}, "nosuch.handler")
    err = fake_api.init_error()
    assert err.json() == {
        "errorMessage": "Unable to import module 'nosuch': No module named 'nosuch'",
        "errorType": "Runtime.ImportModuleError",
        "requestId": "",
        "stackTrace": [],
    }
    assert err.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert proc.wait_exit() == 1
    assert fake_api.next_calls == 0


def test_import_error_of_a_dependency(launch, fake_api):
    proc = launch("python", {"app.py": "import not_installed_dep\ndef handler(e, c):\n    return 1\n"},
                  "app.handler")
    err = fake_api.init_error()
    assert err.json()["errorType"] == "Runtime.ImportModuleError"
    assert err.json()["errorMessage"] == "Unable to import module 'app': No module named 'not_installed_dep'"
    assert proc.wait_exit() == 1


def test_syntax_error(launch, fake_api, tmp_path):
    proc = launch("python", {"app.py": "def handler(e, c)\n    return 1\n"}, "app.handler")
    doc = fake_api.init_error().json()
    assert doc["errorType"] == "Runtime.UserCodeSyntaxError"
    assert doc["errorMessage"].startswith("Syntax error in module 'app': ")
    assert "line 1" in doc["errorMessage"]
    app = str(tmp_path / "task" / "app.py")
    assert doc["stackTrace"] == [f'  File "{app}" Line 1\n    def handler(e, c)\n']
    assert doc["requestId"] == ""
    assert proc.wait_exit() == 1


def test_missing_handler_function(launch, fake_api):
    proc = launch("python", {"app.py": APP_OK}, "app.missing")
    err = fake_api.init_error()
    assert err.json() == {
        "errorMessage": "Handler 'missing' missing on module 'app'",
        "errorType": "Runtime.HandlerNotFound",
        "requestId": "",
        "stackTrace": [],
    }
    assert err.headers["lambda-runtime-function-error-type"] == "Runtime.HandlerNotFound"
    assert proc.wait_exit() == 1


@pytest.mark.parametrize("handler,error_type,message", [
    ("app", "Runtime.MalformedHandlerName",
     "Bad handler 'app': not enough values to unpack (expected 2, got 1)"),
    ("sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys as a handler module"),
])
def test_bad_handler_names(launch, fake_api, handler, error_type, message):
    proc = launch("python", {"app.py": APP_OK}, handler)
    doc = fake_api.init_error().json()
    assert (doc["errorType"], doc["errorMessage"]) == (error_type, message)
    assert proc.wait_exit() == 1


def test_exception_while_importing_keeps_its_class(launch, fake_api):
    proc = launch("python", {"app.py": "raise RuntimeError('no config')\n"}, "app.handler")
    doc = fake_api.init_error().json()
    assert doc["errorType"] == "RuntimeError"
    assert doc["errorMessage"] == "no config"
    assert any("app.py" in f for f in doc["stackTrace"])
    assert all("sluice_runtime" not in f for f in doc["stackTrace"])
    assert proc.wait_exit() == 1


@pytest.mark.parametrize("handler", ["pkg/sub/mod.fn", "pkg.sub.mod.fn"])
def test_nested_module_paths(launch, fake_api, handler):
    files = {
        "pkg/__init__.py": "",
        "pkg/sub/__init__.py": "",
        "pkg/sub/mod.py": "from pkg.sub import helper\ndef fn(e, c):\n    return helper.NAME\n",
        "pkg/sub/helper.py": "NAME = 'nested'\n",
    }
    launch("python", files, handler)
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "nested"


def test_context_fields(launch, fake_api):
    code = (
        "import time\n"
        "def handler(e, c):\n"
        "    first = c.get_remaining_time_in_millis()\n"
        "    time.sleep(0.2)\n"
        "    second = c.get_remaining_time_in_millis()\n"
        "    return {'id': c.aws_request_id, 'arn': c.invoked_function_arn, 'name': c.function_name,\n"
        "            'version': c.function_version, 'memory': c.memory_limit_in_mb,\n"
        "            'group': c.log_group_name, 'stream': c.log_stream_name,\n"
        "            'first': first, 'second': second, 'cc': c.client_context,\n"
        "            'identity': [c.identity.cognito_identity_id, c.identity.cognito_identity_pool_id]}\n"
    )
    launch("python", {"app.py": code}, "app.handler")
    rid = fake_api.invoke({}, timeout_ms=5000)
    doc = fake_api.result(rid).json()
    assert doc["id"] == rid
    assert doc["arn"] == FUNCTION_ARN
    assert doc["name"] == "f1"
    assert doc["version"] == "$LATEST"
    assert doc["memory"] == "128"
    assert doc["group"] == "/aws/lambda/f1"
    assert doc["stream"] == LOG_STREAM
    assert 0 < doc["first"] <= 5000
    assert doc["first"] - doc["second"] >= 150  # it counts down
    assert doc["cc"] is None
    assert doc["identity"] == [None, None]


def test_remaining_time_never_negative(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return c.get_remaining_time_in_millis()\n"},
           "app.handler")
    rid = fake_api.invoke({}, timeout_ms=-5000)
    assert fake_api.result(rid).json() == 0


def test_client_context_and_identity(launch, fake_api):
    code = ("def handler(e, c):\n"
            "    cc = c.client_context\n"
            "    return {'custom': cc.custom, 'env': cc.env, 'app': cc.client.app_title,\n"
            "            'inst': cc.client.installation_id, 'id': c.identity.cognito_identity_id,\n"
            "            'pool': c.identity.cognito_identity_pool_id}\n")
    launch("python", {"app.py": code}, "app.handler")
    cc = {"custom": {"k": "v"}, "env": {"platform": "x"}, "client": {"app_title": "demo", "installation_id": "i1"}}
    ident = {"cognitoIdentityId": "id-1", "cognitoIdentityPoolId": "pool-1"}
    rid = fake_api.invoke({}, extra_headers={"Lambda-Runtime-Client-Context": json.dumps(cc),
                                             "Lambda-Runtime-Cognito-Identity": json.dumps(ident)})
    assert fake_api.result(rid).json() == {"custom": {"k": "v"}, "env": {"platform": "x"}, "app": "demo",
                                           "inst": "i1", "id": "id-1", "pool": "pool-1"}


def test_bad_client_context_is_an_invocation_error(launch, fake_api):
    launch("python", {"app.py": APP_OK}, "app.handler")
    rid = fake_api.invoke({}, extra_headers={"Lambda-Runtime-Client-Context": "{not json"})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json()["errorType"] == "Runtime.LambdaContextUnmarshalError"
    assert res.json()["errorMessage"].startswith("Unable to parse Client Context JSON: ")


def test_trace_id_is_set_per_invocation(launch, fake_api):
    launch("python", {"app.py": "import os\ndef handler(e, c):\n    return os.environ.get('_X_AMZN_TRACE_ID')\n"},
           "app.handler")
    rid1 = fake_api.invoke({}, trace_id="Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=0")
    assert fake_api.result(rid1).json() == "Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=0"
    rid2 = fake_api.invoke({}, trace_id="Root=1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=0")
    assert fake_api.result(rid2).json() == "Root=1-00000002-bbbbbbbbbbbbbbbbbbbbbbbb;Sampled=0"


def test_invocations_reuse_the_process(launch, fake_api):
    code = "import os\nCOUNT = 0\ndef handler(e, c):\n    global COUNT\n    COUNT += 1\n    return [COUNT, os.getpid()]\n"
    proc = launch("python", {"app.py": code}, "app.handler")
    results = []
    for _ in range(3):
        rid = fake_api.invoke({})
        results.append(fake_api.result(rid).json())
    assert [r[0] for r in results] == [1, 2, 3]
    assert {r[1] for r in results} == {proc.proc.pid}
    fake_api.wait_next_calls(4)  # ready again after the third


def test_chunked_events_and_closed_connections(launch, fake_api):
    # The client speaks HTTP/1.1 over a plain socket: chunked bodies and a server that closes
    # after each answer must work as well as the engine's Content-Length keep-alive.
    fake_api.chunked_events = True
    fake_api.close_after_reply = True
    proc = launch("python", {"app.py": APP_OK}, "app.handler")
    for i in range(3):
        event = {"i": i, "pad": "x" * (2500 * i)}  # 0 to 3 chunks of 1000 bytes and a rest
        rid = fake_api.invoke(event)
        res = fake_api.result(rid)
        assert res.kind == "response"
        assert res.json() == {"ok": True, "e": event}
    assert proc.proc.poll() is None


def test_large_event_and_result_cross_the_socket(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return e\n"}, "app.handler")
    event = {"blob": "".join(chr(0x41 + i % 26) for i in range(1_000_000))}
    rid = fake_api.invoke(event)
    res = fake_api.result(rid)
    assert res.kind == "response"
    assert int(res.headers["content-length"]) == len(res.body)
    assert res.json() == event


def test_print_reaches_stdout_unbuffered(launch, fake_api):
    code = "import time\ndef handler(e, c):\n    print('hello from', e['who'])\n    time.sleep(30)\n"
    proc = launch("python", {"app.py": code}, "app.handler")
    fake_api.invoke({"who": "handler"})
    # Seen while the handler is still sleeping: nothing waits for a buffer to fill.
    proc.wait_line(lambda l: l == "hello from handler", "the printed line", timeout=10)
    assert proc.proc.poll() is None


def test_logging_module_format(launch, fake_api):
    code = "import logging\ndef handler(e, c):\n    logging.getLogger().warning('careful %s', 1)\n    return 1\n"
    proc = launch("python", {"app.py": code}, "app.handler")
    rid = fake_api.invoke({})
    fake_api.result(rid)
    line = proc.wait_line(lambda l: "careful" in l, "the logging line")
    assert re.fullmatch(r"\[WARNING\]\t\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(rid) + r"\tcareful 1",
                        line), line


def test_json_log_format(launch, fake_api):
    code = "import logging\ndef handler(e, c):\n    logging.getLogger('app').warning('careful')\n    return 1\n"
    proc = launch("python", {"app.py": code}, "app.handler", env={"AWS_LAMBDA_LOG_FORMAT": "JSON"})
    rid = fake_api.invoke({})
    fake_api.result(rid)
    entry = json.loads(proc.wait_line(lambda l: "careful" in l, "the JSON log line"))
    assert entry["level"] == "WARNING" and entry["message"] == "careful"
    assert entry["logger"] == "app" and entry["requestId"] == rid
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry["timestamp"])


def test_unserializable_result_is_marshal_error(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return {'s': {1, 2}}\n"}, "app.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json() == {
        "errorMessage": "Unable to marshal response: Object of type set is not JSON serializable",
        "errorType": "Runtime.MarshalError",
        "requestId": rid,
        "stackTrace": [],
    }


def test_non_json_event_is_passed_as_bytes(launch, fake_api):
    launch("python", {"app.py": "def handler(e, c):\n    return [type(e).__name__, e.decode()]\n"}, "app.handler")
    rid = fake_api.invoke(b"plain text", content_type="text/plain")
    assert fake_api.result(rid).json() == ["bytes", "plain text"]
    rid = fake_api.invoke(b'{"a":1}', content_type="application/json; charset=utf-8")
    assert fake_api.result(rid).json() == ["bytes", '{"a":1}']


def test_invalid_json_event_is_unmarshal_error(launch, fake_api):
    launch("python", {"app.py": APP_OK}, "app.handler")
    rid = fake_api.invoke(b"{oops")
    doc = fake_api.result(rid).json()
    assert doc["errorType"] == "Runtime.UnmarshalError"
    assert doc["errorMessage"].startswith("Unable to unmarshal input: Expecting property name")


def test_sys_exit_in_handler_ends_the_process(launch, fake_api):
    proc = launch("python", {"app.py": "import sys\ndef handler(e, c):\n    sys.exit(3)\n"}, "app.handler")
    fake_api.invoke({})
    assert proc.wait_exit() == 3
    assert fake_api.posted == []


def test_refused_answer_does_not_stop_the_client(launch, fake_api):
    proc = launch("python", {"app.py": APP_OK}, "app.handler")
    fake_api.post_status["refused"] = 413
    fake_api.invoke({}, request_id="refused")
    assert fake_api.result("refused").kind == "response"
    rid = fake_api.invoke({"n": 2})
    assert fake_api.result(rid).json() == {"ok": True, "e": {"n": 2}}
    assert proc.proc.poll() is None
    assert any("answered 413" in line for line in proc.output()[1].splitlines())


def test_task_root_precedes_client_directory(launch, fake_api):
    # A user module with the same name as the client must win.
    launch("python", {"sluice_runtime.py": "def handler(e, c):\n    return 'user module'\n"},
           "sluice_runtime.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "user module"


def _find_python(minor):
    """A runnable python3.<minor>: from PATH, else from pyenv's versions (its shims only run the
    selected version). Returns the interpreter's real path, or None."""
    candidates = [shutil.which(f"python3.{minor}")]
    pyenv_root = os.environ.get("PYENV_ROOT", os.path.expanduser("~/.pyenv"))
    candidates += sorted(glob.glob(os.path.join(pyenv_root, "versions", f"3.{minor}.*", "bin", f"python3.{minor}")))
    for candidate in filter(None, candidates):
        probe = subprocess.run([candidate, "-c", "import sys; print(sys.executable); print(sys.version_info[1])"],
                               capture_output=True, text=True)
        lines = probe.stdout.split()
        if probe.returncode == 0 and len(lines) == 2 and lines[1] == str(minor):
            return lines[0]
    return None


@pytest.mark.parametrize("minor", [9, 10, 11, 12, 13])
def test_each_supported_python(launch, fake_api, tmp_path, minor):
    """The runtimes python3.9 ... python3.13: the client runs on each interpreter found on PATH."""
    interpreter = _find_python(minor)
    if interpreter is None:
        pytest.skip(f"no working python3.{minor} on PATH or under pyenv on this machine")
    code = "import sys\ndef handler(e, c):\n    if e.get('fail'):\n        raise KeyError('k')\n    return list(sys.version_info[:2])\n"
    launch("python", {"app.py": code}, "app.handler", argv=[interpreter, str(PYTHON_CLIENT)],
           runtime=f"python3.{minor}")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == [3, minor]
    rid = fake_api.invoke({"fail": True})
    doc = fake_api.result(rid).json()
    app = str(tmp_path / "task" / "app.py")
    assert doc == {"errorMessage": "'k'", "errorType": "KeyError", "requestId": rid,
                   "stackTrace": [f'  File "{app}", line 4, in handler\n    raise KeyError(\'k\')\n']}


def test_client_source_parses_as_python_39():
    import ast
    ast.parse(PYTHON_CLIENT.read_text(), feature_version=(3, 9))


# ------------------------------------------------------------------------------------------------
# AWS's own client (awslambdaric from PyPI) against the same fake server: same bodies.

def _awslambdaric_python():
    """A Python that can import awslambdaric: $SLUICE_AWSLAMBDARIC_PYTHON, else this one."""
    candidate = os.environ.get("SLUICE_AWSLAMBDARIC_PYTHON", sys.executable)
    ok = subprocess.run([candidate, "-c", "import awslambdaric.bootstrap"], capture_output=True).returncode == 0
    return candidate if ok else None


def _run_both(launch, fake_api, code, event):
    """Runs one invocation with awslambdaric, then one with Sluice's client; returns both posts."""
    ric_python = _awslambdaric_python()
    if ric_python is None:
        pytest.skip("awslambdaric is not installed for this interpreter (pip install -r "
                    "tests/e2e/requirements.txt, or set SLUICE_AWSLAMBDARIC_PYTHON)")
    theirs = launch("python", {"app.py": code}, "app.handler", argv=[ric_python, "-m", "awslambdaric", "app.handler"])
    rid_theirs = fake_api.invoke(event)
    got_theirs = fake_api.result(rid_theirs)
    theirs.kill()
    launch("python", {"app.py": code}, "app.handler")
    rid_ours = fake_api.invoke(event)
    got_ours = fake_api.result(rid_ours)
    return rid_theirs, got_theirs, rid_ours, got_ours


def test_awslambdaric_parity_success(launch, fake_api):
    code = 'def handler(e, c):\n    return {"ok": True, "e": e, "n": [1, 2.5, None], "s": "x"}\n'
    _, theirs, _, ours = _run_both(launch, fake_api, code, {"a": [1, {"b": None}]})
    assert (theirs.kind, ours.kind) == ("response", "response")
    assert ours.body == theirs.body
    assert ours.headers["content-type"] == theirs.headers["content-type"]


def test_awslambdaric_parity_error(launch, fake_api):
    code = ("class OrderRejected(Exception):\n    pass\n"
            "def handler(e, c):\n    raise OrderRejected('no stock for ' + e['sku'])\n")
    rid_theirs, theirs, rid_ours, ours = _run_both(launch, fake_api, code, {"sku": "A1"})
    assert (theirs.kind, ours.kind) == ("error", "error")
    doc_theirs, doc_ours = theirs.json(), ours.json()
    assert doc_theirs["requestId"] == rid_theirs and doc_ours["requestId"] == rid_ours
    doc_theirs["requestId"] = doc_ours["requestId"] = "-"
    assert doc_ours == doc_theirs
    assert list(doc_ours) == list(doc_theirs)


def test_fake_api_gives_no_event_to_the_poll_of_a_killed_runtime(launch, fake_api):
    # The harness itself (conftest.py): a runtime killed while its /next waits leaves that poll
    # behind, and an event queued afterwards must reach the next runtime, not the dead socket.
    first = launch("python", {"app.py": APP_OK}, "app.handler")
    fake_api.wait_next_calls(1)
    first.kill()
    launch("python", {"app.py": APP_OK}, "app.handler")
    fake_api.wait_next_calls(2)
    rid = fake_api.invoke({"a": 2})
    assert fake_api.result(rid).json() == {"ok": True, "e": {"a": 2}}
