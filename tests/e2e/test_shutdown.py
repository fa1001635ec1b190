"""Stopping sluice with signals."""

import signal
import socket
import time

import pytest


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_stops_with_exit_0_and_logs_stopped(server, sig):
    assert server.health()["status"] == "ok"
    server.signal(sig)
    assert server.wait_exit(timeout=10) == 0
    assert "stopped" in server.stderr_text()


def test_idle_keep_alive_connection_does_not_delay_shutdown(server):
    conn = server.connection()
    conn.request("GET", "/_sluice/health")
    resp = conn.getresponse()
    resp.read()
    assert resp.status == 200
    # The connection is now idle and kept alive; the grace period is 10 s.
    started = time.monotonic()
    server.signal(signal.SIGTERM)
    assert server.wait_exit(timeout=10) == 0
    assert time.monotonic() - started < 5.0
    conn.sock.settimeout(5)
    assert conn.sock.recv(1) == b""  # closed by the server, not left hanging
    conn.close()


def test_listener_is_closed_after_stop(server):
    port = server.port
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5).close()
