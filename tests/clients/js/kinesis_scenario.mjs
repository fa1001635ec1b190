// Drives a Sluice server with the AWS SDK for JavaScript v3 Kinesis client, as an application
// would: the client's own defaults (its HTTP/2 request handler, JSON 1.1 protocol, standard
// retries), only the endpoint and dummy credentials set.
//
//   node kinesis_scenario.mjs --endpoint http://127.0.0.1:PORT [--http1]
//
// --http1 swaps in the HTTP/1.1 handler; it exists for debugging a server without h2c and is
// never used by tests/e2e/test_clients.py.
//
// Every step asserts what it gets back; the first failed assertion ends the process with
// status 1. On success the last line of stdout is one JSON object summarising what was seen
// (test_clients.py parses it and checks it again from boto3). Progress goes to stderr.

import assert from "node:assert/strict";
import { parseArgs } from "node:util";

import {
  CreateStreamCommand,
  DeleteStreamCommand,
  DescribeStreamCommand,
  DescribeStreamSummaryCommand,
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  MergeShardsCommand,
  PutRecordCommand,
  PutRecordsCommand,
  ResourceNotFoundException,
  SplitShardCommand,
  UpdateShardCountCommand,
  waitUntilStreamExists,
  waitUntilStreamNotExists,
} from "@aws-sdk/client-kinesis";
import { NodeHttp2Handler, NodeHttpHandler } from "@smithy/node-http-handler";

const { values: opts } = parseArgs({
  options: {
    endpoint: { type: "string" },
    stream: { type: "string", default: "js-sdk-scenario" },
    http1: { type: "boolean", default: false },
  },
});
assert.ok(opts.endpoint, "--endpoint is required");

const WAIT = { maxWaitTime: 30, minDelay: 1, maxDelay: 1 };
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function log(...args) {
  console.error("[js-sdk]", ...args);
}

const config = {
  endpoint: opts.endpoint,
  region: "us-east-1",
  credentials: { accessKeyId: "AKIDSLUICETEST", secretAccessKey: "sluice-test-secret" },
};
if (opts.http1) config.requestHandler = new NodeHttpHandler();
const client = new KinesisClient(config);
const handler = client.config.requestHandler;
const handlerName = handler.constructor.name;
if (!opts.http1) {
  // The point of this test: the client as shipped talks HTTP/2 (prior knowledge over http://).
  assert.ok(handler instanceof NodeHttp2Handler, `default handler is ${handlerName}`);
}
const send = (command) => client.send(command);
const StreamName = opts.stream;

