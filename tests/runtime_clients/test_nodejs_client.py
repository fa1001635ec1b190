"""Sluice's Node.js runtime client (src/runtime/clients/nodejs/sluice_runtime.mjs) against the
fake Runtime API: module kinds (CommonJS, ES modules), calling conventions (async, promise,
callback, legacy context methods), error documents, init errors, context and console output.
Expected bodies are those of spec/lambda-api.md sections 7, 8.2 and 9."""

import json
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from conftest import FUNCTION_ARN, LOG_STREAM

CJS_OK = "exports.handler = async (event) => ({ ok: true, event });\n"


def test_cjs_async_handler(launch, fake_api):
    proc = launch("node", {"index.js": CJS_OK}, "index.handler")
    rid = fake_api.invoke({"a": 1})
    res = fake_api.result(rid)
    assert res.kind == "response"
    assert res.json() == {"ok": True, "event": {"a": 1}}
    assert res.headers["content-type"] == "application/json"
    assert proc.proc.poll() is None


def test_cjs_file_with_cjs_extension(launch, fake_api):
    launch("node", {"index.cjs": "module.exports.handler = async () => 'from cjs';\n"}, "index.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "from cjs"


def test_esm_mjs_handler(launch, fake_api):
    code = "import { sep } from 'node:path';\nexport const handler = async (e) => ({ esm: true, sep, e });\n"
    launch("node", {"index.mjs": code}, "index.handler")
    rid = fake_api.invoke({"x": 2})
    assert fake_api.result(rid).json() == {"esm": True, "sep": "/", "e": {"x": 2}}


def test_esm_js_with_type_module(launch, fake_api):
    files = {
        "package.json": json.dumps({"name": "fn", "type": "module"}),
        "index.js": "export async function handler() { return typeof require; }\n",
    }
    launch("node", files, "index.handler")
    rid = fake_api.invoke({})
    # In an ES module `require` is not defined: proves the file was imported, not required.
    assert fake_api.result(rid).json() == "undefined"


def test_js_without_type_module_is_commonjs(launch, fake_api):
    files = {
        "package.json": json.dumps({"name": "fn"}),
        "index.js": "exports.handler = async () => typeof require;\n",
    }
    launch("node", files, "index.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "function"


def test_nested_directory_and_property_path(launch, fake_api):
    files = {"sub/dir/file.js": "exports.nested = { fn: async () => 'deep' };\n"}
    launch("node", files, "sub/dir/file.nested.fn")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "deep"


def test_handler_from_node_modules_package(launch, fake_api):
    files = {
        "node_modules/mypkg/package.json": json.dumps({"name": "mypkg", "main": "main.js"}),
        "node_modules/mypkg/main.js": "exports.handler = async () => 'from package';\n",
    }
    launch("node", files, "mypkg.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "from package"


def test_callback_handler(launch, fake_api):
    launch("node", {"index.js": "exports.handler = (e, c, cb) => cb(null, { cb: true });\n"}, "index.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == {"cb": True}


def test_promise_returning_non_async_handler(launch, fake_api):
    code = "exports.handler = (e) => new Promise((resolve) => setTimeout(() => resolve(e.n * 2), 50));\n"
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({"n": 21})
    assert fake_api.result(rid).json() == 42


@pytest.mark.parametrize("wait,min_s,max_s", [(True, 0.9, 30), (False, 0, 0.9)])
def test_callback_waits_for_empty_event_loop(launch, fake_api, wait, min_s, max_s):
    code = (
        "exports.handler = (e, c, cb) => {\n"
        f"  c.callbackWaitsForEmptyEventLoop = {'true' if wait else 'false'};\n"
        "  setTimeout(() => console.log('timer fired'), 1000);\n"
        "  cb(null, 'answer');\n"
        "};\n"
    )
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.json() == "answer"
    took = res.at - fake_api.delivered_at[rid]
    assert min_s <= took < max_s, took


@pytest.mark.parametrize("call,expected_kind,expected", [
    ("c.succeed({ legacy: 1 })", "response", {"legacy": 1}),
    ("c.done(null, 'done ok')", "response", "done ok"),
    ("c.fail(new Error('legacy fail'))", "error", "legacy fail"),
    ("c.fail()", "error", "handled"),
])
def test_legacy_context_methods(launch, fake_api, call, expected_kind, expected):
    launch("node", {"index.js": f"exports.handler = (e, c) => {{ {call}; }};\n"}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == expected_kind
    if expected_kind == "response":
        assert res.json() == expected
    else:
        assert res.json()["errorMessage"] == expected


def test_only_first_answer_counts(launch, fake_api):
    code = "exports.handler = (e, c, cb) => { cb(null, 'first'); cb(null, 'second'); c.succeed('third'); };\n"
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).json() == "first"
    rid2 = fake_api.invoke({})
    fake_api.result(rid2)
    assert [p.body for p in fake_api.posted if p.request_id == rid] == [b'"first"']


def test_sync_handler_that_never_answers_returns_null(launch, fake_api):
    launch("node", {"index.js": "exports.handler = (e, c) => { /* no callback */ };\n"}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert (res.kind, res.body) == ("response", b"null")


def test_async_handler_that_never_settles(launch, fake_api):
    launch("node", {"index.js": "exports.handler = async () => new Promise(() => {});\n"}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json()["errorType"] == "Runtime.NodeJsExit"


def test_undefined_result_is_null(launch, fake_api):
    launch("node", {"index.js": "exports.handler = async () => undefined;\n"}, "index.handler")
    rid = fake_api.invoke({})
    assert fake_api.result(rid).body == b"null"


def test_thrown_type_error_document(launch, fake_api):
    code = "exports.handler = async (e) => { null.boom; };\n"
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    doc = res.json()
    assert list(doc) == ["errorType", "errorMessage", "trace"]
    assert doc["errorType"] == "TypeError"
    assert doc["errorMessage"] == "Cannot read properties of null (reading 'boom')"
    assert doc["trace"][0] == "TypeError: Cannot read properties of null (reading 'boom')"
    assert any("index.js" in line for line in doc["trace"][1:])
    assert res.headers["lambda-runtime-function-error-type"] == "TypeError"
    line = proc.wait_line(lambda l: "\tERROR\tInvoke Error" in l, "the error log line")
    assert f"\t{rid}\tERROR\tInvoke Error \t" in line
    logged = json.loads(line.split("Invoke Error \t", 1)[1])
    assert logged["errorType"] == "TypeError"


@pytest.mark.parametrize("set_name,expected_type", [(True, "OrderRejected"), (False, "Error")])
def test_custom_error_class(launch, fake_api, set_name, expected_type):
    set_name_js = 'this.name = "OrderRejected";' if set_name else ""
    code = (
        "class OrderRejected extends Error {\n"
        "  constructor(m) { super(m); " + set_name_js + " }\n"
        "}\n"
        "exports.handler = async (e) => { throw new OrderRejected('no stock for ' + e.sku); };\n"
    )
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({"sku": "A1"})
    doc = fake_api.result(rid).json()
    assert doc["errorType"] == expected_type
    assert doc["errorMessage"] == "no stock for A1"


@pytest.mark.parametrize("code,error_type,message", [
    ("exports.handler = async () => { throw 'boom'; };", "string", "boom"),
    ("exports.handler = async () => Promise.reject(42);", "number", "42"),
    ("exports.handler = (e, c, cb) => cb({ code: 7 });", "object", "[object Object]"),
    ("exports.handler = () => { throw 'sync boom'; };", "string", "sync boom"),
])
def test_non_error_values(launch, fake_api, code, error_type, message):
    launch("node", {"index.js": code + "\n"}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json() == {"errorType": error_type, "errorMessage": message, "trace": []}


def test_circular_result_cannot_be_serialized(launch, fake_api):
    code = "exports.handler = async () => { const a = {}; a.self = a; return a; };\n"
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    doc = res.json()
    assert (doc["errorType"], doc["errorMessage"]) == ("Error", "Unable to stringify response body")
    # The process keeps serving.
    rid2 = fake_api.invoke({})
    assert fake_api.result(rid2).kind == "error"
    assert proc.proc.poll() is None


def test_bigint_result_cannot_be_serialized_with_callback(launch, fake_api):
    launch("node", {"index.js": "exports.handler = (e, c, cb) => cb(null, { n: 10n });\n"}, "index.handler")
    rid = fake_api.invoke({})
    doc = fake_api.result(rid).json()
    assert (doc["errorType"], doc["errorMessage"]) == ("Error", "Unable to stringify response body")


def test_import_error(launch, fake_api):
    proc = launch("node", {}, "nosuch.handler")
    err = fake_api.init_error()
    doc = err.json()
    assert doc["errorType"] == "Runtime.ImportModuleError"
    assert doc["errorMessage"].startswith("Error: Cannot find module 'nosuch'")
    assert doc["trace"][0].startswith("Runtime.ImportModuleError: Error: Cannot find module 'nosuch'")
    assert err.headers["lambda-runtime-function-error-type"] == "Runtime.ImportModuleError"
    assert proc.wait_exit() == 129
    assert fake_api.next_calls == 0


def test_handler_not_exported(launch, fake_api):
    proc = launch("node", {"index.js": CJS_OK}, "index.nothere")
    err = fake_api.init_error()
    doc = err.json()
    assert list(doc) == ["errorType", "errorMessage", "trace"]
    assert doc["errorType"] == "Runtime.HandlerNotFound"
    assert doc["errorMessage"] == "index.nothere is undefined or not exported"
    assert doc["trace"][0] == "Runtime.HandlerNotFound: index.nothere is undefined or not exported"
    assert err.headers["lambda-runtime-function-error-type"] == "Runtime.HandlerNotFound"
    assert proc.wait_exit() == 129


def test_handler_not_a_function(launch, fake_api):
    proc = launch("node", {"index.js": "exports.value = 3;\n"}, "index.value")
    doc = fake_api.init_error().json()
    assert (doc["errorType"], doc["errorMessage"]) == ("Runtime.HandlerNotFound", "index.value is not a function")
    assert proc.wait_exit() == 129


@pytest.mark.parametrize("handler,message", [
    ("../x.h", "'../x.h' is not a valid handler name. Use absolute paths when specifying root directories "
               "in handler names."),
    ("index", "Bad handler"),
])
def test_malformed_handler_names(launch, fake_api, handler, message):
    proc = launch("node", {"index.js": CJS_OK}, handler)
    doc = fake_api.init_error().json()
    assert (doc["errorType"], doc["errorMessage"]) == ("Runtime.MalformedHandlerName", message)
    assert proc.wait_exit() == 129


@pytest.mark.parametrize("filename", ["index.js", "index.mjs"])
def test_syntax_error(launch, fake_api, filename):
    proc = launch("node", {filename: "exports.handler = async () => {;\n"}, "index.handler")
    doc = fake_api.init_error().json()
    assert doc["errorType"] == "Runtime.UserCodeSyntaxError"
    assert doc["errorMessage"].startswith("SyntaxError: ")
    assert proc.wait_exit() == 129


def test_exception_at_module_load(launch, fake_api):
    proc = launch("node", {"index.js": "throw new RangeError('bad config');\n"}, "index.handler")
    doc = fake_api.init_error().json()
    assert (doc["errorType"], doc["errorMessage"]) == ("RangeError", "bad config")
    assert proc.wait_exit() == 129


def test_uncaught_exception_during_invocation(launch, fake_api):
    code = "exports.handler = (e, c, cb) => { setTimeout(() => { throw new Error('late'); }, 10); };\n"
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert (res.json()["errorType"], res.json()["errorMessage"]) == ("Error", "late")
    assert proc.wait_exit() == 129


def test_unhandled_rejection_during_invocation(launch, fake_api):
    code = "exports.handler = (e, c, cb) => { Promise.reject(new Error('lost')); };\n"
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json()["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert res.json()["errorMessage"] == "Error: lost"
    assert proc.wait_exit() == 128


def test_unhandled_rejection_during_init(launch, fake_api):
    proc = launch("node", {"index.js": "Promise.reject(new Error('init went wrong'));\n" + CJS_OK}, "index.handler")
    doc = fake_api.init_error().json()
    assert doc["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert doc["errorMessage"] == "Error: init went wrong"
    assert proc.wait_exit() == 128
    assert fake_api.next_calls == 0  # init had not ended: /init/error is still allowed (spec 7.4)


def test_refused_answer_does_not_stop_the_client(launch, fake_api):
    proc = launch("node", {"index.js": CJS_OK}, "index.handler")
    fake_api.post_status["refused"] = 413
    fake_api.invoke({}, request_id="refused")
    assert fake_api.result("refused").kind == "response"
    rid = fake_api.invoke({"n": 2})
    assert fake_api.result(rid).json() == {"ok": True, "event": {"n": 2}}
    assert proc.proc.poll() is None
    assert any("answered 413" in line for line in proc.output()[1].splitlines())


def test_invalid_json_event_is_an_invocation_error(launch, fake_api):
    launch("node", {"index.js": CJS_OK}, "index.handler")
    rid = fake_api.invoke(b"{oops")
    res = fake_api.result(rid)
    assert res.kind == "error"
    assert res.json()["errorType"] == "SyntaxError"


def test_context_fields(launch, fake_api):
    code = (
        "exports.handler = async (e, c) => {\n"
        "  const first = c.getRemainingTimeInMillis();\n"
        "  await new Promise((r) => setTimeout(r, 200));\n"
        "  return { id: c.awsRequestId, arn: c.invokedFunctionArn, name: c.functionName,\n"
        "           version: c.functionVersion, memory: c.memoryLimitInMB, group: c.logGroupName,\n"
        "           stream: c.logStreamName, first, second: c.getRemainingTimeInMillis(),\n"
        "           waits: c.callbackWaitsForEmptyEventLoop, cc: c.clientContext === undefined,\n"
        "           trace: process.env._X_AMZN_TRACE_ID, xray: c.xRayTraceId,\n"
        "           fns: [typeof c.done, typeof c.succeed, typeof c.fail] };\n"
        "};\n"
    )
    launch("node", {"index.js": code}, "index.handler")
    trace = "Root=1-00000001-aaaaaaaaaaaaaaaaaaaaaaaa;Sampled=0"
    rid = fake_api.invoke({}, timeout_ms=5000, trace_id=trace)
    doc = fake_api.result(rid).json()
    assert doc["id"] == rid
    assert doc["arn"] == FUNCTION_ARN
    assert doc["name"] == "f1"
    assert doc["version"] == "$LATEST"
    assert doc["memory"] == "128"
    assert doc["group"] == "/aws/lambda/f1"
    assert doc["stream"] == LOG_STREAM
    assert 0 < doc["first"] <= 5000
    assert doc["first"] - doc["second"] >= 150
    assert doc["waits"] is True
    assert doc["cc"] is True
    assert doc["trace"] == trace and doc["xray"] == trace
    assert doc["fns"] == ["function", "function", "function"]


def test_client_context_and_identity(launch, fake_api):
    code = "exports.handler = async (e, c) => ({ k: c.clientContext.custom.k, id: c.identity.cognitoIdentityId });\n"
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({}, extra_headers={
        "Lambda-Runtime-Client-Context": json.dumps({"custom": {"k": "v"}}),
        "Lambda-Runtime-Cognito-Identity": json.dumps({"cognitoIdentityId": "id-1"}),
    })
    assert fake_api.result(rid).json() == {"k": "v", "id": "id-1"}


def test_invocations_reuse_the_process(launch, fake_api):
    code = "let count = 0;\nexports.handler = async () => [++count, process.pid];\n"
    proc = launch("node", {"index.js": code}, "index.handler")
    results = []
    for _ in range(3):
        rid = fake_api.invoke({})
        results.append(fake_api.result(rid).json())
    assert [r[0] for r in results] == [1, 2, 3]
    assert {r[1] for r in results} == {proc.proc.pid}
    fake_api.wait_next_calls(4)


def test_console_output_is_prefixed(launch, fake_api):
    code = ("exports.handler = async (e) => {\n"
            "  console.log('hello %s', e.who);\n  console.warn('two\\nlines');\n  return 1;\n};\n")
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({"who": "node"})
    fake_api.result(rid)
    line = proc.wait_line(lambda l: l.endswith("hello node"), "the console.log line")
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\t" + re.escape(rid) + r"\tINFO\thello node", line)
    warn = proc.wait_line(lambda l: "two" in l, "the console.warn line")
    assert warn.endswith(f"\t{rid}\tWARN\ttwo\rlines")


def test_console_json_format_and_level(launch, fake_api):
    code = "exports.handler = async () => { console.debug('hidden'); console.info('shown'); return 1; };\n"
    proc = launch("node", {"index.js": code}, "index.handler",
                  env={"AWS_LAMBDA_LOG_FORMAT": "JSON", "AWS_LAMBDA_LOG_LEVEL": "INFO"})
    rid = fake_api.invoke({})
    fake_api.result(rid)
    entry = json.loads(proc.wait_line(lambda l: "shown" in l, "the JSON log line"))
    assert entry["level"] == "INFO" and entry["message"] == "shown" and entry["requestId"] == rid
    assert "hidden" not in proc.output()[0]


def test_streamify_response_is_buffered(launch, fake_api):
    code = ("exports.handler = awslambda.streamifyResponse(async (e, stream, c) => {\n"
            "  stream.setContentType('text/plain');\n"
            "  stream.write('part1,'); stream.write(Buffer.from([0xff, 0x00])); stream.end();\n});\n")
    launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({})
    res = fake_api.result(rid)
    assert res.body == b"part1,\xff\x00"
    assert res.headers["content-type"] == "text/plain"


# ------------------------------------------------------------------------------------------------
# Transport: the client's own HTTP/1.1 code on node:net.

def test_chunked_events_and_closed_connections(launch, fake_api):
    # Chunked bodies and a server that closes after every answer must work as well as the
    # engine's Content-Length keep-alive.
    fake_api.chunked_events = True
    fake_api.close_after_reply = True
    proc = launch("node", {"index.js": CJS_OK}, "index.handler")
    for i in range(3):
        event = {"i": i, "pad": "x" * (2500 * i)}  # 0 to 3 chunks of 1000 bytes and a rest
        rid = fake_api.invoke(event)
        res = fake_api.result(rid)
        assert res.kind == "response"
        assert res.json() == {"ok": True, "event": event}
    assert proc.proc.poll() is None


@pytest.mark.parametrize("chunked", [False, True])
def test_large_event_and_result_cross_the_socket(launch, fake_api, chunked):
    fake_api.chunked_events = chunked  # chunked: 1000 chunks, split across many reads
    proc = launch("node", {"index.js": "exports.handler = async (e) => e;\n"}, "index.handler")
    event = {"blob": "".join(chr(0x41 + i % 26) for i in range(1_000_000))}
    rid = fake_api.invoke(event)
    res = fake_api.result(rid)
    assert res.kind == "response"
    assert int(res.headers["content-length"]) == len(res.body)
    assert res.json() == event
    # The connection is still usable after a large exchange.
    rid2 = fake_api.invoke({"small": True})
    assert fake_api.result(rid2).json() == {"small": True}
    assert proc.proc.poll() is None


def test_dropped_keep_alive_connection_is_retried(launch, fake_api):
    # The server closes a reused connection on the client's next request, unanswered: the
    # request is sent again on a new connection, and no invocation is lost.
    fake_api.drop_request_after_post = True
    proc = launch("node", {"index.js": CJS_OK}, "index.handler")
    for i in range(3):
        rid = fake_api.invoke({"i": i})
        assert fake_api.result(rid).json() == {"ok": True, "event": {"i": i}}
    assert fake_api.dropped_requests >= 2
    assert proc.proc.poll() is None


def test_unreachable_runtime_api_exits_1(launch, fake_api):
    port = fake_api.server.server_address[1]
    fake_api.close()  # nothing listens there any more
    proc = launch("node", {"index.js": CJS_OK}, "index.handler",
                  env={"AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"})
    assert proc.wait_exit() == 1
    for t in proc.readers:
        t.join(timeout=5)
    assert "cannot get the next invocation" in proc.output()[1]


def test_header_value_with_line_break_is_not_sent(launch, fake_api):
    # A content type with CR LF would end the header block: the post is refused in the client
    # (as Node's own HTTP client refuses it), logged, and the client asks for the next event.
    code = ("exports.handler = awslambda.streamifyResponse(async (e, stream) => {\n"
            "  if (e.bad) stream.setContentType('text/plain\\r\\nX-Injected: 1');\n"
            "  stream.end('x');\n});\n")
    proc = launch("node", {"index.js": code}, "index.handler")
    rid = fake_api.invoke({"bad": True})
    fake_api.wait_next_calls(2)
    rid2 = fake_api.invoke({"bad": False})
    assert fake_api.result(rid2).body == b"x"
    assert [p.request_id for p in fake_api.posted] == [rid2]
    assert "Invalid character in header content" in proc.output()[1]


# ------------------------------------------------------------------------------------------------
# AWS's own client (aws-lambda-ric from npm), when installed: same bodies from the fake server.

def _aws_lambda_ric():
    """Path of aws-lambda-ric's entry script under $SLUICE_AWS_LAMBDA_RIC_DIR (a directory holding a
    built node_modules/aws-lambda-ric), or None."""
    root = os.environ.get("SLUICE_AWS_LAMBDA_RIC_DIR")
    if not root:
        return None
    pkg = pathlib.Path(root, "node_modules", "aws-lambda-ric")
    try:
        bin_field = json.loads((pkg / "package.json").read_text())["bin"]
    except (OSError, ValueError, KeyError):
        return None
    entry = pkg / (bin_field if isinstance(bin_field, str) else bin_field["aws-lambda-ric"])
    built = any(pkg.rglob("*.node"))  # the native Runtime API client it cannot run without
    return str(entry) if entry.exists() and built else None


@pytest.mark.parametrize("code,event", [
    ("exports.handler = async (e) => ({ ok: true, e, list: [1, 2.5, null] });\n", {"a": [1, {"b": None}]}),
    ("exports.handler = async (e) => { throw new TypeError('bad sku ' + e.sku); };\n", {"sku": "A1"}),
])
def test_aws_lambda_ric_parity(launch, fake_api, code, event):
    bin_path = _aws_lambda_ric()
    if bin_path is None:
        pytest.skip("aws-lambda-ric is optional and not installed here (set SLUICE_AWS_LAMBDA_RIC_DIR to a "
                    "directory with a built node_modules/aws-lambda-ric; see src/runtime/clients/README.md)")
    theirs = launch("node", {"index.js": code}, "index.handler", argv=[shutil.which("node"), bin_path, "index.handler"])
    rid = fake_api.invoke(event)
    got_theirs = fake_api.result(rid)
    theirs.kill()
    launch("node", {"index.js": code}, "index.handler")
    rid2 = fake_api.invoke(event)
    got_ours = fake_api.result(rid2)
    assert got_ours.kind == got_theirs.kind
    if got_ours.kind == "response":
        assert got_ours.json() == got_theirs.json()
    else:
        a, b = got_ours.json(), got_theirs.json()
        assert (a["errorType"], a["errorMessage"]) == (b["errorType"], b["errorMessage"])
        assert a["trace"][0] == b["trace"][0]
        assert set(a) == set(b)
