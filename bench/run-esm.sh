#!/usr/bin/env bash
# Measures event source mappings on Sluice through its public APIs, one runtime after another
# on one server, with one driver (bench/esm_load.cc), and prints Markdown tables;
# docs/performance.md, "Event source mappings", records a run. In order:
#   memory      first, on the fresh server: VmRSS with 50 idle mappings on a 1-shard stream,
#               then 50 more on a 32-shard stream (in-process functions; esm_load --mem-*)
#   preload     2 streams of --shards 2: one of SLUICE_BENCH_RECORDS (default 2,000,000) records
#               of 100 bytes for the in-process runtime, one of SLUICE_BENCH_SMALL_RECORDS
#               (default 200,000) for Python and Node.js (they are ten times slower; the same
#               record count would take minutes)
#   baseline    the big stream read back with GetRecords from TRIM_HORIZON, no function: the
#               public read path's rate on the same records (the null path)
#   inprocess   runtime sluice.cpp, bench/handlers/cpp-inprocess (bench_small, bench_stamp)
#   python      python3.11 on Sluice's own runtime client, bench/handlers/python (small, stamp)
#   nodejs      nodejs20.x on Sluice's own runtime client, bench/handlers/nodejs (small, stamp)
#               each: throughput at BatchSize 100 and 1000 (TRIM_HORIZON mapping on the
#               preloaded stream, timed from CreateEventSourceMapping to all records done),
#               then put-to-handler latency (LATEST mapping, window 0, one PutRecord at a time)
# About 90 seconds of running on 2 cores, plus the build.
#
# Usage: bench/run-esm.sh [esm_load flags...]   e.g. --latency-count 500
# Environment:
#   SLUICE_BENCH_BUILD    build directory; default build/release through the `release`
#                         preset. Another directory is configured with the same flags.
#   SLUICE_BENCH_NO_BUILD set to 1 to use the binaries already in the build directory
#   SLUICE_BENCH_CONFIGS  which to run (default: baseline,inprocess,python,nodejs,memory)
#   SLUICE_BENCH_RECORDS, SLUICE_BENCH_SMALL_RECORDS   see "preload" above
#   SLUICE_BENCH_PORT     Sluice's port (default 4761)
#   SLUICE_BENCH_SERVER_ARGS  more `sluice serve` flags
#   SLUICE_BENCH_OUT      directory for logs, zips, stamps and JSON results (default: a new
#                         temp dir, kept)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
configs="${SLUICE_BENCH_CONFIGS:-baseline,inprocess,python,nodejs,memory}"
records="${SLUICE_BENCH_RECORDS:-2000000}"
small_records="${SLUICE_BENCH_SMALL_RECORDS:-200000}"
port="${SLUICE_BENCH_PORT:-4761}"
out="${SLUICE_BENCH_OUT:-$(mktemp -d /tmp/sluice-esm-bench.XXXXXX)}"
mkdir -p "$out/stamps"

if [[ -n "${SLUICE_BENCH_BUILD:-}" ]]; then
  build="$SLUICE_BENCH_BUILD"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DCMAKE_CXX_COMPILER=g++ \
      -DCMAKE_C_COMPILER=gcc -DSLUICE_BUILD_BENCH=ON -DSLUICE_WERROR=ON >/dev/null
    cmake --build "$build" -j2 --target sluice esm_load bench_handler
  fi
else
  build="$root/build/release"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    (cd "$root" && cmake --preset release >/dev/null &&
      cmake --build --preset release -j2 --target sluice esm_load bench_handler)
  fi
fi
sluice_bin="$build/sluice"
load_bin="$build/bench/esm_load"
handler_lib="$build/bench/bench_handler.so"
for f in "$sluice_bin" "$load_bin" "$handler_lib"; do
  [[ -e "$f" ]] || { echo "run-esm.sh: $f is missing" >&2; exit 1; }
done

has() { [[ ",$configs," == *",$1,"* ]]; }

# The functions' zips, made as bench/run-invoke.sh makes them.
python3 - "$out" "$root/bench/handlers" "$handler_lib" <<'EOF'
import os, sys, zipfile

out, handlers, lib = sys.argv[1:]