async function waitActive() {
  const result = await waitUntilStreamExists({ client, ...WAIT }, { StreamName });
  assert.equal(result.state, "SUCCESS", JSON.stringify(result.reason ?? result));
  // DescribeStreamSummary too: ACTIVE again after a reshard.
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { StreamDescriptionSummary: s } = await send(
      new DescribeStreamSummaryCommand({ StreamName }),
    );
    if (s.StreamStatus === "ACTIVE") return s;
    assert.ok(Date.now() < deadline, `stream still ${s.StreamStatus}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function listShards() {
  const shards = [];
  let NextToken;
  do {
    const out = await send(
      new ListShardsCommand(NextToken ? { NextToken } : { StreamName, MaxResults: 2 }),
    );
    shards.push(...out.Shards);
    NextToken = out.NextToken;
  } while (NextToken);
  return shards;
}

// Reads one shard from TRIM_HORIZON until the server says it is drained: a closed shard ends
// with no NextShardIterator (and names its children), an open one with an empty page at the
// tip. Returns { records, childShards }.
async function readShard(ShardId) {
  const { ShardIterator } = await send(
    new GetShardIteratorCommand({ StreamName, ShardId, ShardIteratorType: "TRIM_HORIZON" }),
  );
  assert.equal(typeof ShardIterator, "string");
  const records = [];
  let iterator = ShardIterator;
  let childShards = [];
  for (let page = 0; page < 100 && iterator; page++) {
    const out = await send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 7 }));
    assert.equal(typeof out.MillisBehindLatest, "number");
    for (const r of out.Records) {
      assert.ok(r.Data instanceof Uint8Array, "Data is a Uint8Array");
      assert.ok(r.ApproximateArrivalTimestamp instanceof Date, "arrival time is a Date");
      records.push({
        shard: ShardId,
        key: r.PartitionKey,
        data: decoder.decode(r.Data),
        seq: r.SequenceNumber,
      });
    }
    if (out.ChildShards) childShards = out.ChildShards.map((c) => c.ShardId).sort();
    iterator = out.NextShardIterator;
    if (out.Records.length === 0 && out.MillisBehindLatest === 0 && iterator) break;
  }
  return { records, childShards };
}

function assertAscending(records, where) {
  for (let i = 1; i < records.length; i++) {
    assert.ok(
      BigInt(records[i - 1].seq) < BigInt(records[i].seq),
      `${where}: ${records[i - 1].seq} !< ${records[i].seq}`,
    );
  }
}

// Checks that each written record was read back exactly once, from the shard that
// PutRecord(s) named, with the same sequence number.
function assertSameRecords(written, read, where) {
  const byKey = (r) => `${r.shard}|${r.seq}`;
  const got = new Map(read.map((r) => [byKey(r), r]));
  assert.equal(got.size, read.length, `${where}: duplicate records`);
  for (const w of written) {
    const r = got.get(byKey(w));
    assert.ok(r, `${where}: ${w.key} (${w.seq}) not read back from ${w.shard}`);
    assert.equal(r.key, w.key);
    assert.equal(r.data, w.data);
  }
  assert.equal(read.length, written.length, `${where}: extra records`);
}

const summary = {
  client: "@aws-sdk/client-kinesis",
  handler: handlerName,
  stream: StreamName,
  written: [],
};

async function putRecord(key, data, extra = {}) {
  const out = await send(
    new PutRecordCommand({ StreamName, PartitionKey: key, Data: encoder.encode(data), ...extra }),
  );
  assert.match(out.ShardId, /^shardId-\d{12}$/);
  assert.match(out.SequenceNumber, /^\d+$/);
  const w = { shard: out.ShardId, key, data, seq: out.SequenceNumber };
  summary.written.push(w);
  return w;
}

async function putRecords(entries) {
  const out = await send(
    new PutRecordsCommand({
      StreamName,
      Records: entries.map(([key, data, hash]) => ({
        PartitionKey: key,
        Data: encoder.encode(data),
        ...(hash === undefined ? {} : { ExplicitHashKey: hash.toString() }),
      })),
    }),
  );
  assert.equal(out.FailedRecordCount ?? 0, 0);
  assert.equal(out.Records.length, entries.length);
  return out.Records.map((r, i) => {
    assert.equal(r.ErrorCode, undefined, `entry ${i}: ${r.ErrorCode} ${r.ErrorMessage}`);
    const w = { shard: r.ShardId, key: entries[i][0], data: entries[i][1], seq: r.SequenceNumber };
    summary.written.push(w);
    return w;
  });
}

async function main() {
  log(`endpoint ${opts.endpoint}, handler ${handlerName}`);

  // 1. Create, wait ACTIVE, describe.
  await send(new CreateStreamCommand({ StreamName, ShardCount: 2 }));
  const created = await waitActive();
  assert.equal(created.OpenShardCount, 2);
  assert.match(created.StreamARN, /^arn:aws:kinesis:us-east-1:\d{12}:stream\/js-sdk/);
  const { StreamDescription: described } = await send(new DescribeStreamCommand({ StreamName }));
  assert.equal(described.StreamStatus, "ACTIVE");
  assert.equal(described.Shards.length, 2);
  assert.ok(described.StreamCreationTimestamp instanceof Date);

  // 2. Write: single puts (one of them with SequenceNumberForOrdering) and a batch.
  const first = await putRecord("pk-0", "single-0");
  await putRecord("pk-1", "single-1");
  await putRecord("pk-0", "single-2", { SequenceNumberForOrdering: first.seq });
  const batch = [];
  for (let i = 0; i < 20; i++) batch.push([`batch-${i % 5}`, `batch-record-${i}`]);
  await putRecords(batch);

  // 3. ListShards (paged by MaxResults 2) and read every shard back.
  const shards = await listShards();
  assert.deepEqual(shards.map((s) => s.ShardId).sort(), [
    "shardId-000000000000",
    "shardId-000000000001",
  ]);
  const beforeReshard = [];
  for (const s of shards) {
    const { records } = await readShard(s.ShardId);
    assertAscending(records, s.ShardId);
    beforeReshard.push(...records);
  }
  assertSameRecords(summary.written, beforeReshard, "before reshard");
  log(`read ${beforeReshard.length} records from 2 shards`);

  // 4. SplitShard shard 0 in the middle of its range; the parent closes, two children open.
  const shard0 = shards.find((s) => s.ShardId === "shardId-000000000000");
  const lo = BigInt(shard0.HashKeyRange.StartingHashKey);
  const hi = BigInt(shard0.HashKeyRange.EndingHashKey);
  const mid = lo + (hi - lo + 1n) / 2n;
  await send(
    new SplitShardCommand({
      StreamName,
      ShardToSplit: shard0.ShardId,
      NewStartingHashKey: mid.toString(),
    }),
  );
  await waitActive();
  const afterSplit = await listShards();
  const splitChildren = afterSplit.filter((s) => s.ParentShardId === shard0.ShardId);
  assert.equal(splitChildren.length, 2, JSON.stringify(afterSplit));
  const closedParent = afterSplit.find((s) => s.ShardId === shard0.ShardId);
  assert.ok(closedParent.SequenceNumberRange.EndingSequenceNumber, "parent is closed");
  splitChildren.sort((a, b) =>
    BigInt(a.HashKeyRange.StartingHashKey) < BigInt(b.HashKeyRange.StartingHashKey) ? -1 : 1,
  );
  assert.equal(splitChildren[1].HashKeyRange.StartingHashKey, mid.toString());

  // Writes aimed at each child by ExplicitHashKey.
  const toLow = await putRecords([
    ["split-low-a", "after-split-low-a", lo],
    ["split-low-b", "after-split-low-b", mid - 1n],
  ]);
  const toHigh = await putRecords([["split-high", "after-split-high", mid]]);
  assert.ok(toLow.every((w) => w.shard === splitChildren[0].ShardId));
  assert.equal(toHigh[0].shard, splitChildren[1].ShardId);

  // The parent reads to its end and names its children; each child holds its writes.
  const parentRead = await readShard(shard0.ShardId);
  assert.deepEqual(
    parentRead.childShards,
    splitChildren.map((s) => s.ShardId),
  );
  for (const [child, expected] of [
    [splitChildren[0], toLow],
    [splitChildren[1], toHigh],
  ]) {
    const { records } = await readShard(child.ShardId);
    assertSameRecords(expected, records, child.ShardId);
  }

  // 5. MergeShards the two children back into one; the merged shard has both parents.
  await send(
    new MergeShardsCommand({
      StreamName,
      ShardToMerge: splitChildren[0].ShardId,
      AdjacentShardToMerge: splitChildren[1].ShardId,
    }),
  );
  await waitActive();
  const afterMerge = await listShards();
  const merged = afterMerge.find(
    (s) =>
      s.ParentShardId === splitChildren[0].ShardId &&
      s.AdjacentParentShardId === splitChildren[1].ShardId,
  );
  assert.ok(merged, JSON.stringify(afterMerge));
  assert.equal(merged.HashKeyRange.StartingHashKey, lo.toString());
  assert.equal(merged.HashKeyRange.EndingHashKey, hi.toString());
  const toMerged = await putRecords([
    ["merged-a", "after-merge-a", lo],
    ["merged-b", "after-merge-b", hi],
  ]);
  assert.ok(toMerged.every((w) => w.shard === merged.ShardId));
  const mergedRead = await readShard(merged.ShardId);
  assertSameRecords(toMerged, mergedRead.records, merged.ShardId);
  const lowChildEnd = await readShard(splitChildren[0].ShardId);
  assert.deepEqual(lowChildEnd.childShards, [merged.ShardId]);

  // 6. UpdateShardCount: 2 open shards -> 4 (uniform scaling).
  const usc = await send(
    new UpdateShardCountCommand({ StreamName, TargetShardCount: 4, ScalingType: "UNIFORM_SCALING" }),
  );
  assert.equal(usc.CurrentShardCount, 2);
  assert.equal(usc.TargetShardCount, 4);
  const scaled = await waitActive();
  assert.equal(scaled.OpenShardCount, 4);
  const openAfterScale = (await listShards()).filter(
    (s) => !s.SequenceNumberRange.EndingSequenceNumber,
  );
  assert.equal(openAfterScale.length, 4);

  // Every record written so far is still readable, each shard in order.
  const everything = [];
  for (const s of await listShards()) {
    const { records } = await readShard(s.ShardId);
    assertAscending(records, s.ShardId);
    everything.push(...records);
  }
  assertSameRecords(summary.written, everything, "after resharding");
  summary.shards = (await listShards()).length;
  summary.open_shards = openAfterScale.length;

  // 7. An error as the SDK surfaces it: modelled exception class, name, HTTP status.
  let caught;
  try {
    await send(new DescribeStreamSummaryCommand({ StreamName: "js-sdk-no-such-stream" }));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ResourceNotFoundException, `got ${caught}`);
  assert.equal(caught.name, "ResourceNotFoundException");
  assert.equal(caught.$metadata.httpStatusCode, 400);
  assert.equal(caught.$fault, "client");
  assert.ok(caught.$metadata.requestId, "x-amzn-RequestId reached the SDK");
  assert.match(caught.message, /js-sdk-no-such-stream/);
  summary.error = {
    name: caught.name,
    status: caught.$metadata.httpStatusCode,
    message: caught.message,
  };

  // 8. DeleteStream, and wait until DescribeStream says it is gone.
  await send(new DeleteStreamCommand({ StreamName }));
  const gone = await waitUntilStreamNotExists({ client, ...WAIT }, { StreamName });
  assert.equal(gone.state, "SUCCESS");
  summary.deleted = true;
  summary.records_read = everything.length;

  // 9. A second stream that stays, for the test to read back with boto3.
  const kept = `${StreamName}-kept`;
  await send(new CreateStreamCommand({ StreamName: kept, ShardCount: 1 }));
  await waitUntilStreamExists({ client, ...WAIT }, { StreamName: kept });
  summary.kept = { stream: kept, records: [] };
  const out = await send(
    new PutRecordsCommand({
      StreamName: kept,
      Records: [0, 1, 2].map((i) => ({
        PartitionKey: `kept-${i}`,
        Data: encoder.encode(`kept-data-${i}`),
      })),
    }),
  );
  assert.equal(out.FailedRecordCount ?? 0, 0);
  out.Records.forEach((r, i) =>
    summary.kept.records.push({
      shard: r.ShardId,
      key: `kept-${i}`,
      data: `kept-data-${i}`,
      seq: r.SequenceNumber,
    }),
  );
}

try {
  await main();
  client.destroy();
  summary.ok = true;
  process.stdout.write(JSON.stringify(summary) + "\n");
} catch (e) {
  client.destroy();
  console.error("[js-sdk] FAILED:", e);
  process.exit(1);
}
