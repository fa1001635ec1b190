#!/usr/bin/env bash
# Measures Sluice's Kinesis API beside the emulators users would otherwise pick, kinesalite
# and kinesis-local (kinesis-mock, the engine LocalStack uses), with one load generator
# (bench/kinesis_load.cc) in one run, and prints Markdown tables of absolute numbers and
# Sluice/peer ratios; docs/performance.md, "Kinesis API against kinesalite and kinesis-local",
# records a run. Servers run one at a time, each on its own port, fresh:
#   null server   kinesis_load --null-server: a canned 200 for every request (scenarios a, b)
#   sluice        sluice serve --fsync group on a new temporary data dir
#   kinesalite    node kinesalite/cli.js (in memory; default createStreamMs 500)
#   kinesis-local node kinesis-local/main.js (in memory; default CREATE_STREAM_DURATION 500ms)
#   sluice-never  sluice serve --fsync never: not durable, shown beside the others (no ratios)
#                 to tell what the fdatasync waits cost
# About 4-5 minutes of running on 2 cores, plus the build.
#
# Usage: bench/run-kinesis.sh [kinesis_load flags...]   e.g. --seconds 5
# Environment:
#   SLUICE_BENCH_BUILD    build directory; default build/release through the `release`
#                         preset. Another directory is configured with the same flags.
#   SLUICE_BENCH_NO_BUILD set to 1 to use the binaries already in the build directory
#   SLUICE_BENCH_SERVERS  which to run (default: null,sluice,kinesalite,kinesis-local,sluice-never)
#   SLUICE_BENCH_SERVER_ARGS  more `sluice serve` flags for both Sluice servers, e.g.
#                         "--io-threads 1"
#   SLUICE_BENCH_PORT     first of the ports used, one per server (default 4701)
#   SLUICE_BENCH_OUT      directory for logs and JSON results (default: a new temp dir, kept)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
servers="${SLUICE_BENCH_SERVERS:-null,sluice,kinesalite,kinesis-local,sluice-never}"
base_port="${SLUICE_BENCH_PORT:-4701}"
out="${SLUICE_BENCH_OUT:-$(mktemp -d /tmp/sluice-kinesis-bench.XXXXXX)}"
mkdir -p "$out"

if [[ -n "${SLUICE_BENCH_BUILD:-}" ]]; then
  build="$SLUICE_BENCH_BUILD"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DCMAKE_CXX_COMPILER=g++ \
      -DCMAKE_C_COMPILER=gcc -DSLUICE_BUILD_BENCH=ON -DSLUICE_BUILD_TESTS=OFF \
      -DSLUICE_WERROR=ON >/dev/null
    cmake --build "$build" -j2 --target sluice kinesis_load fsync_probe
  fi
else
  build="$root/build/release"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    (cd "$root" && cmake --preset release >/dev/null &&
      cmake --build --preset release -j2 --target sluice kinesis_load fsync_probe)
  fi
fi
sluice_bin="$build/sluice"
load_bin="$build/bench/kinesis_load"
for bin in "$sluice_bin" "$load_bin"; do
  [[ -x "$bin" ]] || { echo "run-kinesis.sh: $bin is missing" >&2; exit 1; }
done
"$root/bench/install-peers.sh" >&2
peers="$root/bench/peers/node_modules"

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

# Waits until something accepts TCP connections on $1 (20 s at most).
wait_for_port() {
  local port="$1"
  for _ in $(seq 1 200); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Starts server $1 on port $2 in the background; its pid (the server process itself, not a
# wrapper: VmHWM is read from it) goes to $server_pid.
start_server() {
  local name="$1" port="$2" log="$out/$1.server.log"
  case "$name" in
    null) "$load_bin" --null-server --port "$port" >"$log" 2>&1 & ;;
    sluice)
      data_dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-data.XXXXXX")"
      "$sluice_bin" serve --port "$port" --data-dir "$data_dir" --fsync group \
        ${SLUICE_BENCH_SERVER_ARGS:-} >"$log" 2>&1 &
      ;;
    sluice-never)
      data_dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench-data.XXXXXX")"
      "$sluice_bin" serve --port "$port" --data-dir "$data_dir" --fsync never \
        ${SLUICE_BENCH_SERVER_ARGS:-} >"$log" 2>&1 &
      ;;
    kinesalite) node "$peers/kinesalite/cli.js" --port "$port" >"$log" 2>&1 & ;;
    kinesis-local)
      # Plain HTTP on $port; its TLS listener, unused, on the port after the last of ours.
      # It reads its TLS certificate from server.json in the working directory unless told.
      KINESIS_MOCK_PLAIN_PORT="$port" KINESIS_MOCK_TLS_PORT="$((base_port + 10))" \
        KINESIS_MOCK_CERT_PATH="$peers/kinesis-local/server.json" \
        node "$peers/kinesis-local/main.js" >"$log" 2>&1 &
      ;;
    *) echo "run-kinesis.sh: unknown server $name" >&2; exit 2 ;;
  esac
  server_pid=$!
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
  [[ -n "$data_dir" ]] && rm -rf "$data_dir"
  data_dir=""
}

