#!/usr/bin/env bash
# Installs what Sluice needs to build and test, from Debian 12 packages only.
# Idempotent: it asks apt only for packages that are missing. This is the one place that
# lists the server's and the test suite's system packages.
#
#   scripts/install-deps.sh          build + run (make run, make build)
#   scripts/install-deps.sh --test   also the tools `make test` uses (clang, sanitizers, ...)
set -euo pipefail

build_pkgs=(
  build-essential cmake ninja-build pkg-config git
  libboost1.81-dev libspdlog-dev libfmt-dev libcli11-dev libsqlite3-dev libssl-dev
  libxxhash-dev libsimdjson-dev libnghttp2-dev libcbor-dev libzip-dev
)
test_pkgs=(
  libgtest-dev libgmock-dev libbenchmark-dev
  clang-14 clang-format-14 clang-tidy-14 libclang-rt-14-dev llvm-14
  python3 python3-pytest python3-venv curl procps
)

want=("${build_pkgs[@]}")
if [[ "${1:-}" == "--test" ]]; then want+=("${test_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
if ((${#missing[@]} == 0)); then exit 0; fi

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then SUDO=sudo; else
    echo "install-deps: missing packages (${missing[*]}) and not root" >&2
    exit 1
  fi
else
  SUDO=
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
