#!/usr/bin/env bash
# Builds the fuzz preset and runs every libFuzzer target (tests/fuzz/*_fuzz.cc) for
# <seconds> each, over a scratch copy of its seed corpus tests/fuzz/corpus/<name>/ (the
# target's name without "_fuzz"). Fails on the first crash, hang, out-of-memory or
# sanitizer report, and keeps the reproducer in build/fuzz/fuzz-run/<name>/artifacts/.
# Replay one with: build/fuzz/tests/fuzz/<target> <file>
#
#   scripts/run-fuzz.sh <seconds-per-target>      (JOBS=n for the build, default 2)
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:?usage: scripts/run-fuzz.sh <seconds-per-target>}"
jobs="${JOBS:-2}"

targets=()
for src in tests/fuzz/*_fuzz.cc; do
  targets+=("$(basename "$src" .cc)")
done
if ((${#targets[@]} == 0)); then
  echo "run-fuzz: no targets in tests/fuzz" >&2
  exit 1
fi

cmake --preset fuzz >/dev/null
cmake --build --preset fuzz -j "$jobs" --target "${targets[@]}"

for target in "${targets[@]}"; do
  name="${target%_fuzz}"
  work="build/fuzz/fuzz-run/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  if [[ -d "tests/fuzz/corpus/$name" ]]; then
    cp -R "tests/fuzz/corpus/$name/." "$work/corpus/"
  fi
  echo "run-fuzz: $target for ${seconds}s over $(find "$work/corpus" -type f | wc -l) seed inputs"
  # -timeout: one input running longer than this is a hang, and a failure.
  if ! "build/fuzz/tests/fuzz/$target" "$work/corpus" \
      -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=30 \
      -artifact_prefix="$work/artifacts/" -print_final_stats=1 >"$work/log.txt" 2>&1; then
    echo "run-fuzz: $target FAILED; last lines of $work/log.txt:" >&2
    tail -n 60 "$work/log.txt" >&2
    echo "run-fuzz: reproducers in $work/artifacts/" >&2
    exit 1
  fi
  grep -E '^(stat::number_of_executed_units|stat::peak_rss_mb)|DONE' "$work/log.txt" | sed "s/^/run-fuzz: $target: /"
done
echo "run-fuzz: ${#targets[@]} targets clean"
