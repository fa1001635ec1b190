#!/usr/bin/env bash
# Fails when a C++ file differs from what clang-format 14 (.clang-format) makes of it.
set -euo pipefail
cd "$(dirname "$0")/.."
mapfile -t files < <(git ls-files -co --exclude-standard -- '*.h' '*.cc' | grep -v '^build/')
if ((${#files[@]} == 0)); then exit 0; fi
clang-format-14 --dry-run --Werror "${files[@]}"
echo "check-format: ${#files[@]} files formatted"
