#!/usr/bin/env bash
# Holds #include lines to the layer diagram of STYLE.md section 2: a file in src/<layer>/ may
# include its own layer, base/, and the layers listed for it below. Fails on any other edge.
set -euo pipefail
cd "$(dirname "$0")/.."

declare -A allowed=(
  [base]=""
  [storage]=""
  [stream]="storage"
  [function]=""
  [runtime]="function net"
  [esm]="stream function"
  [net]=""
  [kinesis]="stream net"
  [sqs]="net"
  [s3]="net"
  [lambda]="esm stream function net storage"
  [server]="*"
)

status=0
for dir in src/*/; do
  layer=$(basename "$dir")
  if [[ -z ${allowed[$layer]+set} ]]; then
    echo "check-layers: src/$layer is not in the layer table of scripts/check-layers.sh"
    status=1
    continue
  fi
  [[ ${allowed[$layer]} == "*" ]] && continue
  while IFS=: read -r file line include; do
    target=$(sed -E 's/.*#include "([a-z_]+)\/.*/\1/' <<<"$include")
    [[ $target == "$layer" || $target == base ]] && continue
    ok=0
    for a in ${allowed[$layer]}; do [[ $target == "$a" ]] && ok=1; done
    if ((ok == 0)); then
      echo "check-layers: $file:$line includes $target/ but $layer may not depend on it"
      status=1
    fi
  done < <(grep -rnE '^#include "[a-z_]+/' "$dir" || true)
done
# Nothing below server/ may see another layer's internal/ headers.
if grep -rnE '^#include "[a-z_]+/internal/' src | awk -F: '{split($1,p,"/"); split($3,q,"\""); split(q[2],r,"/"); if (p[2] != r[1]) print}' | grep .; then
  echo "check-layers: the lines above include another layer's internal/ headers"
  status=1
fi
((status == 0)) && echo "check-layers: ok"
exit $status
