#!/usr/bin/env bash
# Installs the real AWS clients that tests/e2e/test_clients.py runs against Sluice:
#   tests/clients/js    the AWS SDK for JavaScript v3 Kinesis client and dynalite (npm ci)
#   tests/clients/java  the AWS SDK for Java v2 and the Kinesis Client Library (Maven)
# Every version is pinned in tests/clients/js/package-lock.json and tests/clients/java/pom.xml.
# Node.js/npm, Java 17 and Maven come from Debian packages, and only when missing.
#
# Idempotent: each half does nothing while its stamp under build/clients matches the hash of
# its inputs (the lock file; the pom and the Java sources; and this script) and its output
# exists. Downloads happen here only; the tests run `node` and `java -cp` offline. Caches stay
# in their default homes (~/.npm, ~/.m2); the Java build output goes to build/clients/java.
# Each tool's output goes to build/clients/*.log, shown in full when it fails.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out=build/clients

missing=()
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
command -v javac >/dev/null || missing+=(openjdk-17-jdk-headless)
command -v mvn >/dev/null || missing+=(maven)
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "install-clients: missing packages (${missing[*]}) and not root" >&2
      exit 1
    fi
  else
    SUDO=
  fi
  echo "install-clients: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A hash of the given files (and of this script): what a stamp under build/clients records.
inputs_hash() {
  sha256sum scripts/install-clients.sh "$@" | sha256sum | cut -d' ' -f1
}
mkdir -p "$out"

# run_logged LOG CMD...: runs CMD with its output in LOG; on failure prints LOG and fails.
run_logged() {
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-clients: failed: $* (log: $log)" >&2
    return 1
  fi
}

js_stamp="$out/js.stamp"
js_want="$(inputs_hash tests/clients/js/package.json tests/clients/js/package-lock.json)"
if [[ ! -f "$js_stamp" || "$(cat "$js_stamp")" != "$js_want" ||
      ! -d tests/clients/js/node_modules/@aws-sdk/client-kinesis ||
      ! -d tests/clients/js/node_modules/dynalite ]]; then
  echo "install-clients: npm ci in tests/clients/js"
  run_logged "$out/npm.log" npm --prefix tests/clients/js ci --no-audit --no-fund
  echo "$js_want" >"$js_stamp"
fi

java_stamp="$out/java.stamp"
mapfile -d '' java_sources < <(find tests/clients/java/src -type f -print0 | sort -z)
java_want="$(inputs_hash tests/clients/java/pom.xml "${java_sources[@]}")"
if [[ ! -f "$java_stamp" || "$(cat "$java_stamp")" != "$java_want" ||
      ! -d "$out/java/classes" || ! -d "$out/java/lib" ]]; then
  echo "install-clients: mvn package in tests/clients/java"
  rm -rf "$out/java"
  run_logged "$out/mvn.log" mvn -B -f tests/clients/java/pom.xml -DskipTests package
  echo "$java_want" >"$java_stamp"
fi
