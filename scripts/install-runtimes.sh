#!/usr/bin/env bash
# Installs AWS's own Lambda runtime clients that tests/e2e/test_lambda_runtimes.py runs as
# provided.al2023 functions on Sluice (tests/runtimes/README.md):
#   build/runtimes/node       npm ci of tests/runtimes/package-lock.json: aws-lambda-ric, whose
#                             install compiles curl, aws-lambda-cpp and a Node addon from the
#                             sources in its tarball
#   build/runtimes/aws-lambda-cpp
#                             aws-lambda-cpp from that same tarball (deps/aws-lambda-cpp.tar.xz),
#                             built with CMake against Debian's libcurl and installed here
#   build/runtimes/cpp        tests/runtimes/cpp built against it: the `bootstrap` executable
# and checks that awslambdaric (pinned in tests/e2e/requirements.txt, installed into build/venv
# by `make test-deps`) imports with its native extension.
# Missing Debian packages (curl, libcurl4-openssl-dev, cmake, g++, make, xz-utils, nodejs,
# npm) are installed with apt-get, and only when missing.
#
# Idempotent: each step does nothing while its stamp under build/runtimes matches the hash of
# its inputs (this script, the lock file, the C++ sources) and its output exists. Downloads
# happen here only (the npm registry, and nodejs.org for Node headers when the system has
# none); the tests run everything offline. Each tool's output goes to build/runtimes/*.log,
# shown in full when it fails.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
out=build/runtimes
jobs=2  # CI has two cores, shared with whatever else builds
started=$SECONDS

have_curl_headers() {
  command -v g++ >/dev/null && printf '#include <curl/curl.h>\n' | g++ -E -x c++ - >/dev/null 2>&1
}

