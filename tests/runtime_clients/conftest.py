"""A fake Lambda Runtime API (2018-06-01) for testing runtime clients, and helpers that start a
client as a real subprocess against it.

The fake server hands out queued events on GET /runtime/invocation/next (a long poll, with every
Lambda-Runtime-* header of spec/lambda-api.md section 7.1) and records what the client posts to
/response, /error and /init/error. Every wait has a deadline; every process started here is
killed at the end of its test.
"""

import http.server
import json
import os
import pathlib
import queue
import select
import shutil
import socket
import socketserver
import subprocess
import sys
import threading
import time
import uuid

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
PYTHON_CLIENT = REPO_ROOT / "src/runtime/clients/python/sluice_runtime.py"
NODE_CLIENT = REPO_ROOT / "src/runtime/clients/nodejs/sluice_runtime.mjs"
WAIT_S = 15.0
FUNCTION_NAME = "f1"
FUNCTION_ARN = "arn:aws:lambda:us-east-1:000000000000:function:f1"
LOG_STREAM = "2024/01/02/[$LATEST]0123456789abcdef0123456789abcdef"
PREFIX = "/2018-06-01/runtime"


class Posted:
    """One request the client sent back: kind is 'response', 'error' or 'init_error'."""

    def __init__(self, kind, request_id, headers, body):
        self.kind = kind
        self.request_id = request_id
        self.headers = headers  # dict with lower-case keys
        self.body = body  # bytes
        self.at = time.monotonic()

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"Posted({self.kind}, {self.request_id}, {self.body[:300]!r})"


def _peer_closed(sock):
    """True when the other end of `sock` has closed it (readable, and nothing to read)."""
    readable, _, _ = select.select([sock], [], [], 0)
    if not readable:
        return False
    try:
        return sock.recv(1, socket.MSG_PEEK) == b""
    except OSError:
        return True


