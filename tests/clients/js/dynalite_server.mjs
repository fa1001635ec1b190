// Starts dynalite (an open-source DynamoDB stand-in, in memory) on 127.0.0.1 with a free port,
// for the KCL test's leases. Prints one line "dynalite ready: http://127.0.0.1:PORT" on stdout
// once listening, and exits when stdin closes or on SIGTERM, so it never outlives its test.
//
//   node dynalite_server.mjs

import { createRequire } from "node:module";

const require = createRequire(import.meta.url);
const dynalite = require("dynalite");

// Tables are ACTIVE at once (dynalite waits 500 ms by default): KCL polls table status with
// the SDK waiter, which sleeps 20 s after a first look that finds CREATING.
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
server.listen(0, "127.0.0.1", () => {
  const { port } = server.address();
  process.stdout.write(`dynalite ready: http://127.0.0.1:${port}\n`);
});

function stop() {
  server.close();
  process.exit(0);
}
process.stdin.on("end", stop);
process.stdin.on("error", stop);
process.stdin.resume();
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
