#!/usr/bin/env bash
# Measures Lambda invocations on Sluice through the real Invoke API, one runtime after another
# on one server, with one driver (bench/invoke_load.cc), and prints Markdown tables;
# docs/performance.md, "Lambda invocations", records a run. Configurations (functions created
# by the driver through CreateFunction, zips built here from bench/handlers):
#   inprocess     runtime sluice.cpp: bench/handlers/cpp-inprocess, dlopen()ed by the server
#   provided-cpp  provided.al2023: a bootstrap on aws-lambda-cpp (bench/handlers/cpp-provided,
#                 built here against what scripts/install-runtimes.sh installs)
#   python        python3.11 on Sluice's own Python runtime client (bench/handlers/python)
#   awslambdaric  provided.al2023 whose bootstrap runs AWS's awslambdaric (build/venv, pinned
#                 in tests/e2e/requirements.txt) on the same app.py and the same interpreter
#   nodejs        nodejs20.x on Sluice's own Node.js runtime client (bench/handlers/nodejs)
#   direct        no server: runtime::InProcessInvoker::invoke() in the driver's process,
#                 beside a plain call of the same handler (invoke_load --direct)
# Each configuration: a 1 KiB and a 1 MiB event, answered with the event (echo) and with a
# small constant (small); warm latency and rate beside a null server that answers with the
# same bytes; then cold starts (UpdateFunctionConfiguration, then one Invoke). About 5 minutes
# of running on 2 cores, plus the build.
#
# Usage: bench/run-invoke.sh [invoke_load flags...]   e.g. --seconds 2 --cold 5
# Environment:
#   SLUICE_BENCH_BUILD    build directory; default build/release through the `release`
#                         preset. Another directory is configured with the same flags.
#   SLUICE_BENCH_NO_BUILD set to 1 to use the binaries already in the build directory
#   SLUICE_BENCH_CONFIGS  which to run (default: direct,inprocess,provided-cpp,python,
#                         awslambdaric,nodejs)
#   SLUICE_BENCH_COLD     cold starts per configuration (default 20)
#   SLUICE_BENCH_PORT     Sluice's port (default 4751)
#   SLUICE_BENCH_SERVER_ARGS  more `sluice serve` flags, e.g. "--handler-threads 0"
#   SLUICE_BENCH_OUT      directory for logs, zips and JSON results (default: a new temp dir,
#                         kept)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
configs="${SLUICE_BENCH_CONFIGS:-direct,inprocess,provided-cpp,python,awslambdaric,nodejs}"
cold="${SLUICE_BENCH_COLD:-20}"
port="${SLUICE_BENCH_PORT:-4751}"
out="${SLUICE_BENCH_OUT:-$(mktemp -d /tmp/sluice-invoke-bench.XXXXXX)}"
mkdir -p "$out"

if [[ -n "${SLUICE_BENCH_BUILD:-}" ]]; then
  build="$SLUICE_BENCH_BUILD"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DCMAKE_CXX_COMPILER=g++ \
      -DCMAKE_C_COMPILER=gcc -DSLUICE_BUILD_BENCH=ON -DSLUICE_WERROR=ON >/dev/null
    cmake --build "$build" -j2 --target sluice invoke_load bench_handler
  fi
else
  build="$root/build/release"
  if [[ "${SLUICE_BENCH_NO_BUILD:-0}" != 1 ]]; then
    (cd "$root" && cmake --preset release >/dev/null &&
      cmake --build --preset release -j2 --target sluice invoke_load bench_handler)
  fi
fi
sluice_bin="$build/sluice"
load_bin="$build/bench/invoke_load"
handler_lib="$build/bench/bench_handler.so"
for f in "$sluice_bin" "$load_bin" "$handler_lib"; do
  [[ -e "$f" ]] || { echo "run-invoke.sh: $f is missing" >&2; exit 1; }
done

has() { [[ ",$configs," == *",$1,"* ]]; }

# AWS's clients: aws-lambda-cpp for provided-cpp, awslambdaric in build/venv (idempotent).
venv_python="$root/build/venv/bin/python"
if has provided-cpp || has awslambdaric; then
  "$root/scripts/install-runtimes.sh" >&2
fi
if has provided-cpp; then
  cmake -S "$root/bench/handlers/cpp-provided" -B "$build/bench-provided" -G Ninja \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$root/build/runtimes/aws-lambda-cpp" \
    >"$out/provided-build.log" 2>&1
  cmake --build "$build/bench-provided" -j2 >>"$out/provided-build.log" 2>&1 || {
    cat "$out/provided-build.log" >&2
    exit 1
  }
fi
if has awslambdaric; then
  "$venv_python" -c 'import awslambdaric.bootstrap' 2>/dev/null || {
    echo "run-invoke.sh: no awslambdaric in $venv_python (make test-deps)" >&2
    exit 1
  }