def make(name, entries):
    with zipfile.ZipFile(os.path.join(out, name + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, path, mode in entries:
            info = zipfile.ZipInfo(arcname)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())

make("inprocess", [("lib/bench_handler.so", lib, 0o755)])
make("python", [("app.py", os.path.join(handlers, "python/app.py"), 0o644)])
make("nodejs", [("index.js", os.path.join(handlers, "nodejs/index.js"), 0o644)])
EOF

server_pid=""
data_dir=""
cleanup() {
  if [[ -n "$server_pid" ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  [[ -n "$data_dir" ]] && rm -rf "$data_dir"
  return 0
}
trap cleanup EXIT

echo "## machine"
echo
if [[ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" == "$root" ]]; then
  revision="commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src || echo ' with uncommitted changes under src/')"
else
  revision="$root is not a git checkout"
fi
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $revision"
echo "- cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), memory $(free -h | awk '/^Mem:/ {print $2}'), kernel $(uname -r)"
echo "- sluice $("$sluice_bin" --version 2>/dev/null | awk '{print $2}'), $build; $(/usr/bin/python3.11 --version 2>&1); node $(node --version)"
echo "- sluice serve flags: --port $port --data-dir <new temp dir> --transition-delay-ms 0 ${SLUICE_BENCH_SERVER_ARGS:-}"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- logs, stamps and JSON results: $out"
echo

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-esm-data.XXXXXX")"
# BENCH_STAMP_DIR in the server's environment is for the in-process stamp handler, which runs
# inside the server; Python and Node.js get it through the function's Environment.
# shellcheck disable=SC2086  # word splitting of the extra flags is intended
BENCH_STAMP_DIR="$out/stamps" "$sluice_bin" serve --port "$port" --data-dir "$data_dir" \
  --transition-delay-ms 0 ${SLUICE_BENCH_SERVER_ARGS:-} >"$out/sluice.server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$out/sluice.server.log" >&2; exit 1; }
  sleep 0.1
done

# drive NAME [esm_load flags...]: one driver run, its output in NAME.log and NAME.json.
drive() {
  local name="$1"
  shift
  echo "### $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  echo "{\"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$out/$name.load.json"
  if ! "$load_bin" --port "$port" --server-pid "$server_pid" --stamp-dir "$out/stamps" \
    --label "$name" --json "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log" >&2; then
    echo "run-esm.sh: the driver failed for $name (see $out/$name.log)" >&2
    return 1
  fi
}

status=0
# Memory first, on the fresh server: after the throughput runs the allocator holds freed
# memory that new mappings would reuse without any change of VmRSS.
if has memory; then
  drive memory --phases memory --function esm-mem --runtime sluice.cpp \
    --zip "$out/inprocess.zip" --handler-small lib/bench_handler.so:bench_small \
    --stream esm-mem "$@" || status=1
fi
big=(--stream esm-big --records "$records")
small=(--stream esm-small --records "$small_records")
phases0=preload
has baseline && phases0=preload,drain
drive preload-big --phases "$phases0" "${big[@]}" "$@" || exit 1
if has python || has nodejs; then
  drive preload-small --phases preload "${small[@]}" "$@" || exit 1
fi
if has inprocess; then
  drive inprocess --phases throughput,latency --function esm-cpp --runtime sluice.cpp \
    --zip "$out/inprocess.zip" --handler-small lib/bench_handler.so:bench_small \
    --handler-stamp lib/bench_handler.so:bench_stamp "${big[@]}" "$@" || status=1
fi
if has python; then
  drive python --phases throughput,latency --function esm-py --runtime python3.11 \
    --zip "$out/python.zip" --handler-small app.small --handler-stamp app.stamp \
    "${small[@]}" "$@" || status=1
fi
if has nodejs; then
  drive nodejs --phases throughput,latency --function esm-node --runtime nodejs20.x \
    --zip "$out/nodejs.zip" --handler-small index.small --handler-stamp index.stamp \
    "${small[@]}" "$@" || status=1
fi
hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0)"
echo "{\"peak_rss_kib\": ${hwm_kib:-0}}" >"$out/sluice.server.json"

echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 - "$out" <<'EOF'
import json, os, sys

out = sys.argv[1]

def load(name):
    r = {}
    for suffix in ("json", "load.json"):
        p = os.path.join(out, f"{name}.{suffix}")
        if os.path.exists(p):
            with open(p) as f:
                r.update(json.load(f))
    return r

def rate(v):
    if v is None:
        return "-"
    return f"{v / 1e6:.2f} M" if v >= 1e6 else f"{v / 1e3:.1f} k"

pre = load("preload-big")
names = {"inprocess": "in-process C++ (sluice.cpp)", "python": "python3.11, Sluice's client",
         "nodejs": "nodejs20.x, Sluice's client"}
targets = {("inprocess", 1000): 1e6, ("python", 1000): 1e5}
print("| path | BatchSize | records | records/s | of target | vs GetRecords baseline |"
      " server CPU, % of one core | invocations | load |")
print("|---|---:|---:|---:|---|---:|---:|---:|---|")
base = pre.get("drain.rate")
if base is not None:
    print(f"| baseline: GetRecords drain over HTTP, no function | (Limit 10000) |"
          f" {pre['drain.records']:.0f} | {rate(base)} | | 1.00x |"
          f" {pre['drain.server_cpu_pct']:.0f} | - | {pre.get('load_before', '')} |")
for c in ("inprocess", "python", "nodejs"):
    r = load(c)
    for b in (100, 1000):
        k = f"tp.b{b}"
        if f"{k}.rate" not in r:
            continue
        t = targets.get((c, b))
        v = r[f"{k}.rate"]
        verdict = "" if t is None else f"{v / t:.2f}x of >= {rate(t)}: " + (
            "met" if v >= t else "**missed**")
        if not r.get(f"{k}.finished"):
            verdict += " (not finished in time)"
        ratio = "-" if not base else f"{v / base:.2f}x"
        print(f"| {names[c]} | {b} | {r[f'{k}.records']:.0f} | {rate(v)} | {verdict} | {ratio} |"
              f" {r[f'{k}.server_cpu_pct']:.0f} | {r[f'{k}.invocations']:.0f} |"
              f" {r.get('load_before', '')} |")
print()
print("| runtime | put-to-handler p50 / p99 / max, ms | ack-to-handler p50 / p99, ms |"
      " PutRecord p50 / p99, ms | records | target |")
print("|---|---:|---:|---:|---:|---|")
for c in ("inprocess", "python", "nodejs"):
    r = load(c)
    if "lat.p50_ms" not in r:
        continue
    target = ""
    if c == "inprocess":
        verdict = lambda v: "met" if v <= 5 else "**missed**"
        target = (f"p99 <= 5 ms: {verdict(r['lat.p99_ms'])} from the send,"
                  f" {verdict(r['lat.ack.p99_ms'])} from the ack")
    print(f"| {names[c]} | {r['lat.p50_ms']:.2f} / {r['lat.p99_ms']:.2f} / {r['lat.max_ms']:.2f} |"
          f" {r['lat.ack.p50_ms']:.2f} / {r['lat.ack.p99_ms']:.2f} |"
          f" {r['lat.put.p50_ms']:.2f} / {r['lat.put.p99_ms']:.2f} |"
          f" {r['lat.seen']:.0f} of {r['lat.sent']:.0f} | {target} |")
print()
m = load("memory")
if "mem.per_pair_kib" in m:
    print("| idle mappings | VmRSS, MiB | KiB each | target |")
    print("|---|---:|---:|---|")
    k, s = int(m["mem.mappings"]), int(m["mem.shards"])
    print(f"| none ({k} functions, 2 streams) | {m['mem.rss0_kib'] / 1024:.1f} | | |")
    print(f"| {k} mappings on a 1-shard stream | {m['mem.rss1_kib'] / 1024:.1f} |"
          f" {m['mem.per_mapping_kib']:.1f} per mapping | |")
    print(f"| + {k} mappings on a {s}-shard stream | {m['mem.rss2_kib'] / 1024:.1f} |"
          f" {m['mem.per_pair_kib']:.1f} per shard-mapping pair;"
          f" {m['mem.per_extra_shard_kib']:.1f} per further shard |"
          f" <= 64 KiB per pair: " + ("met" if m["mem.per_pair_kib"] <= 64 else "**missed**") + " |")
    print()
srv = load("sluice.server")
print(f"Peak RSS of the server (VmHWM): {srv.get('peak_rss_kib', 0) / 1024:.0f} MiB."
      f" Preload: {pre.get('preload.rate', 0) / 1e3:.0f} k records/s with PutRecords.")
for c in ("preload-big", "preload-small", "inprocess", "python", "nodejs", "memory"):
    r = load(c)
    if "first_error" in r:
        print(f"- {c}: first error: {r['first_error']}")
EOF
exit $status
