#!/usr/bin/env bash
# Installs the Kinesis emulators that bench/run-kinesis.sh measures Sluice against, exactly as
# pinned in bench/peers/package-lock.json (kinesalite 3.3.3, kinesis-local 0.6.2), into
# bench/peers/node_modules. Idempotent: does nothing when the installed tree already matches
# the lock file. Needs node and npm (Debian: apt-get install nodejs npm). The benchmark run
# itself fetches nothing.
set -euo pipefail

peers="$(cd "$(dirname "${BASH_SOURCE[0]}")/peers" && pwd)"
stamp="$peers/node_modules/.sluice-lock-sha256"
want="$(sha256sum "$peers/package-lock.json" | cut -d' ' -f1)"

if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" &&
      -f "$peers/node_modules/kinesalite/cli.js" && -f "$peers/node_modules/kinesis-local/main.js" ]]; then
  echo "install-peers.sh: peers already installed ($peers/node_modules)"
  exit 0
fi

command -v npm >/dev/null || { echo "install-peers.sh: npm not found" >&2; exit 1; }
# `npm ci` installs exactly the lock file and fails if package.json disagrees with it.
# Install scripts are skipped: the only one (leveldown, native LevelDB) is for kinesalite's
# --path option, which the benchmark does not use (kinesalite keeps streams in memory).
(cd "$peers" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
echo "$want" > "$stamp"
echo "install-peers.sh: installed $(cd "$peers" && node -p "Object.keys(require('./package.json').dependencies).map(n => n + '@' + require('./node_modules/' + n + '/package.json').version).join(', ')")"