missing=()
command -v curl >/dev/null || missing+=(curl)
command -v cmake >/dev/null || missing+=(cmake)
command -v g++ >/dev/null || missing+=(g++)
command -v make >/dev/null || missing+=(make)
command -v xz >/dev/null || missing+=(xz-utils)
command -v python3 >/dev/null || missing+=(python3)  # node-gyp runs gyp with it
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)
have_curl_headers || missing+=(libcurl4-openssl-dev)
if ((${#missing[@]} > 0)); then
  if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null; then SUDO=sudo; else
      echo "install-runtimes: missing packages (${missing[*]}) and not root" >&2
      exit 1
    fi
  else
    SUDO=
  fi
  echo "install-runtimes: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# A hash of the given files (and of this script): what a stamp under build/runtimes records.
inputs_hash() {
  sha256sum scripts/install-runtimes.sh "$@" | sha256sum | cut -d' ' -f1
}
mkdir -p "$out"

# run_logged LOG CMD...: runs CMD with its output in LOG; on failure prints LOG and fails.
run_logged() {
  local log="$1"
  shift
  if ! "$@" >"$log" 2>&1; then
    cat "$log" >&2
    echo "install-runtimes: failed: $* (log: $log)" >&2
    return 1
  fi
}

# step_done STAMP WANT OUTPUT...: true when STAMP records WANT and every OUTPUT exists.
step_done() {
  local stamp="$1" want="$2"
  shift 2
  [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]] || return 1
  local f
  for f in "$@"; do [[ -e "$f" ]] || return 1; done
}

# 1. aws-lambda-ric for Node.js. npm checks every tarball against the lock's integrity hash;
# the package's install scripts build curl and aws-lambda-cpp statically, then the addon with
# node-gyp. Its `engines` asks for Node >= 22; on older Node npm only warns, and the tests
# show whether the client works on the Node this machine has.
node_dir="$out/node"
ric="$node_dir/node_modules/aws-lambda-ric"
node_want="$(inputs_hash tests/runtimes/package.json tests/runtimes/package-lock.json)"
if ! step_done "$out/node.stamp" "$node_want" "$ric/index.mjs" "$ric/rapid-client.node" \
    "$ric/deps/aws-lambda-cpp.tar.xz"; then
  echo "install-runtimes: npm ci of aws-lambda-ric (builds curl, aws-lambda-cpp, a Node addon)"
  step_started=$SECONDS
  rm -rf "$node_dir"
  mkdir -p "$node_dir"
  cp tests/runtimes/package.json tests/runtimes/package-lock.json "$node_dir/"
  # node-gyp takes Node's headers from the system when it has them, else downloads them.
  if [[ -f /usr/include/node/node_api.h ]]; then export npm_config_nodedir=/usr; fi
  run_logged "$out/npm.log" npm --prefix "$node_dir" ci --no-audit --no-fund --foreground-scripts
  echo "$node_want" >"$out/node.stamp"
  echo "install-runtimes: aws-lambda-ric built in $((SECONDS - step_started)) s"
fi

# 2. aws-lambda-cpp from the sources aws-lambda-ric ships, installed under build/runtimes.
cpp_lib_dir="$out/aws-lambda-cpp"
lib_want="$(inputs_hash tests/runtimes/package-lock.json)"
if ! step_done "$out/aws-lambda-cpp.stamp" "$lib_want" \
    "$cpp_lib_dir/lib/aws-lambda-runtime/cmake/aws-lambda-runtime-config.cmake"; then
  echo "install-runtimes: building aws-lambda-cpp from $ric/deps/aws-lambda-cpp.tar.xz"
  step_started=$SECONDS
  rm -rf "$cpp_lib_dir" "$out/aws-lambda-cpp-src" "$out/aws-lambda-cpp-build"
  mkdir -p "$out/aws-lambda-cpp-src"
  # The archive was made on macOS: skip its AppleDouble files and extended-header keywords.
  tar -xJf "$ric/deps/aws-lambda-cpp.tar.xz" -C "$out/aws-lambda-cpp-src" --no-same-owner \
    --warning=no-unknown-keyword --exclude='._*'
  run_logged "$out/aws-lambda-cpp.log" cmake -S "$out/aws-lambda-cpp-src" \
    -B "$out/aws-lambda-cpp-build" -DCMAKE_BUILD_TYPE=Release -DENABLE_LTO=OFF \
    -DCMAKE_INSTALL_PREFIX="$repo/$cpp_lib_dir"
  run_logged "$out/aws-lambda-cpp-build.log" \
    cmake --build "$out/aws-lambda-cpp-build" -j "$jobs" --target aws-lambda-runtime
  run_logged "$out/aws-lambda-cpp-install.log" cmake --install "$out/aws-lambda-cpp-build"
  echo "$lib_want" >"$out/aws-lambda-cpp.stamp"
  echo "install-runtimes: aws-lambda-cpp built in $((SECONDS - step_started)) s"
fi

# 3. The C++ test function: build/runtimes/cpp/bootstrap.
fn_dir="$out/cpp"
fn_want="$(inputs_hash tests/runtimes/package-lock.json tests/runtimes/cpp/CMakeLists.txt \
  tests/runtimes/cpp/main.cc)"
if ! step_done "$out/cpp.stamp" "$fn_want" "$fn_dir/bootstrap"; then
  echo "install-runtimes: building tests/runtimes/cpp into $fn_dir/bootstrap"
  rm -rf "$fn_dir"
  run_logged "$out/cpp.log" cmake -S tests/runtimes/cpp -B "$fn_dir" \
    -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH="$repo/$cpp_lib_dir"
  run_logged "$out/cpp-build.log" cmake --build "$fn_dir" -j "$jobs"
  echo "$fn_want" >"$out/cpp.stamp"
fi

# 4. awslambdaric: only checked here; pip installs it with the other e2e requirements.
venv_python=build/venv/bin/python
if [[ -x "$venv_python" ]]; then
  if ! "$venv_python" -c 'import awslambdaric.bootstrap, runtime_client' 2>"$out/awslambdaric.log"; then
    cat "$out/awslambdaric.log" >&2
    echo "install-runtimes: awslambdaric (with its native runtime_client) does not import" \
      "in $venv_python; run make test-deps" >&2
    exit 1
  fi
else
  echo "install-runtimes: no $venv_python yet; make test-deps creates it with awslambdaric"
fi

if ((SECONDS - started > 1)); then
  echo "install-runtimes: done in $((SECONDS - started)) s"
fi
