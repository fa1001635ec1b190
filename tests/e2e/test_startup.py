"""Starting sluice: the ready line, the data dir rules, flags, and exit codes."""

import contextlib
import os
import signal
import sqlite3

import pytest

from conftest import READY_RE


def one_error_line(stderr: bytes) -> str:
    lines = [l for l in stderr.decode("utf-8", "replace").splitlines() if l.strip()]
    assert len(lines) == 1, f"expected exactly one stderr line, got {lines!r}"
    assert lines[0].startswith("sluice: error: "), lines[0]
    return lines[0]


def test_ready_line_names_bound_port_abs_data_dir_policy_and_version(launch, tmp_path):
    proc = launch("--fsync", "always", data_dir=tmp_path / "rel" / ".." / "d")
    assert proc.port > 0
    assert proc.ready["data_dir"] == os.path.normpath(tmp_path / "d")  # lexical, absolute
    assert proc.ready["fsync"] == "always"
    assert proc.ready["version"] == proc.health()["version"]


def test_default_fsync_policy_is_group(server):
    assert server.ready["fsync"] == "group"


def test_health_reports_status_version_uptime_and_data_dir(server, tmp_path):
    body = server.health()
    assert body["status"] == "ok"
    assert body["data_dir"] == os.path.normpath(tmp_path / "data")
    assert isinstance(body["uptime_seconds"], float)
    assert 0.0 <= body["uptime_seconds"] < 600.0
    parts = body["version"].split(".")
    assert len(parts) == 3 and all(p.isdigit() for p in parts), body["version"]
    assert set(body) == {"status", "version", "uptime_seconds", "data_dir"}


def test_uptime_grows(server):
    first = server.health()["uptime_seconds"]
    second = server.health()["uptime_seconds"]
    assert second >= first


def test_first_start_creates_missing_dirs_format_and_lock_with_pid(launch, tmp_path):
    data_dir = tmp_path / "a" / "b" / "data"
    proc = launch(data_dir=data_dir)
    assert (data_dir / "FORMAT").read_bytes() == b"sluice-data-format 1\n"
    assert (data_dir / "LOCK").read_text().strip() == str(proc.pid)


def test_restart_on_same_dir_after_clean_stop_succeeds(launch, tmp_path):
    first = launch()
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    second = launch()
    assert second.health()["data_dir"] == os.path.normpath(tmp_path / "data")


def test_restart_after_kill_is_not_blocked_by_stale_lock(launch):
    first = launch()
    first.signal(signal.SIGKILL)
    first.wait_exit()
    second = launch()  # LOCK still holds the dead pid; flock is gone with the process
    assert second.health()["status"] == "ok"


def test_second_server_on_same_data_dir_exits_2_and_first_keeps_serving(launch):
    first = launch()
    second = launch(ready=False)
    assert second.wait_exit() == 2
    assert second.proc.stdout.read() == b""  # no ready line
    line = one_error_line(second.stderr_text().encode())
    assert "locked" in line
    assert f"(pid {first.pid})" in line
    assert first.health()["status"] == "ok"


def test_format_file_with_other_version_exits_2(run_sluice, tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "FORMAT").write_bytes(b"sluice-data-format 2\n")
    result = run_sluice("serve", "--port", "0", "--data-dir", data_dir)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "incompatible format version" in line
    assert "found 2" in line and "reads 1" in line
    assert (data_dir / "FORMAT").read_bytes() == b"sluice-data-format 2\n"  # left alone


@pytest.mark.parametrize("content", [b"", b"hello\n", b"sluice-data-format 1", b"\x00\xff" * 300])
def test_format_file_with_garbage_exits_2(run_sluice, tmp_path, content):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "FORMAT").write_bytes(content)
    result = run_sluice("serve", "--port", "0", "--data-dir", data_dir)
    assert result.returncode == 2
    assert "incompatible format version" in one_error_line(result.stderr)


def test_data_dir_that_is_a_regular_file_exits_2(run_sluice, tmp_path):
    path = tmp_path / "not-a-dir"
    path.write_text("x")
    result = run_sluice("serve", "--port", "0", "--data-dir", path)
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert "not a directory" in line and str(path) in line