fi

# The functions' zips. Mode 755 for bootstraps, 644 for the rest.
python3 - "$out" "$root/bench/handlers" "$handler_lib" "$build/bench-provided/bootstrap" \
  "$venv_python" "$configs" <<'EOF'
import os, shlex, sys, zipfile

out, handlers, lib, bootstrap, venv_python, configs = sys.argv[1:]
configs = configs.split(",")

def make(name, entries):
    with zipfile.ZipFile(os.path.join(out, name + ".zip"), "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, data, mode in entries:
            info = zipfile.ZipInfo(arcname)
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, data)

def read(path):
    with open(path, "rb") as f:
        return f.read()

app_py = read(os.path.join(handlers, "python/app.py"))
if "inprocess" in configs:
    make("inprocess", [("lib/bench_handler.so", read(lib), 0o755)])
if "provided-cpp" in configs:
    make("provided-cpp", [("bootstrap", read(bootstrap), 0o755)])
if "python" in configs:
    make("python", [("app.py", app_py, 0o644)])
if "awslambdaric" in configs:
    boot = '#!/bin/sh\nexec %s -m awslambdaric "$_HANDLER"\n' % shlex.quote(venv_python)
    make("awslambdaric", [("bootstrap", boot.encode(), 0o755), ("app.py", app_py, 0o644)])
if "nodejs" in configs:
    make("nodejs", [("index.js", read(os.path.join(handlers, "nodejs/index.js")), 0o644)])
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
echo "- sluice serve flags: --port $port --data-dir <new temp dir> ${SLUICE_BENCH_SERVER_ARGS:-}"
echo "- load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "- logs and JSON results: $out"
echo

if has direct; then
  echo "### direct (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  echo "{\"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$out/direct.load.json"
  "$load_bin" --direct "$handler_lib" --json "$out/direct.json" "$@" 2>&1 |
    tee "$out/direct.log" >&2
fi

data_dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-invoke-data.XXXXXX")"
# shellcheck disable=SC2086  # word splitting of the extra flags is intended
"$sluice_bin" serve --port "$port" --data-dir "$data_dir" ${SLUICE_BENCH_SERVER_ARGS:-} \
  >"$out/sluice.server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 200); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  kill -0 "$server_pid" 2>/dev/null || { cat "$out/sluice.server.log" >&2; exit 1; }
  sleep 0.1
done

# run_config NAME RUNTIME ECHO-HANDLER SMALL-HANDLER [invoke_load flags...]
run_config() {
  local name="$1" runtime="$2" echo_handler="$3" small_handler="$4"
  shift 4  # the rest: invoke_load flags
  has "$name" || return 0
  echo "### $name (load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2
  echo "{\"load_before\": \"$(cut -d' ' -f1-3 /proc/loadavg)\"}" >"$out/$name.load.json"
  if ! "$load_bin" --port "$port" --function "$name" --label "$name" --runtime "$runtime" \
    --handler-echo "$echo_handler" --handler-small "$small_handler" --zip "$out/$name.zip" \
    --cold "$cold" --json "$out/$name.json" "$@" 2>&1 | tee "$out/$name.log" >&2; then
    echo "run-invoke.sh: the driver failed for $name (see $out/$name.log)" >&2
    return 1
  fi
}

status=0
run_config inprocess sluice.cpp lib/bench_handler.so:bench_echo lib/bench_handler.so:bench_small \
  --floor --concurrent 4 "$@" || status=1
run_config provided-cpp provided.al2023 bench.echo bench.small --concurrent 4 "$@" || status=1
run_config python python3.11 app.echo app.small --concurrent 4 "$@" || status=1
run_config awslambdaric provided.al2023 app.echo app.small --concurrent 4 "$@" || status=1
run_config nodejs nodejs20.x index.echo index.small --concurrent 4 "$@" || status=1
hwm_kib="$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status" 2>/dev/null || echo 0)"
echo "{\"peak_rss_kib\": ${hwm_kib:-0}}" >"$out/sluice.server.json"

echo "- load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo

python3 - "$out" "$configs" <<'EOF'
import json, os, sys

out, configs = sys.argv[1], sys.argv[2].split(",")
names = {"direct": "in-process, no HTTP (InProcessInvoker::invoke)",
         "inprocess": "in-process C++ (sluice.cpp)",
         "provided-cpp": "provided.al2023, C++ on aws-lambda-cpp",
         "python": "python3.11, Sluice's client", "awslambdaric": "provided.al2023, awslambdaric",
         "nodejs": "nodejs20.x, Sluice's client"}
targets = {"inprocess": 20, "provided-cpp": 300, "python": 300, "awslambdaric": 300,
           "nodejs": 300}

