#!/usr/bin/env bash
# `make demo`: runs the example pipeline end to end on what the project can do today.
# Now: parse, verify and print every example with tessera-opt (generic form too).
set -euo pipefail
BUILD_DIR=${1:-build}
OPT="$BUILD_DIR/bin/tessera-opt"

for example in examples/*.mlir; do
  echo "== $example: parse, verify, print"
  "$OPT" "$example"
  echo "== $example: generic form round trip"
  "$OPT" "$example" --mlir-print-op-generic | "$OPT" > /dev/null
  echo "ok"
done