echo "## machine"
echo
if [[ "$(git -C "$root" rev-parse --show-toplevel 2>/dev/null)" == "$root" ]]; then
  revision="commit $(git -C "$root" rev-parse --short HEAD)$(git -C "$root" diff --quiet HEAD -- src || echo ' with uncommitted changes under src/')"
else
  revision="$root is not a git checkout"
fi
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC'); $revision"
echo "- cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), memory $(free -h | awk '/^Mem:/ {print $2}'), kernel $(uname -r)"
echo "- node $(node --version); sluice $("$sluice_bin" --version 2>/dev/null | awk '{print $2}'), $build"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- logs and JSON results: $out"
echo
# The disk's own cost of a durable acknowledgement, on the file system of Sluice's data dirs
# (bench/fsync_probe.cc): what bounds (b) from below whatever the server does.
if [[ -x "$build/bench/fsync_probe" ]]; then
  echo "## write + fdatasync on $(df -T "${TMPDIR:-/tmp}" | awk 'NR == 2 {print $2 " (" $1 ")"}')"
  echo
  probe_dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-fsync-probe.XXXXXX")"
  "$build/bench/fsync_probe" --dir "$probe_dir" --files 1,4 --connections 8
  rmdir "$probe_dir"
  echo
fi

index=0
IFS=',' read -ra server_list <<<"$servers"
for name in "${server_list[@]}"; do
  port=$((base_port + index))
  index=$((index + 1))
  echo "### $name (port $port, load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  start_server "$name" "$port"
  if ! wait_for_port "$port"; then
    echo "run-kinesis.sh: $name did not start; its log:" >&2
    cat "$out/$name.server.log" >&2
    exit 1
  fi
  args=(--port "$port" --server-pid "$server_pid" --json "$out/$name.json"
        --stream-prefix "bench$index")
  [[ "$name" == null ]] && args+=(--skip-setup --scenarios a,b)
  if ! "$load_bin" "${args[@]}" "$@" 2>&1 | tee "$out/$name.load.log" >&2; then
    echo "run-kinesis.sh: the load generator failed against $name" >&2
    exit 1
  fi
  hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0)"
  echo "{\"peak_rss_kib\": ${hwm_kib:-0}, \"load_after\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" \
    >"$out/$name.server.json"
  stop_server
done

echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 - "$out" "$servers" <<'EOF'
import json, os, sys

out, servers = sys.argv[1], sys.argv[2].split(",")
res = {}
for s in servers:
    r = {}
    for suffix in ("json", "server.json"):
        p = os.path.join(out, f"{s}.{suffix}")
        if os.path.exists(p):
            with open(p) as f:
                r.update(json.load(f))
    res[s] = r
names = {"null": "null server", "sluice": "Sluice", "kinesalite": "kinesalite 3.3.3",
         "kinesis-local": "kinesis-local 0.6.2", "sluice-never": "Sluice --fsync never"}
peers = [s for s in ("kinesalite", "kinesis-local") if s in res]

def get(s, k):
    return res.get(s, {}).get(k)

def fmt_rate(v):
    if v is None:
        return "-"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e4:
        return f"{v / 1e3:.1f} k"
    return f"{v:.0f}"

def fmt_ms(v):
    return "-" if v is None else f"{v:.2f}"

def ratio(a, b, lower_is_better=False):
    if a is None or b is None or a == 0 or b == 0:
        return "-"
    return f"{(b / a) if lower_is_better else (a / b):.1f}x"