def test_data_dir_below_a_regular_file_exits_2(run_sluice, tmp_path):
    path = tmp_path / "file"
    path.write_text("x")
    result = run_sluice("serve", "--port", "0", "--data-dir", path / "data")
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert str(path / "data") in line and "Not a directory" in line


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_data_dir_without_write_permission_exits_2(run_sluice, tmp_path):
    data_dir = tmp_path / "ro"
    data_dir.mkdir()
    data_dir.chmod(0o500)
    try:
        result = run_sluice("serve", "--port", "0", "--data-dir", data_dir)
    finally:
        data_dir.chmod(0o700)
    assert result.returncode == 2
    assert "Permission denied" in one_error_line(result.stderr)


def test_non_empty_dir_without_format_is_refused_and_left_untouched(run_sluice, tmp_path):
    data_dir = tmp_path / "home"
    data_dir.mkdir()
    (data_dir / "notes.txt").write_text("mine")
    result = run_sluice("serve", "--port", "0", "--data-dir", data_dir)
    assert result.returncode == 2
    assert "no FORMAT file" in one_error_line(result.stderr)
    assert sorted(p.name for p in data_dir.iterdir()) == ["notes.txt"]


@pytest.mark.parametrize(
    "flags, mentions",
    [
        (["--fsync", "sometimes"], "--fsync"),
        (["--port", "notanumber"], "--port"),
        (["--port", "65536"], "--port"),
        (["--log-level", "loud"], "--log-level"),
        (["--io-threads", "0"], "--io-threads"),
        (["--no-such-flag"], "--no-such-flag"),
    ],
)
def test_bad_flag_exits_2_with_one_line(run_sluice, tmp_path, flags, mentions):
    result = run_sluice("serve", "--data-dir", tmp_path / "data", *flags)
    assert result.returncode == 2
    assert mentions in one_error_line(result.stderr)
    assert result.stdout == b""
    assert not (tmp_path / "data").exists()  # refused before touching the disk


def test_missing_subcommand_exits_2(run_sluice):
    result = run_sluice()
    assert result.returncode == 2
    one_error_line(result.stderr)


def test_version_flag_prints_version_and_exits_0(run_sluice, server):
    result = run_sluice("--version")
    assert result.returncode == 0
    assert result.stdout.decode().strip() == f"sluice {server.ready['version']}"


def test_unreadable_mapping_in_the_catalog_exits_2_and_is_left_alone(launch, run_sluice, tmp_path):
    # The catalog is read after the functions' invoker exists: the server stops it again
    # without ever having served (in sanitizer builds, without a report), and the row a newer
    # Sluice may have written is kept for it.
    first = launch()
    first.signal(signal.SIGTERM)
    assert first.wait_exit() == 0
    key = "7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c"
    value = b'{"v":2,"uuid":"7b3c2a10-5d4e-4f6a-9b8c-0d1e2f3a4b5c"}'
    db = tmp_path / "data" / "catalog.db"
    with contextlib.closing(sqlite3.connect(db)) as conn, conn:
        conn.execute("INSERT INTO kv(ns, key, value) VALUES ('esm.mapping', ?, ?)", (key, value))
    result = run_sluice("serve", "--port", "0", "--data-dir", tmp_path / "data")
    assert result.returncode == 2
    line = one_error_line(result.stderr)
    assert key in line and "unknown record version" in line
    with contextlib.closing(sqlite3.connect(db)) as conn:
        rows = conn.execute("SELECT value FROM kv WHERE ns = 'esm.mapping'").fetchall()
    assert rows == [(value,)]


def test_port_already_in_use_exits_2(launch, tmp_path):
    first = launch()
    second = launch(data_dir=tmp_path / "other", ready=False,
                    port_args=("--port", str(first.port)))
    assert second.wait_exit() == 2
    line = one_error_line(second.stderr_text().encode())
    assert str(first.port) in line and "in use" in line


def test_ready_regex_rejects_other_lines():
    # Guards the fixture itself: a malformed ready line must not pass as ready.
    assert READY_RE.match("sluice ready: listening on http://127.0.0.1:1 data-dir=/d "
                          "fsync=group version=0.1.0")
    assert not READY_RE.match("sluice ready: listening on http://127.0.0.1: data-dir=/d")
