#!/usr/bin/env bash
# Builds the fuzz targets (tests/fuzz/*_fuzz.cc) in a clang preset with libFuzzer's coverage
# instrumentation (asan-ubsan by default, the build make test already has; FUZZ_PRESET=fuzz
# for a build of the targets alone) and runs each for <seconds>, FUZZ_JOBS at a time (default:
# the number of cores), over a scratch copy of its seed corpus tests/fuzz/corpus/<name>/ (the
# target's name without "_fuzz"). Fails on any crash, hang, out-of-memory or sanitizer
# report, and keeps the reproducer in build/<preset>/fuzz-run/<name>/artifacts/.
# Replay one with: build/<preset>/tests/fuzz/<target> <file>
#
#   scripts/run-fuzz.sh <seconds-per-target>      (JOBS=n for the build, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:?usage: scripts/run-fuzz.sh <seconds-per-target>}"
jobs="${JOBS:-2}"
preset="${FUZZ_PRESET:-asan-ubsan}"
parallel="${FUZZ_JOBS:-$(nproc)}"
build="build/$preset"

targets=()
for src in tests/fuzz/*_fuzz.cc; do
  targets+=("$(basename "$src" .cc)")
done
if ((${#targets[@]} == 0)); then
  echo "run-fuzz: no targets in tests/fuzz" >&2
  exit 1
fi

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs" --target "${targets[@]}"

# One target over its corpus; the exit status says whether it stayed clean.
run_one() {
  local target="$1" name="${1%_fuzz}"
  local work="$build/fuzz-run/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then
    cp -R "tests/fuzz/corpus/$name/." "$work/corpus/"
  fi
  echo "run-fuzz: $target for ${seconds}s over $(find "$work/corpus" -type f | wc -l) seed inputs"
  # -timeout: one input running longer than this is a hang, and a failure.
  "$build/tests/fuzz/$target" "$work/corpus" \
    -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
    -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log.txt" 2>&1
}

# Report one finished target; fails (after printing its log) when it did not stay clean.
report() {
  local target="$1" status="$2" work="$build/fuzz-run/${1%_fuzz}"
  if ((status != 0)); then
    echo "run-fuzz: $target FAILED; last lines of $work/log.txt:" >&2
    tail -n 60 "$work/log.txt" >&2
    echo "run-fuzz: reproducers in $work/artifacts/" >&2
    return 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$work/log.txt" | sed "s/^/run-fuzz: $target: /"
}

# Targets run `parallel` at a time (each is one busy thread); reported in order.
failed=0
for ((i = 0; i < ${#targets[@]}; i += parallel)); do
  batch=("${targets[@]:i:parallel}")
  pids=()
  for target in "${batch[@]}"; do
    run_one "$target" &
    pids+=($!)
  done
  for k in "${!batch[@]}"; do
    status=0
    wait "${pids[$k]}" || status=$?
    report "${batch[$k]}" "$status" || failed=1
  done
  ((failed == 0)) || exit 1
done
echo "run-fuzz: ${#targets[@]} targets clean"
