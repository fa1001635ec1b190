"""Fixtures for end-to-end tests: the real `sluice` binary on 127.0.0.1 with --port 0.

The binary comes from $SLUICE_BIN, else build/release/sluice, else build/debug/sluice
(relative to the repository root). Every wait has a deadline; every process started here
is killed at the end of its test if it is still running.
"""

import json
import os
import pathlib
import re
import select
import signal
import subprocess
import time
import http.client

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
READY_RE = re.compile(
    r"^sluice ready: listening on http://127\.0\.0\.1:(?P<port>\d+) "
    r"data-dir=(?P<data_dir>\S+) fsync=(?P<fsync>\w+) version=(?P<version>\S+)$"
)
START_TIMEOUT_S = 15.0   # generous: sanitizer builds start slowly
EXIT_TIMEOUT_S = 15.0
HTTP_TIMEOUT_S = 5.0
# What ASan, LSan, UBSan and TSan print when they find something.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "WARNING: ThreadSanitizer")


def find_binary():
    env = os.environ.get("SLUICE_BIN")
    if env:
        path = pathlib.Path(env)
        if not path.is_absolute():
            path = REPO_ROOT / path
        return path
    for candidate in ("build/release/sluice", "build/debug/sluice"):
        path = REPO_ROOT / candidate
        if path.exists():
            return path
    return REPO_ROOT / "build/release/sluice"


@pytest.fixture(scope="session")
def sluice_bin():
    path = find_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"sluice binary not found at {path}; build it or set SLUICE_BIN")
    return path


class SluiceProcess:
    """One running `sluice serve`. stdout is a pipe (for the ready line); stderr goes to a
    file, so that a chatty server can never block on a full pipe."""

    def __init__(self, binary, args, stderr_path):
        self.args = [str(binary)] + [str(a) for a in args]
        self.stderr_path = stderr_path
        self._stderr_file = open(stderr_path, "wb")
        self.proc = subprocess.Popen(
            self.args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr_file,
            cwd=str(stderr_path.parent),
        )
        self.ready_line = None
        self.ready = None  # the READY_RE match

    @property
    def pid(self):
        return self.proc.pid

    @property
    def port(self):
        return int(self.ready["port"])

    def stderr_text(self):
        if not self._stderr_file.closed:
            self._stderr_file.flush()
        return self.stderr_path.read_bytes().decode("utf-8", "replace")

    def stderr_lines(self):
        return [line for line in self.stderr_text().splitlines() if line.strip()]

    def wait_ready(self, timeout=START_TIMEOUT_S):
        """Reads stdout up to the first newline, with a deadline. Fails the test with the
        server's stderr when it exits or stays silent."""
        deadline = time.monotonic() + timeout
        fd = self.proc.stdout.fileno()
        data = b""
        while b"\n" not in data:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(f"no ready line within {timeout}s; stderr:\n{self.stderr_text()}")
            readable, _, _ = select.select([fd], [], [], left)
            if not readable:
                continue
            chunk = os.read(fd, 4096)
            if not chunk:  # stdout closed: the process ended
                rc = self.proc.wait(timeout=EXIT_TIMEOUT_S)
                pytest.fail(f"sluice exited with {rc} before ready; stderr:\n{self.stderr_text()}")
            data += chunk
        self.ready_line = data.split(b"\n", 1)[0].decode()
        self.ready = READY_RE.match(self.ready_line)
        assert self.ready, f"unexpected ready line: {self.ready_line!r}"
        return self

    def wait_exit(self, timeout=EXIT_TIMEOUT_S):
        """The exit code; fails the test if the process is still running at the deadline."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"sluice pid {self.pid} still running after {timeout}s")

    def signal(self, sig):
        self.proc.send_signal(sig)

    def connection(self, timeout=HTTP_TIMEOUT_S):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None):
        """One request on a fresh connection: (status, headers dict lower-cased, body bytes)."""
        conn = self.connection()
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            payload = resp.read()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, payload
        finally:
            conn.close()

    def health(self):
        status, headers, body = self.request("GET", "/_sluice/health")
        assert status == 200, body
        assert headers["content-type"] == "application/json"
        return json.loads(body)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(timeout=EXIT_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        if self.proc.stdout:
            self.proc.stdout.close()
        self._stderr_file.close()


@pytest.fixture
def launch(sluice_bin, tmp_path):
    """launch(*serve_args, data_dir=None, ready=True) -> SluiceProcess.

    Runs `sluice serve --port 0 --data-dir <data_dir> <serve_args>`; data_dir defaults to a
    fresh directory under tmp_path. With ready=True, waits for the ready line."""
    started = []

    def _launch(*extra, data_dir=None, ready=True, port_args=("--port", "0")):
        if data_dir is None:
            data_dir = tmp_path / "data"
        n = len(started)
        args = ["serve", *port_args, "--data-dir", str(data_dir), *extra]
        proc = SluiceProcess(sluice_bin, args, tmp_path / f"sluice-{n}.stderr")
        started.append(proc)
        if ready:
            proc.wait_ready()
        return proc

    yield _launch
    # Stop what is still running the way an operator would, so that every test also checks
    # a clean exit (and, in sanitizer builds, the leak check that runs at exit); kill only
    # what does not stop in time. Then look for sanitizer reports in every stderr.
    problems = []
    for proc in started:
        if proc.proc.poll() is None:
            proc.signal(signal.SIGTERM)
            try:
                rc = proc.proc.wait(timeout=EXIT_TIMEOUT_S)
                if rc != 0:
                    problems.append(f"pid {proc.pid} exited {rc} on SIGTERM at teardown")
            except subprocess.TimeoutExpired:
                problems.append(f"pid {proc.pid} ignored SIGTERM for {EXIT_TIMEOUT_S}s")
        proc.kill()
        text = proc.stderr_text()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                problems.append(f"pid {proc.pid} stderr has {marker!r}:\n{text}")
                break
    if problems:
        pytest.fail("\n".join(problems))


@pytest.fixture
def server(launch):
    """A ready server on a fresh data dir."""
    return launch()


@pytest.fixture
def run_sluice(sluice_bin, tmp_path):
    """run_sluice(*args) -> CompletedProcess for invocations expected to exit by themselves."""

    def _run(*args, timeout=EXIT_TIMEOUT_S):
        result = subprocess.run(  # kills the child and raises at the timeout
            [str(sluice_bin), *[str(a) for a in args]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            cwd=str(tmp_path),
        )
        text = result.stderr.decode("utf-8", "replace")
        for marker in SANITIZER_MARKERS:
            assert marker not in text, text
        return result

    return _run
