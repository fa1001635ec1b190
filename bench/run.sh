#!/usr/bin/env bash
# Builds bench/log_append_bench with the release flags and runs it: append throughput under
# each fsync policy beside a raw pwrite/fdatasync baseline, read throughput, the cost of one
# append piece by piece, and memory. Prints the machine and markdown tables; a run is recorded
# in docs/performance.md. About 2.5 minutes of running, plus the build.
#
# Usage: bench/run.sh [log_append_bench flags...]     e.g. bench/run.sh --sections group,never
# Environment: SLUICE_BENCH_BUILD  build directory        (default: build/bench)
#              SLUICE_BENCH_DIR    scratch directory, on the disk to measure; emptied, and
#                                  removed afterwards     (default: $SLUICE_BENCH_BUILD/scratch)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SLUICE_BENCH_BUILD:-$root/build/bench}"
scratch="${SLUICE_BENCH_DIR:-$build/scratch}"

cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g -DNDEBUG" -DSLUICE_BUILD_BENCH=ON \
  -DSLUICE_BUILD_TESTS=OFF -DSLUICE_WERROR=ON >/dev/null
cmake --build "$build" -j2 --target log_append_bench

mkdir -p "$scratch"
fstype="$(df --output=fstype "$scratch" | tail -1 | tr -d ' ')"
if [[ "$fstype" == tmpfs || "$fstype" == ramfs ]]; then
  echo "run.sh: $scratch is on $fstype, not a disk; set SLUICE_BENCH_DIR" >&2
  exit 1
fi

echo "## machine"
echo
echo "- date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "- cpu: $(nproc) x $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "- memory: $(free -h | awk '/^Mem:/ {print $2}')"
echo "- kernel: $(uname -r)"
echo "- bench dir: $scratch on $(df --output=source,fstype "$scratch" | tail -1 | tr -s ' ')" \
  "($(findmnt -n -o OPTIONS --target "$scratch" 2>/dev/null || echo '?'))"
dev="$(basename "$(df --output=source "$scratch" | tail -1)")"
if [[ "$fstype" == ext4 ]]; then
  if ls /proc/fs/jbd2 2>/dev/null | grep -q "^$dev-"; then
    echo "- ext4 journal: yes"
  else
    echo "- ext4 journal: none (fdatasync writes data and inode, then flushes the device)"
  fi
fi
echo "- load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
trap 'rm -rf "$scratch"' EXIT
"$build/bench/log_append_bench" --dir "$scratch" --durable-seconds 1.6 --never-seconds 1.2 "$@"
