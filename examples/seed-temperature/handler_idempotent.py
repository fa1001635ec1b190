"""An idempotent variant of handler.py: every converted reading is stored in SQLite, keyed by
the record's eventID, so a batch that comes again leaves the table as it was.

Why this matters: a Kinesis event source mapping delivers each record at least once. Sluice
retries a batch after the function fails, times out or its process dies, and after a crash or
restart of Sluice itself the batch that was in flight when it stopped is delivered again,
because the shard's checkpoint only moves after an invocation succeeded. A handler that
appended rows would then store some readings twice.

How it stays exactly-once in effect:
- the key is eventID ("<shardId>:<sequenceNumber>"), which is unique per record within a
  stream and the same on every delivery of that record;
- each reading is written with INSERT ... ON CONFLICT(event_id) DO UPDATE (an UPSERT), so a
  second delivery overwrites the row with the same values instead of adding one;
- a whole batch is one transaction: either all of its rows are committed or none are (a
  process killed halfway leaves nothing behind, and the retry writes the batch again).

The database path comes from the function's environment variable READINGS_DB.
"""

import base64
import json
import os
import sqlite3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS readings (
    event_id        TEXT PRIMARY KEY,
    shard_id        TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    partition_key   TEXT NOT NULL,
    arrival_time    REAL NOT NULL,
    temperature_f   REAL NOT NULL,
    humidity        REAL NOT NULL
)
"""

_UPSERT = """
INSERT INTO readings (event_id, shard_id, sequence_number, partition_key, arrival_time,
                      temperature_f, humidity)
VALUES (?, ?, ?, ?, ?, ?, ?)
ON CONFLICT(event_id) DO UPDATE SET
    shard_id = excluded.shard_id,
    sequence_number = excluded.sequence_number,
    partition_key = excluded.partition_key,
    arrival_time = excluded.arrival_time,
    temperature_f = excluded.temperature_f,
    humidity = excluded.humidity
"""

# One connection per execution environment, kept while the environment is reused.
_connection = None


def _db():
    global _connection
    if _connection is None:
        path = os.environ["READINGS_DB"]
        # isolation_level=None: transactions are begun and ended explicitly below. The long
        # timeout lets environments of other shards finish their commit first.
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        # WAL lets readers (a report, a test) look at the table while batches are written.
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute(_SCHEMA)
        _connection = conn
    return _connection


def _row(record):
    kinesis = record["kinesis"]
    reading = json.loads(base64.b64decode(kinesis["data"]).decode("utf-8"))
    shard_id = record["eventID"].split(":", 1)[0]
    return (
        record["eventID"],
        shard_id,
        kinesis["sequenceNumber"],
        kinesis["partitionKey"],
        kinesis["approximateArrivalTimestamp"],
        reading.get("temperature", 0) * 1.8 + 32,
        reading.get("humidity", 0),
    )


def lambda_handler(event, context):
    # Decode everything first: a record that cannot be decoded fails the batch before any
    # write, and the batch is retried as a whole.
    rows = [_row(record) for record in event["Records"]]
    conn = _db()
    # BEGIN IMMEDIATE takes the write lock now, so the commit cannot fail on a lock upgrade.
    conn.execute("BEGIN IMMEDIATE")
    try:
        conn.executemany(_UPSERT, rows)
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    print(f"Successfully processed {len(rows)} records.")
    return {
        "statusCode": 200,
        "body": json.dumps("Batch processed successfully!"),
    }
