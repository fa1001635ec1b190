// Benchmark handlers of bench/run-invoke.sh for Sluice's own Node.js runtime client (CommonJS,
// async handlers, as most functions are written).

// Returns the event: the runtime client parses it and serializes it again.
exports.echo = async (event) => event;

// A constant small result, so that a large event is not paid for twice on the way back.
exports.small = async () => ({ ok: true });

// For bench/run-esm.sh: when each record of a Kinesis event reached the handler. Appends
// "<unix ns> <partitionKey>" per record to $BENCH_STAMP_DIR/<function name>.stamps in one
// write (microsecond resolution: performance.timeOrigin + performance.now()), then returns a
// small result.
const fs = require('fs');
const path = require('path');
const { performance } = require('perf_hooks');

exports.stamp = async (event, context) => {
  const nowNs = BigInt(Math.round((performance.timeOrigin + performance.now()) * 1000)) * 1000n;
  const lines = event.Records.map((r) => `${nowNs} ${r.kinesis.partitionKey}\n`).join('');
  fs.appendFileSync(path.join(process.env.BENCH_STAMP_DIR, `${context.functionName}.stamps`), lines);
  return { ok: true };
};
