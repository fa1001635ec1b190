"""HTTP plumbing of the running binary: routing, keep-alive, limits, malformed input."""

import json
import socket
import time

import pytest

MAX_BODY = 16 * 1024 * 1024  # net::ServerOptions::max_body_bytes default


def raw_exchange(port, payload: bytes, timeout=5.0) -> bytes:
    """Sends `payload` on a fresh socket and returns everything received until the server
    closes the connection (or fails the test at the deadline)."""
    deadline = time.monotonic() + timeout
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(payload)
        received = b""
        while True:
            s.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                pytest.fail(f"server kept the connection open; got {received!r}")
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    return received


def split_response(raw: bytes):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ")[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def test_keep_alive_serves_two_requests_on_one_connection(server):
    conn = server.connection()
    try:
        conn.request("GET", "/_sluice/health")
        first = conn.getresponse()
        assert first.status == 200
        assert json.loads(first.read())["status"] == "ok"
        assert (first.getheader("Connection") or "").lower() != "close"
        sock = conn.sock
        assert sock is not None
        conn.request("GET", "/_sluice/health")
        second = conn.getresponse()
        assert second.status == 200
        json.loads(second.read())
        assert conn.sock is sock  # http.client reconnects silently if the server had closed
    finally:
        conn.close()


def test_http_1_0_request_gets_answer_and_close(server):
    raw = raw_exchange(server.port, b"GET /_sluice/health HTTP/1.0\r\n\r\n")
    status, _, body = split_response(raw)
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_pipelined_requests_are_answered_in_order(server):
    req = b"GET /_sluice/health HTTP/1.1\r\nHost: x\r\n\r\n"
    last = b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    raw = raw_exchange(server.port, req + req + last)
    assert raw.count(b"HTTP/1.1 200 OK") == 2
    assert raw.rfind(b"HTTP/1.1 404") > raw.rfind(b"HTTP/1.1 200")


def test_unknown_amz_target_answers_json_with_type(server):
    status, headers, body = server.request(
        "POST", "/", body=b"{}",
        headers={"X-Amz-Target": "NoSuchService_20990101.DoNothing",
                 "Content-Type": "application/x-amz-json-1.1"})
    assert status == 400  # what Kinesis answers
    assert headers["content-type"].startswith("application/json")
    doc = json.loads(body)
    assert doc["__type"] == "UnknownOperationException"
    assert "NoSuchService_20990101.DoNothing" in doc["message"]


def test_unknown_path_is_404_json(server):
    status, headers, body = server.request("GET", "/no/such/path?x=1")
    assert status == 404
    assert headers["content-type"] == "application/json"
    assert "/no/such/path" in json.loads(body)["message"]


def test_wrong_method_on_known_path_is_405_with_allow(server):
    status, headers, body = server.request("DELETE", "/_sluice/health")
    assert status == 405
    assert headers["allow"] == "GET"
    json.loads(body)


def test_query_string_does_not_change_the_route(server):
    status, _, body = server.request("GET", "/_sluice/health?verbose=1")
    assert status == 200
    assert json.loads(body)["status"] == "ok"


def test_head_sends_length_without_body(server):
    raw = raw_exchange(server.port, b"HEAD /_sluice/health HTTP/1.1\r\nHost: x\r\n"
                                    b"Connection: close\r\n\r\n")
    # HEAD is its own method: the health route is GET only.
    status, headers, body = split_response(raw)
    assert status == 405
    assert body == b""
    assert int(headers["content-length"]) > 0


@pytest.mark.parametrize(
    "garbage",
    [
        b"GARBAGE\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / HTTP/1.1\r\nHeader-Without-Colon\r\n\r\n",
        b"\x00\xff\xfe\x16\x03\x01 binary\r\n\r\n",
        b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nZZ\r\nxx\r\n0\r\n\r\n",
        b"POST / HTTP/1.1\r\nContent-Length: 12abc\r\n\r\n",
    ],
)
def test_malformed_request_gets_400_and_close_and_server_stays_healthy(server, garbage):
    raw = raw_exchange(server.port, garbage)
    status, headers, body = split_response(raw)
    assert status == 400
    assert headers["connection"] == "close"
    assert json.loads(body)["__type"] == "BadRequest"
    assert server.health()["status"] == "ok"


def test_client_closing_mid_request_does_not_hurt(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /x HTTP/1.1\r\nContent-Length: 100\r\n\r\nonly-part")
    assert server.health()["status"] == "ok"


def test_declared_body_over_limit_gets_413_at_once(server):
    head = (f"POST /_sluice/health HTTP/1.1\r\nHost: x\r\nContent-Length: {MAX_BODY + 1}"
            f"\r\n\r\n").encode()
    raw = raw_exchange(server.port, head)
    status, headers, body = split_response(raw)
    assert status == 413
    assert headers["connection"] == "close"
    assert json.loads(body)["__type"] == "RequestEntityTooLargeException"
    assert server.health()["status"] == "ok"


def test_sent_body_over_limit_gets_413_and_server_stays_healthy(server):
    conn = server.connection(timeout=20)
    try:
        conn.request("POST", "/", body=b"x" * (MAX_BODY + 1))
        resp = conn.getresponse()
        assert resp.status == 413
        resp.read()
    finally:
        conn.close()
    assert server.health()["status"] == "ok"


def test_chunked_body_over_limit_gets_413(server):
    chunk = b"x" * (1 << 20)
    payload = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    payload += (b"100000\r\n" + chunk + b"\r\n") * 17 + b"0\r\n\r\n"
    raw = raw_exchange(server.port, payload, timeout=20)
    status, _, _ = split_response(raw)
    assert status == 413
    assert server.health()["status"] == "ok"


def test_body_of_exactly_the_limit_is_accepted(server):
    conn = server.connection(timeout=20)
    try:
        conn.request("POST", "/nowhere", body=b"x" * MAX_BODY)
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 404  # routed, not refused
    finally:
        conn.close()


def test_oversized_headers_get_431(server):
    payload = (b"GET /_sluice/health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (64 * 1024)
               + b"\r\n\r\n")
    status, _, _ = split_response(raw_exchange(server.port, payload))
    assert status == 431
    assert server.health()["status"] == "ok"


def test_expect_100_continue_gets_interim_response(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as s:
        s.sendall(b"POST /nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n"
                  b"Expect: 100-continue\r\nConnection: close\r\n\r\n")
        interim = s.recv(1024)
        assert interim.startswith(b"HTTP/1.1 100 Continue\r\n")
        s.sendall(b"body")
        rest = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            rest += chunk
    assert rest.startswith(b"HTTP/1.1 404")


def test_many_concurrent_connections_are_served(server):
    conns = [server.connection() for _ in range(50)]
    try:
        for c in conns:
            c.request("GET", "/_sluice/health")
        for c in conns:
            resp = c.getresponse()
            assert resp.status == 200
            resp.read()
    finally:
        for c in conns:
            c.close()
