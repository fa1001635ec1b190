// Benchmark handlers of bench/run-invoke.sh for Sluice's own Node.js runtime client (CommonJS,
// async handlers, as most functions are written).

// Returns the event: the runtime client parses it and serializes it again.
exports.echo = async (event) => event;

// A constant small result, so that a large event is not paid for twice on the way back.
exports.small = async () => ({ ok: true });
