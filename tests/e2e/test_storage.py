"""The real binary over a data dir whose logs a killed writer left behind.

Until the Kinesis API lands there is no HTTP call that appends, so the records come from
tests/storage/crash_child (built beside the binary): it appends to one log with --fsync
group, prints each acknowledged batch, and is SIGKILLed mid-run, as `kill -9` would."""

import os
import pathlib
import select
import signal
import subprocess
import time

import pytest

CHILD_TIMEOUT_S = 20.0


@pytest.fixture(scope="session")
def crash_child(sluice_bin):
    path = pathlib.Path(sluice_bin).parent / "tests/storage/storage_crash_child"
    if not path.exists():
        pytest.fail(f"{path} not built (it is part of every preset with tests)")
    return path


def write_then_kill(crash_child, log_dir, acks_wanted=30, seed=7):
    """Runs the writer until it acknowledged `acks_wanted` batches, then SIGKILLs it.
    Returns the acknowledged (base_offset, count) pairs."""
    proc = subprocess.Popen([str(crash_child), str(log_dir), str(seed), "group"],
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL)
    acks, buf = [], b""
    deadline = time.monotonic() + CHILD_TIMEOUT_S
    try:
        while len(acks) < acks_wanted:
            left = deadline - time.monotonic()
            assert left > 0, f"writer acknowledged only {len(acks)} batches in time"
            ready, _, _ = select.select([proc.stdout], [], [], left)
            if not ready:
                continue
            chunk = os.read(proc.stdout.fileno(), 65536)
            assert chunk, f"writer exited early with {proc.poll()}"
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for line in lines:
                parts = line.split()
                if parts and parts[0] == b"ack":
                    acks.append((int(parts[1]), int(parts[2])))
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=CHILD_TIMEOUT_S)
        proc.stdout.close()
    return acks


def init_data_dir(launch, data_dir):
    """A data dir the server has initialised (FORMAT, catalog), then stopped cleanly."""
    server = launch(data_dir=data_dir)
    server.signal(signal.SIGTERM)
    assert server.wait_exit() == 0


def segment_of(log_dir):
    segments = sorted(pathlib.Path(log_dir).glob("*.log"))
    assert segments, f"no segment in {log_dir}"
    return segments[0]


def test_server_starts_over_logs_a_killed_writer_left(launch, crash_child, tmp_path):
    data = tmp_path / "data"
    init_data_dir(launch, data)
    acks = write_then_kill(crash_child, data / "logs" / "shard-a")
    assert len(acks) >= 30
    server = launch(data_dir=data)
    assert server.health()["status"] == "ok"
    assert "logs=1" in server.stderr_text()


def test_killed_server_restarts_on_the_same_data_dir(launch, crash_child, tmp_path):
    data = tmp_path / "data"
    init_data_dir(launch, data)
    write_then_kill(crash_child, data / "logs" / "shard-a")
    first = launch(data_dir=data)
    first.proc.kill()  # kill -9: no shutdown steps run, the lock dies with the process
    first.proc.wait(timeout=10)
    second = launch(data_dir=data)
    assert second.health()["status"] == "ok"


def test_damage_in_the_middle_stops_the_start_and_names_file_and_byte(
        launch, crash_child, tmp_path):
    data = tmp_path / "data"
    init_data_dir(launch, data)
    write_then_kill(crash_child, data / "logs" / "shard-a", acks_wanted=40)
    segment = segment_of(data / "logs" / "shard-a")
    raw = bytearray(segment.read_bytes())
    assert len(raw) > 4096
    raw[100] ^= 0x01  # inside the first batch; many whole batches follow
    segment.write_bytes(bytes(raw))
    # A sealed segment with intact index files is trusted at start (damage in it is found
    # by the read that meets it); without them it is scanned, as after a lost index.
    for index in segment.parent.glob(segment.stem + ".*index"):
        index.unlink()

    refused = launch(data_dir=data, ready=False)
    assert refused.wait_exit() == 2
    lines = refused.stderr_lines()
    error_lines = [line for line in lines if line.startswith("sluice: error: ")]
    assert len(error_lines) == 1, lines
    assert segment.name in error_lines[0]
    assert "byte 32" in error_lines[0]  # the first batch starts after the 32-byte header
    assert "--repair" in error_lines[0]
    assert segment.read_bytes() == bytes(raw), "a refused start must not change the log"

    repaired = launch("--repair", data_dir=data)
    assert repaired.health()["status"] == "ok"
    aside = segment.parent / f"{segment.name}.damaged-at-32"
    assert aside.exists()
    assert aside.read_bytes() == bytes(raw[32:])


def test_torn_tail_is_cut_and_the_server_starts(launch, crash_child, tmp_path):
    data = tmp_path / "data"
    init_data_dir(launch, data)
    write_then_kill(crash_child, data / "logs" / "shard-a")
    segment = segment_of(data / "logs" / "shard-a")
    # Only the newest segment may have a torn tail; find it and append half a batch.
    newest = sorted(segment.parent.glob("*.log"))[-1]
    whole = newest.read_bytes()
    newest.write_bytes(whole + whole[32:32 + 40])
    server = launch(data_dir=data)
    assert server.health()["status"] == "ok"
    assert newest.stat().st_size == len(whole)
    assert "torn tail" in server.stderr_text()