def load(name):
    r = {}
    for suffix in ("json", "load.json"):
        p = os.path.join(out, f"{name}.{suffix}")
        if os.path.exists(p):
            with open(p) as f:
                r.update(json.load(f))
    return r

def size(b):
    b = int(b)
    return f"{b // 1048576} MiB" if b >= 1048576 else f"{b // 1024} KiB"

def us(v):
    return "-" if v is None else (f"{v:.0f}" if v >= 100 else f"{v:.1f}")

res = {c: load(c) for c in configs}
print("| runtime | event | reply | Sluice p50 / p99 / max, µs | invokes/s | null p50 / p99, µs |"
      " overhead p50, µs | target p50 overhead | load |")
print("|---|---|---|---:|---:|---:|---:|---|---|")
for c in configs:
    if c == "direct":
        continue
    r = res[c]
    def order(k):
        if k.startswith("floor"):
            return (0, 0, k)
        return (2 if k.startswith("conc") else 1, int(k.split(".")[-2][1:]), k)
    keys = sorted({k.rsplit(".sluice.", 1)[0] for k in r if ".sluice.p50_us" in k}, key=order)
    for k in keys:
        g = lambda s: r.get(f"{k}.{s}")
        conc = k.startswith("conc")
        if k.startswith("floor"):
            print(f"| Sluice's Lambda API without an invoke (GetFunctionConfiguration) | - | - |"
                  f" {us(g('sluice.p50_us'))} / {us(g('sluice.p99_us'))} / {us(g('sluice.max_us'))} |"
                  f" {g('sluice.rate'):.0f} | {us(g('null.p50_us'))} / {us(g('null.p99_us'))} |"
                  f" {us(g('overhead_p50_us'))} | | {r.get('load_before', '')} |")
            continue
        ov = g("overhead_p50_us")
        t = targets.get(c)
        verdict = ""
        if t is not None and not conc and g("event_bytes") <= 1024:
            verdict = f"<= {t}: " + ("met" if ov is not None and ov <= t else "**missed**")
        label = names[c] + (f", {int(g('connections'))} connections" if conc else "")
        print(f"| {label} | {size(g('event_bytes'))} | {k.split('.')[-1]} |"
              f" {us(g('sluice.p50_us'))} / {us(g('sluice.p99_us'))} / {us(g('sluice.max_us'))} |"
              f" {g('sluice.rate'):.0f} | {us(g('null.p50_us'))} / {us(g('null.p99_us'))} |"
              f" {us(ov)} | {verdict} | {r.get('load_before', '')} |")
print()
if "direct" in res and res["direct"]:
    r = res["direct"]
    print("| in-process without HTTP | event | reply | invoke() p50 / p99 / max, µs | calls/s |"
          " plain call p50 / p99, µs | invoker overhead p50, µs | load |")
    print("|---|---|---|---:|---:|---:|---:|---|")
    keys = sorted({k.rsplit(".invoker.", 1)[0] for k in r if ".invoker.p50_us" in k},
                  key=lambda k: (int(k.split(".")[0][1:]), k))
    for k in keys:
        g = lambda s: r.get(f"{k}.{s}")
        print(f"| InProcessInvoker | {size(g('event_bytes'))} | {k.split('.')[-1]} |"
              f" {us(g('invoker.p50_us'))} / {us(g('invoker.p99_us'))} / {us(g('invoker.max_us'))} |"
              f" {g('invoker.rate'):.0f} | {us(g('direct.p50_us'))} / {us(g('direct.p99_us'))} |"
              f" {us(g('overhead_p50_us'))} | {r.get('load_before', '')} |")
    print()
print("| cold start | first Invoke p50 / p99 / max, ms | Init Duration (REPORT) p50 / p99, ms |"
      " n | target |")
print("|---|---:|---:|---:|---|")
for c in configs:
    r = res[c]
    if "cold.p50_us" not in r:
        continue
    ms = lambda k: "-" if r.get(k) is None else f"{r[k] / 1000:.1f}"
    target = ""
    if c == "python":
        target = "<= 100 ms: " + ("met" if r["cold.p50_us"] <= 100000 else "**missed**")
    print(f"| {names[c]} | {ms('cold.p50_us')} / {ms('cold.p99_us')} / {ms('cold.max_us')} |"
          f" {ms('cold.init.p50_us')} / {ms('cold.init.p99_us')} | {int(r['cold.count'])} |"
          f" {target} |")
print()
bad = [(c, k, v) for c in configs for k, v in res[c].items()
       if k.endswith(".bad") and v]
print("Errors: " + ("none (every answer checked)" if not bad else
                    "; ".join(f"{c} {k} = {v:.0f}" for c, k, v in bad)))
for c in configs:
    for k, v in res[c].items():
        if k.endswith("first_error"):
            print(f"- {c} {k}: {v[:200]}")
EOF
exit $status