class FakeRuntimeApi:
    def __init__(self):
        self.events = queue.Queue()
        self.posted = []
        self.next_calls = 0
        self.delivered_at = {}
        self.cond = threading.Condition()
        self.stopping = False
        self.post_status = {}  # request id -> status to answer its /response or /error with
        # Transport variations the engine's server does not use but HTTP allows: events sent
        # chunked, and a connection closed after every answer.
        self.chunked_events = False
        self.close_after_reply = False
        # A keep-alive connection the server gives up on while the client thinks it idle: the
        # first request that arrives on a connection after it answered a POST is read and the
        # connection closed without an answer (as when an idle timeout and a new request cross).
        self.drop_request_after_post = False
        self.dropped_requests = 0
        api = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real engine

            def log_message(self, *args):
                pass

            def _reply(self, status, body=b"", headers=None, chunked=False):
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                if api.close_after_reply:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for at in range(0, len(body), 1000):
                        piece = body[at:at + 1000]
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _drop_if_asked(self):
                if api.drop_request_after_post and getattr(self, "posted_before", False):
                    with api.cond:
                        api.dropped_requests += 1
                    self.close_connection = True
                    return True
                return False

            def do_GET(self):
                if self._drop_if_asked():
                    return
                if self.path != PREFIX + "/invocation/next":
                    return self._reply(404)
                with api.cond:
                    api.next_calls += 1
                    api.cond.notify_all()
                while True:
                    if api.stopping:
                        return self._reply(503)
                    try:
                        request_id, body, headers = api.events.get(timeout=0.2)
                    except queue.Empty:
                        continue
                    if _peer_closed(self.connection):
                        # A poll left by a runtime that was killed (a test that swaps
                        # runtimes): the event goes to the next poller instead of a dead socket.
                        api.events.put((request_id, body, headers))
                        return
                    break
                with api.cond:
                    api.delivered_at[request_id] = time.monotonic()
                self._reply(200, body, headers, chunked=api.chunked_events)

            def do_POST(self):
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if self._drop_if_asked():
                    return
                self.posted_before = True  # per connection: one handler object per connection
                headers = {k.lower(): v for k, v in self.headers.items()}
                path = self.path
                if path == PREFIX + "/init/error":
                    kind, request_id = "init_error", None
                elif path.startswith(PREFIX + "/invocation/") and path.endswith(("/response", "/error")):
                    rest = path[len(PREFIX + "/invocation/"):]
                    request_id, _, tail = rest.rpartition("/")
                    kind = tail
                else:
                    return self._reply(404)
                with api.cond:
                    api.posted.append(Posted(kind, request_id, headers, body))
                    api.cond.notify_all()
                status = api.post_status.get(request_id, 202)
                if status != 202:
                    return self._reply(status, b'{"errorMessage":"refused by the test","errorType":"Test"}',
                                       {"Content-Type": "application/json"})
                self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

            def handle_error(self, request, client_address):
                # A client killed at the end of a test drops its connection: not a failure.
                if not isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
                    super().handle_error(request, client_address)

        self.server = Server(("127.0.0.1", 0), Handler)
        self.address = "127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def invoke(self, event=b"{}", request_id=None, timeout_ms=3000, content_type="application/json",
               trace_id=None, extra_headers=None):
        """Queues one event; returns its request id and the deadline sent (epoch ms)."""
        if not isinstance(event, bytes):
            event = json.dumps(event).encode()
        request_id = request_id or str(uuid.uuid4())
        deadline_ms = int(time.time() * 1000) + timeout_ms
        headers = {
            "Lambda-Runtime-Aws-Request-Id": request_id,
            "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
            "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
            "Lambda-Runtime-Trace-Id": trace_id
            or "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=0",
        }
        if content_type is not None:
            headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        self.events.put((request_id, event, headers))
        return request_id

    def wait_for(self, predicate, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                found = predicate()
                if found:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out waiting for {what}; posted so far: {self.posted}")
                self.cond.wait(left)

    def result(self, request_id, timeout=WAIT_S):
        return self.wait_for(
            lambda: next((p for p in self.posted if p.request_id == request_id), None),
            f"a result for {request_id}", timeout)

    def init_error(self, timeout=WAIT_S):
        return self.wait_for(
            lambda: next((p for p in self.posted if p.kind == "init_error"), None), "an init error", timeout)

    def wait_next_calls(self, n, timeout=WAIT_S):
        return self.wait_for(lambda: self.next_calls >= n, f"{n} calls of /next", timeout)

    def close(self):
        self.stopping = True
        self.server.shutdown()
        self.server.server_close()


class ClientProcess:
    """A runtime client subprocess. stdout/stderr are read by threads into line lists, so a chatty
    client never blocks on a full pipe."""

    def __init__(self, argv, env, cwd):
        self.proc = subprocess.Popen(argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.stdout_lines = []
        self.stderr_lines = []
        self.cond = threading.Condition()
        self.readers = [
            threading.Thread(target=self._read, args=(self.proc.stdout, self.stdout_lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stderr, self.stderr_lines), daemon=True),
        ]
        for t in self.readers:
            t.start()

    def _read(self, pipe, lines):
        for raw in iter(pipe.readline, b""):
            with self.cond:
                lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_line(self, predicate, what, timeout=WAIT_S):
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.stdout_lines:
                    if predicate(line):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(
                        f"timed out waiting for stdout line: {what}; stdout={self.stdout_lines} "
                        f"stderr={self.stderr_lines}")
                self.cond.wait(left)

    def wait_exit(self, timeout=WAIT_S):
        return self.proc.wait(timeout=timeout)

    def output(self):
        with self.cond:
            return "\n".join(self.stdout_lines), "\n".join(self.stderr_lines)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=WAIT_S)
        for t in self.readers:
            t.join(timeout=WAIT_S)


def base_env(api, task_root, handler, runtime):
    """The variables of spec section 5.2 that a client needs, built from scratch."""
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "AWS_LAMBDA_RUNTIME_API": api.address,
        "_HANDLER": handler,
        "LAMBDA_TASK_ROOT": str(task_root),
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": FUNCTION_NAME,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/" + FUNCTION_NAME,
        "AWS_LAMBDA_LOG_STREAM_NAME": LOG_STREAM,
        "AWS_ACCESS_KEY_ID": "000000000000",
        "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_SESSION_TOKEN": "test",
        "TZ": ":UTC",
        "LANG": "en_US.UTF-8",
    }
    return env


def write_files(root, files):
    for rel, text in files.items():
        path = pathlib.Path(root) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


@pytest.fixture
def fake_api():
    api = FakeRuntimeApi()
    yield api
    api.close()


@pytest.fixture
def launch(fake_api, tmp_path):
    """launch(kind, files, handler, env=None, argv=None) -> ClientProcess.

    kind is 'python' or 'node' (Sluice's clients) or a full argv for another client. Files are
    written into a fresh task root (tmp_path/task)."""
    started = []

    def _launch(kind, files, handler, env=None, argv=None, runtime=None):
        task_root = tmp_path / "task"
        task_root.mkdir(exist_ok=True)
        write_files(task_root, files)
        if kind == "python":
            # $SLUICE_RUNTIME_PYTHON runs the whole suite on another interpreter (e.g. python3.9).
            argv = argv or [os.environ.get("SLUICE_RUNTIME_PYTHON", sys.executable), str(PYTHON_CLIENT)]
            runtime = runtime or "python3.%d" % sys.version_info[1]
        elif kind == "node":
            node = shutil.which("node")
            if node is None:
                pytest.fail("node is not installed")
            argv = argv or [node, str(NODE_CLIENT)]
            runtime = runtime or "nodejs20.x"
        full_env = base_env(fake_api, task_root, handler, runtime)
        full_env.update(env or {})
        proc = ClientProcess(argv, full_env, task_root)
        started.append(proc)
        return proc

    yield _launch
    for proc in started:
        proc.kill()