rows = [
    ("(a) PutRecords 500 x 100 B, 8 conns: records/s", "a.rate", fmt_rate, False, ">= 50x kinesalite"),
    ("(b) PutRecord, 8 conns: requests/s", "b.rate", fmt_rate, False, ">= 10x kinesalite"),
    ("(c) GetRecords drain of (a): records/s", "c.rate", fmt_rate, False, ">= 25x kinesalite"),
    ("(d) put-to-visible p50, ms", "d.p50_ms", fmt_ms, True, ""),
    ("(d) put-to-visible p99, ms", "d.p99_ms", fmt_ms, True, "Sluice p99 <= 2 ms"),
    ("(a) PutRecords request p50 / p99, ms", None, None, True, ""),
    ("(b) PutRecord request p50 / p99, ms", None, None, True, ""),
]
cols = [s for s in ("null", "sluice", "kinesalite", "kinesis-local", "sluice-never") if s in res]
head = "| scenario | " + " | ".join(names[s] for s in cols) + " | " + \
    " | ".join(f"Sluice/{s}" for s in peers) + " | target |"
print(head)
print("|---|" + "---:|" * (len(cols) + len(peers)) + "---|")
for label, key, f, lower, target in rows:
    if key is None:
        sc = label[1]
        cells = []
        for s in cols:
            p50, p99 = get(s, f"{sc}.req_p50_ms"), get(s, f"{sc}.req_p99_ms")
            cells.append("-" if p50 is None else f"{p50:.2f} / {p99:.2f}")
        rat = []
        for p in peers:
            rat.append(ratio(get("sluice", f"{sc}.req_p99_ms"), get(p, f"{sc}.req_p99_ms"), True)
                       + " (p99)")
        print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rat) + " | |")
        continue
    cells = [f(get(s, key)) for s in cols]
    rat = [ratio(get("sluice", key), get(p, key), lower) for p in peers]
    print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(rat) + f" | {target} |")
cells = [("-" if get(s, "peak_rss_kib") in (None, 0) else f"{get(s, 'peak_rss_kib') / 1024:.0f}")
         for s in cols]
rat = [ratio(get(p, "peak_rss_kib"), get("sluice", "peak_rss_kib")) + " less" for p in peers]
print("| peak RSS of the server (VmHWM), MiB | " + " | ".join(cells) + " | " + " | ".join(rat)
      + " | memory bounded under sustained load |")
for sc in "abcd":
    cells = []
    for s in cols:
        v = get(s, f"{sc}.server_rss_kib")
        cells.append("-" if v is None else f"{v / 1024:.0f}")
    if any(c != "-" for c in cells):
        print(f"| server RSS after ({sc}), MiB | " + " | ".join(cells) + " |" + " |" * len(peers)
              + " |")
for sc in "abcd":
    cells = []
    for s in cols:
        v = get(s, f"{sc}.gen_cpu_pct")
        cells.append("-" if v is None else f"{v:.0f}")
    if any(c != "-" for c in cells):
        print(f"| generator CPU in ({sc}), % of one core | " + " | ".join(cells) + " |"
              + " |" * len(peers) + " |")

print()
print("Details (counts, errors):")
print()
for s in cols:
    r = res[s]
    bits = []
    for sc in "ab":
        if f"{sc}.rate" in r:
            bits.append(f"({sc}) {r[f'{sc}.count']:.0f} in the window, {r[f'{sc}.acked_total']:.0f} acked"
                        f" in all, {r[f'{sc}.failed_records']:.0f} failed records,"
                        f" {r[f'{sc}.error_responses']:.0f} error responses")
    if "c.rate" in r:
        bits.append(f"(c) {r['c.count']:.0f} of {r['c.expected']:.0f} records in {r['c.seconds']:.2f} s,"
                    f" {r['c.calls']:.0f} calls, {r['c.error_responses']:.0f} error responses")
    if "d.sent" in r:
        bits.append(f"(d) {r['d.seen']:.0f} of {r['d.sent']:.0f} records seen,"
                    f" {r['d.get_calls_per_s']:.0f} GetRecords/s, max {r.get('d.max_ms', 0):.2f} ms,"
                    f" {r['d.error_responses']:.0f} error responses")
    print(f"- {names[s]}: " + "; ".join(bits))
    for sc in "abcd":
        if f"{sc}.first_error" in r:
            print(f"  - first error in ({sc}): {r[f'{sc}.first_error'][:200]}")
EOF
