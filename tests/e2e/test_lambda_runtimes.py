"""AWS's own runtime clients on Sluice, unmodified, as `provided.al2023` functions (spec
lambda-api.md 5.3, 7, 8.3; test cases 53-56): a bash bootstrap speaking the Runtime API with
curl, a C++ function on aws-lambda-cpp, awslambdaric (PyPI) and aws-lambda-ric (npm).

The C++ function and aws-lambda-ric are built by scripts/install-runtimes.sh (`make
test-deps`) under build/runtimes, or under $SLUICE_RUNTIMES_DIR; awslambdaric comes from
tests/e2e/requirements.txt. When an artifact is missing the tests that need it fail, saying
how to build it: nothing here is skipped.
"""

import base64
import io
import json
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
import time
import zipfile

import pytest
from botocore.exceptions import ClientError

from conftest import REPO_ROOT
from test_lambda_functions import ROLE, client, error_of

RUNTIMES_DIR = pathlib.Path(os.environ.get("SLUICE_RUNTIMES_DIR", REPO_ROOT / "build/runtimes"))
CPP_BOOTSTRAP = RUNTIMES_DIR / "cpp/bootstrap"
NODE_RIC = RUNTIMES_DIR / "node/node_modules/aws-lambda-ric"
INSTALL_HINT = "run scripts/install-runtimes.sh (or make test-deps)"
ARN_PREFIX = "arn:aws:lambda:us-east-1:000000000000:function:"
LOG_STREAM_RE = re.compile(r"\d{4}/\d{2}/\d{2}/\[\$LATEST\][0-9a-f]{32}")
TRACE_RE = re.compile(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0")
EXECUTABLE = 0o100755 << 16  # a regular file with mode 755, in a zip entry's external_attr
PLAIN_FILE = 0o100644 << 16


def zip_of(files):
    """A zip of name -> text or (text, external_attr); plain entries get mode 644."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, content in files.items():
            text, attr = content if isinstance(content, tuple) else (content, PLAIN_FILE)
            info = zipfile.ZipInfo(name)
            info.external_attr = attr
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, text)
    return buf.getvalue()


def executable(text):
    return (text, EXECUTABLE)


def create_provided(lam, name, files, handler="function.handler", **extra):
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler=handler,
                        Role=ROLE, Code={"ZipFile": zip_of(files)}, **extra)
    lam.get_waiter("function_active_v2").wait(FunctionName=name,
                                              WaiterConfig={"Delay": 1, "MaxAttempts": 5})


def invoke_raw(lam, name, payload, **extra):
    """(response, body bytes, the x-amzn-RequestId of the Invoke)."""
    r = lam.invoke(FunctionName=name, Payload=payload, **extra)
    return r, r["Payload"].read(), r["ResponseMetadata"]["RequestId"]


def invoke(lam, name, event, **extra):
    r, body, rid = invoke_raw(lam, name, json.dumps(event).encode(), **extra)
    return r, json.loads(body), rid


def log_tail(r):
    return base64.b64decode(r["LogResult"]).decode()


@pytest.fixture
def lam(launch):
    return client(launch())


# ---- 1. A bash bootstrap with curl ---------------------------------------------------------

# The custom-runtime tutorial's shape: `#!/bin/sh` with bash features (Sluice runs it with
# bash, as Lambda's /bin/sh is bash), the handler file and function named by _HANDLER, curl
# against $AWS_LAMBDA_RUNTIME_API.
BASH_BOOTSTRAP = textwrap.dedent('''\
    #!/bin/sh
    set -euo pipefail
    source "$LAMBDA_TASK_ROOT/${_HANDLER%%.*}.sh"
    api="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime"
    headers="$(mktemp)"
    out="$(mktemp)"
    while true; do
      event="$(curl -sS -D "$headers" "$api/invocation/next")"
      REQUEST_ID="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
      TRACE_ID="$(grep -i '^lambda-runtime-trace-id:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
      DEADLINE_MS="$(grep -i '^lambda-runtime-deadline-ms:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
      export REQUEST_ID TRACE_ID DEADLINE_MS
      if "${_HANDLER##*.}" "$event" >"$out"; then
        curl -sS -o /dev/null -X POST --data-binary "@$out" \\
          "$api/invocation/$REQUEST_ID/response"
      else
        curl -sS -o /dev/null -X POST -H "Lambda-Runtime-Function-Error-Type: Bash.HandlerFailed" \\
          --data-binary "{\\"errorMessage\\":\\"$(cat "$out")\\",\\"errorType\\":\\"Bash.HandlerFailed\\"}" \\
          "$api/invocation/$REQUEST_ID/error"
      fi
    done
    ''')

BASH_FUNCTION = textwrap.dedent('''\
    handler() {
      local event="$1"
      case "$event" in
        *'"fail"'*) printf 'refused event %s' "$REQUEST_ID"; return 1 ;;
        *'"exit"'*) echo "bash handler exits" >&2; exit 3 ;;
      esac
      echo "bash handler: request $REQUEST_ID" >&2
      printf '{"version":%s,"request_id":"%s","trace_id":"%s","deadline_ms":%s,"pid":%s,' \\
        "VERSION" "$REQUEST_ID" "$TRACE_ID" "$DEADLINE_MS" "$$"
      printf '"function":"%s","memory":"%s","exec_env":"%s","event":%s}' \\
        "$AWS_LAMBDA_FUNCTION_NAME" "$AWS_LAMBDA_FUNCTION_MEMORY_SIZE" \\
        "${AWS_EXECUTION_ENV:-}" "$event"
    }
    ''')


def bash_files(version):
    return {"bootstrap": executable(BASH_BOOTSTRAP),
            "function.sh": BASH_FUNCTION.replace("VERSION", str(version))}


def test_curl_is_installed_for_bash_bootstraps():
    # scripts/install-runtimes.sh installs it; the bootstrap reaches it through PATH
    # /usr/local/bin:/usr/bin:/bin (spec 5.2).
    assert any(os.access(f"{d}/curl", os.X_OK) for d in ("/usr/local/bin", "/usr/bin", "/bin")), \
        f"no curl for the bash bootstrap; {INSTALL_HINT}"


def test_bash_bootstrap_create_invoke_update_delete(lam):
    create_provided(lam, "bash", bash_files(1), Timeout=5)
    r, out, rid = invoke(lam, "bash", {"n": 1}, LogType="Tail")
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert out["version"] == 1 and out["event"] == {"n": 1}
    assert out["request_id"] == rid  # spec 22: the function sees the Invoke's request id
    assert TRACE_RE.fullmatch(out["trace_id"])
    assert (out["function"], out["memory"], out["exec_env"]) == ("bash", "128", "")
    tail = log_tail(r)
    assert f"START RequestId: {rid} Version: $LATEST" in tail
    assert f"bash handler: request {rid}" in tail
    assert f"REPORT RequestId: {rid}" in tail

    before_ms = time.time() * 1000
    r2, out2, rid2 = invoke(lam, "bash", {"n": 2})
    after_ms = time.time() * 1000
    assert out2["pid"] == out["pid"] and rid2 != rid  # the same warm bootstrap process
    # Spec test 32: the deadline is the function's 5 s timeout from when the event went out
    # (between the Invoke's send and its answer), to within 50 ms.
    assert before_ms + 5000 - 50 <= out2["deadline_ms"] <= after_ms + 5000 + 50

    lam.update_function_code(FunctionName="bash", ZipFile=zip_of(bash_files(2)))
    lam.get_waiter("function_updated_v2").wait(FunctionName="bash",
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 5})
    _, out3, _ = invoke(lam, "bash", {"n": 3})
    assert out3["version"] == 2 and out3["event"] == {"n": 3}

    lam.delete_function(FunctionName="bash")
    with pytest.raises(ClientError) as e:
        invoke(lam, "bash", {})
    assert error_of(e)[0] == "ResourceNotFoundException"


def test_bash_bootstrap_error_post_is_a_function_error(lam):
    create_provided(lam, "bash-err", bash_files(1))
    r, body, rid = invoke_raw(lam, "bash-err", b'{"fail": true}')
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    # What the bootstrap posted to /error, byte for byte.
    assert body == ('{"errorMessage":"refused event %s","errorType":"Bash.HandlerFailed"}'
                    % rid).encode()
    # The environment survives a handled error.
    _, out, _ = invoke(lam, "bash-err", {"after": "error"})
    assert out["event"] == {"after": "error"}


def test_bash_bootstrap_exiting_mid_invocation_is_runtime_exit_error(lam):
    create_provided(lam, "bash-exit", bash_files(1))
    _, before, _ = invoke(lam, "bash-exit", {"n": 1})
    r, out, rid = invoke(lam, "bash-exit", {"exit": True}, LogType="Tail")
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorType": "Runtime.ExitError",
                   "errorMessage": f"RequestId: {rid} Error: Runtime exited with error: "
                                   "exit status 3"}
    assert "bash handler exits" in log_tail(r)
    _, after, _ = invoke(lam, "bash-exit", {"n": 2})  # a fresh environment
    assert after["event"] == {"n": 2} and after["pid"] != before["pid"]


def test_error_body_that_is_not_json_comes_back_verbatim(lam):
    # Spec test 35: /error without Lambda-Runtime-Function-Error-Type and with a body that is
    # not JSON; the Invoke still reports a function error and returns the bytes as posted.
    bootstrap = textwrap.dedent('''\
        #!/bin/bash
        set -euo pipefail
        api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
        headers="$(mktemp)"
        while true; do
          curl -sS -o /dev/null -D "$headers" "$api/invocation/next"
          id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
          curl -sS -o /dev/null -X POST --data-binary 'plain words, no JSON' \\
            "$api/invocation/$id/error"
        done
        ''')
    create_provided(lam, "plainerr", {"bootstrap": executable(bootstrap)})
    r, body, _ = invoke_raw(lam, "plainerr", b"{}")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert body == b"plain words, no JSON"


def test_init_error_is_answered_202_and_its_process_ends(lam, tmp_path):
    # Spec test 36: /runtime/init/error before any /next gets 202, the Invoke that started the
    # environment returns the posted document as a function error, and the runtime, which
    # would wait on, is gone soon after (docs/runtime.md: killed after a second).
    mark = tmp_path / "mark"
    bootstrap = textwrap.dedent('''\
        #!/bin/bash
        set -euo pipefail
        echo $$ > "$MARK.pid"
        code=$(curl -sS -o /dev/null -w '%{http_code}' -X POST \\
          -H 'Lambda-Runtime-Function-Error-Type: Runtime.Custom' \\
          --data-binary '{"errorMessage":"no config","errorType":"Runtime.Custom"}' \\
          "http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime/init/error")
        echo "$code" > "$MARK.status"
        exec sleep 60
        ''')
    create_provided(lam, "initerr", {"bootstrap": executable(bootstrap)},
                    Environment={"Variables": {"MARK": str(mark)}})
    r, out, _ = invoke(lam, "initerr", {})
    assert r["FunctionError"] == "Unhandled"
    assert out == {"errorMessage": "no config", "errorType": "Runtime.Custom"}
    pid = int(pathlib.Path(f"{mark}.pid").read_text())
    deadline = time.monotonic() + 10
    status = pathlib.Path(f"{mark}.status")
    while time.monotonic() < deadline and (not status.exists() or pid_alive(pid)):
        time.sleep(0.05)
    assert status.read_text().strip() == "202"
    assert not pid_alive(pid)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


TIMED_NEXT_BOOTSTRAP = textwrap.dedent('''\
    #!/bin/bash
    set -euo pipefail
    api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
    headers="$(mktemp)"
    while true; do
      start=$(date +%s%N)
      curl -sS -o /dev/null -D "$headers" "$api/invocation/next"
      waited=$(( ($(date +%s%N) - start) / 1000000 ))
      id="$(grep -i '^lambda-runtime-aws-request-id:' "$headers" | cut -d' ' -f2 | tr -d '\\r\\n')"
      curl -sS -o /dev/null -X POST --data-binary "{\\"waited_ms\\":$waited}" \\
        "$api/invocation/$id/response"
    done
    ''')


def test_next_stays_open_while_nothing_is_pending(lam):
    # Spec test 33: the runtime's /next, sent right after its first answer, is held for as
    # long as no invocation comes (5.5 s here), then answered with the next one.
    create_provided(lam, "poller", {"bootstrap": executable(TIMED_NEXT_BOOTSTRAP)})
    _, first, _ = invoke(lam, "poller", {})
    time.sleep(5.5)
    _, second, _ = invoke(lam, "poller", {})
    assert first["waited_ms"] < 5000
    assert second["waited_ms"] >= 5000


@pytest.mark.parametrize("status, reason", [
    (7, "Runtime exited with error: exit status 7"),
    (0, "Runtime exited without providing a reason"),  # spec test 40
])
def test_bootstrap_that_exits_during_init_is_runtime_exit_error(lam, status, reason):
    files = {"bootstrap": executable(f"#!/bin/bash\necho 'cannot start' >&2\nexit {status}\n")}
    create_provided(lam, "exits", files)
    r, out, rid = invoke(lam, "exits", {}, LogType="Tail")
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out == {"errorType": "Runtime.ExitError",
                   "errorMessage": f"RequestId: {rid} Error: {reason}"}
    assert "cannot start" in log_tail(r)


@pytest.mark.parametrize("files", [
    {"function.sh": BASH_FUNCTION},                                         # no bootstrap
    {"bootstrap": (BASH_BOOTSTRAP, PLAIN_FILE), "function.sh": BASH_FUNCTION},  # not executable
], ids=["missing", "not-executable"])
def test_missing_bootstrap_is_runtime_invalid_entrypoint(lam, files, tmp_path):
    create_provided(lam, "noboot", files)
    r, out, rid = invoke(lam, "noboot", {})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.InvalidEntrypoint"
    message = out["errorMessage"]
    prefix = f"RequestId: {rid} Error: Couldn't find valid bootstrap(s): ["
    assert message.startswith(prefix), message
    task_root_bootstrap, layer_bootstrap = message[len(prefix):].rstrip("]").split(" ")
    assert task_root_bootstrap.startswith(str(tmp_path / "data"))  # the code dir Sluice made
    assert task_root_bootstrap.endswith("/bootstrap")
    assert layer_bootstrap == "/opt/bootstrap"
    assert set(out) == {"errorType", "errorMessage"}


# ---- 2. C++ on aws-lambda-cpp ------------------------------------------------------------


@pytest.fixture
def cpp_zip():
    if not (CPP_BOOTSTRAP.is_file() and os.access(CPP_BOOTSTRAP, os.X_OK)):
        pytest.fail(f"no C++ test function at {CPP_BOOTSTRAP}; {INSTALL_HINT}")
    return {"bootstrap": (CPP_BOOTSTRAP.read_bytes(), EXECUTABLE)}


def test_cpp_function_echoes_the_payload(lam, cpp_zip):
    create_provided(lam, "cpp", cpp_zip, handler="echo.handler")
    payload = b'{"k": [1, 2, 3], "s": "caf\\u00e9"}'
    r, body, _ = invoke_raw(lam, "cpp", payload)
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert body == payload  # the bytes the client posted to /response, untouched


def test_cpp_failure_is_reported_with_function_error(lam, cpp_zip):
    create_provided(lam, "cpp-fail", cpp_zip, handler="echo.handler")
    r, body, _ = invoke_raw(lam, "cpp-fail", b'{"fail": 1}')
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert json.loads(body) == {"errorMessage": "asked to fail",
                                "errorType": "Sluice.TestFailure", "stackTrace": []}
    # Byte for byte what this aws-lambda-cpp posts to /error (its space included).
    assert body == (b'{"errorMessage":"asked to fail","errorType":"Sluice.TestFailure", '
                    b'"stackTrace":[]}')
    _, again, _ = invoke_raw(lam, "cpp-fail", b'"still alive"')  # the process carries on
    assert again == b'"still alive"'


def test_cpp_function_context_values(lam, cpp_zip):
    create_provided(lam, "cpp-ctx", cpp_zip, handler="ctx.handler", Timeout=7, MemorySize=256)
    r, out, rid = invoke(lam, "cpp-ctx", {"context": True}, LogType="Tail")
    assert "FunctionError" not in r
    assert out["request_id"] == rid  # the x-amzn-RequestId of the Invoke (spec 22)
    assert out["function_arn"] == ARN_PREFIX + "cpp-ctx"
    assert 0 < out["remaining_ms"] <= 7000
    assert TRACE_RE.fullmatch(out["xray_trace_id"])
    assert (out["handler"], out["function_name"], out["memory_mb"]) == \
        ("ctx.handler", "cpp-ctx", "256")
    assert out["event"] == {"context": True}
    assert f"cpp handler: request {rid}" in log_tail(r)
    _, out2, rid2 = invoke(lam, "cpp-ctx", {"context": 2})
    assert out2["pid"] == out["pid"] and out2["request_id"] == rid2 != rid  # warm


# ---- 3. awslambdaric (PyPI) --------------------------------------------------------------

PYTHON_APP = textwrap.dedent('''\
    import os
    import sys

    def handler(event, context):
        if event.get("fail"):
            raise ValueError("python failed: " + str(event["fail"]))
        return {
            "event": event,
            "client": "awslambdaric" in sys.modules,
            "request_id": context.aws_request_id,
            "function_name": context.function_name,
            "function_version": context.function_version,
            "invoked_function_arn": context.invoked_function_arn,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "log_group_name": context.log_group_name,
            "log_stream_name": context.log_stream_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "trace": os.environ.get("_X_AMZN_TRACE_ID"),
            "cwd": os.getcwd(),
            "task_root": os.environ["LAMBDA_TASK_ROOT"],
        }
    ''')


def awslambdaric_python():
    """This interpreter when it has awslambdaric (the test venv does), else build/venv's."""
    for candidate in (sys.executable, str(REPO_ROOT / "build/venv/bin/python")):
        if pathlib.Path(candidate).exists() and subprocess.run(
                [candidate, "-c", "import awslambdaric.bootstrap"], capture_output=True,
                timeout=60).returncode == 0:
            return candidate
    pytest.fail("no Python with awslambdaric (pinned in tests/e2e/requirements.txt); "
                "run make test-deps")


@pytest.fixture
def python_ric_files():
    python = awslambdaric_python()
    bootstrap = f'#!/bin/sh\nexec {shlex.quote(python)} -m awslambdaric "$_HANDLER"\n'
    return {"bootstrap": executable(bootstrap), "app.py": PYTHON_APP}


def test_awslambdaric_invoke_and_context(lam, python_ric_files):
    create_provided(lam, "pyric", python_ric_files, handler="app.handler", Timeout=6)
    r, out, rid = invoke(lam, "pyric", {"a": [1, 2]})
    assert r["StatusCode"] == 200 and "FunctionError" not in r
    assert out["event"] == {"a": [1, 2]} and out["client"] is True
    assert out["request_id"] == rid
    assert out["function_name"] == "pyric" and out["function_version"] == "$LATEST"
    assert out["invoked_function_arn"] == ARN_PREFIX + "pyric"
    assert out["memory_limit_in_mb"] == "128"
    assert out["log_group_name"] == "/aws/lambda/pyric"
    assert LOG_STREAM_RE.fullmatch(out["log_stream_name"])
    assert 0 < out["remaining_ms"] <= 6000
    assert out["trace"] and TRACE_RE.fullmatch(out["trace"].split(";Lineage=")[0])
    assert out["cwd"] == out["task_root"]


def test_awslambdaric_error(lam, python_ric_files):
    create_provided(lam, "pyric-err", python_ric_files, handler="app.handler")
    r, out, rid = invoke(lam, "pyric-err", {"fail": "x"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "ValueError"
    assert out["errorMessage"] == "python failed: x"
    assert out["requestId"] == rid
    assert isinstance(out["stackTrace"], list) and out["stackTrace"]


def test_awslambdaric_import_error_is_an_init_error(lam, python_ric_files):
    create_provided(lam, "pyric-init", python_ric_files, handler="nosuch.handler")
    r, out, _ = invoke(lam, "pyric-init", {})
    assert r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "Runtime.ImportModuleError"
    assert out["errorMessage"] == "Unable to import module 'nosuch': No module named 'nosuch'"


# ---- 4. aws-lambda-ric (npm) -------------------------------------------------------------

NODE_APP = textwrap.dedent('''\
    exports.handler = async (event, context) => {
      if (event.fail) throw new TypeError("node failed: " + event.fail);
      return {
        event,
        client: typeof globalThis.awslambda === "object",
        requestId: context.awsRequestId,
        functionName: context.functionName,
        functionVersion: context.functionVersion,
        invokedFunctionArn: context.invokedFunctionArn,
        memoryLimitInMB: context.memoryLimitInMB,
        logStreamName: context.logStreamName,
        remainingMs: context.getRemainingTimeInMillis(),
        pid: process.pid,
      };
    };
    ''')


@pytest.fixture
def node_ric_files():
    entry = NODE_RIC / "index.mjs"
    if not (entry.is_file() and (NODE_RIC / "rapid-client.node").is_file()):
        pytest.fail(f"aws-lambda-ric is not built under {NODE_RIC}; {INSTALL_HINT}")
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"no node on PATH for aws-lambda-ric; {INSTALL_HINT}")
    # aws-lambda-ric 4.x reads the handler from _HANDLER and the code from LAMBDA_TASK_ROOT.
    bootstrap = f"#!/bin/sh\nexec {shlex.quote(node)} {shlex.quote(str(entry))}\n"
    return {"bootstrap": executable(bootstrap), "index.js": NODE_APP}


def node_function(lam, name, files, **extra):
    # Sluice limits a provided process's address space to MemorySize + 256 MiB
    # (docs/runtime.md), and V8 reserves far more than it uses: at 128 MB, Node started by a
    # bootstrap dies at once (Runtime.ExitError, signal: trace/breakpoint trap).
    create_provided(lam, name, files, handler="index.handler", MemorySize=1024, **extra)


def test_aws_lambda_ric_invoke_and_context(lam, node_ric_files):
    node_function(lam, "noderic", node_ric_files, Timeout=6)
    r, out, rid = invoke(lam, "noderic", {"a": 2})
    assert r["StatusCode"] == 200 and "FunctionError" not in r, out
    assert out["event"] == {"a": 2} and out["client"] is True
    assert out["requestId"] == rid
    assert (out["functionName"], out["functionVersion"]) == ("noderic", "$LATEST")
    assert out["invokedFunctionArn"] == ARN_PREFIX + "noderic"
    assert out["memoryLimitInMB"] == "1024"
    assert LOG_STREAM_RE.fullmatch(out["logStreamName"])
    assert 0 < out["remainingMs"] <= 6000
    _, out2, rid2 = invoke(lam, "noderic", {"a": 3})
    assert out2["pid"] == out["pid"] and out2["requestId"] == rid2 != rid


def test_aws_lambda_ric_error(lam, node_ric_files):
    node_function(lam, "noderic-err", node_ric_files)
    r, out, _ = invoke(lam, "noderic-err", {"fail": "boom"})
    assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled"
    assert out["errorType"] == "TypeError"
    assert out["errorMessage"] == "node failed: boom"
    assert isinstance(out["trace"], list) and out["trace"]
