#!/usr/bin/env bash
# `make demo`: the example pipeline end to end. For each example: parse, verify and print it,
# lower it for the CPU, then compile and run it with tessera-run on random inputs (saved under
# build/demo/) and time it. The GPU path (tessera-compile, --device=cuda) joins in a later stage.
set -euo pipefail
BUILD_DIR=${1:-build}
OPT="$BUILD_DIR/bin/tessera-opt"
RUN="$BUILD_DIR/bin/tessera-run"
OUT="$BUILD_DIR/demo"
mkdir -p "$OUT"

for example in examples/*.mlir; do
  stem=$(basename "$example" .mlir)
  echo "== $example: parse, verify, print"
  "$OPT" "$example"
  echo "== $example: --tessera-cpu-pipeline ($(  "$OPT" "$example" --tessera-cpu-pipeline | wc -l) lines of LLVM dialect)"
  echo "== $example: run on the CPU with random inputs (seed 1), outputs in $OUT/$stem"
  mkdir -p "$OUT/$stem"
  outputs=()
  n=$("$RUN" "$example" --print-abi | grep -c "^  out ")
  for ((i = 0; i < n; ++i)); do outputs+=("--output=$OUT/$stem/result$i.npy"); done
  "$RUN" "$example" --random-inputs=1 --save-inputs="$OUT/$stem/inputs" "${outputs[@]}" --bench=10
done

# The GPU path: compile every example the GPU lowering handles into a .tsr artifact (PTX for
# sm_80 and sm_90); run it where a CUDA driver is present.
COMPILE="$BUILD_DIR/bin/tessera-compile"
RUN_GPU="$BUILD_DIR/bin/tessera-run-gpu"
for example in examples/*.mlir; do
  stem=$(basename "$example" .mlir)
  echo "== $example: tessera-compile -> $OUT/$stem.tsr"
  if ! "$COMPILE" "$example" -o "$OUT/$stem.tsr" 2> "$OUT/$stem.compile.log"; then
    echo "   (no GPU lowering for this example yet: $(head -1 "$OUT/$stem.compile.log"))"
    continue
  fi
  echo "   $(stat -c %s "$OUT/$stem.tsr") bytes; PTX for sm_80 and sm_90"
  if ! "$RUN_GPU" "$OUT/$stem.tsr" --random-inputs=1 --bench=10 2> "$OUT/$stem.run.log"; then
    echo "   not run on a GPU: $(head -1 "$OUT/$stem.run.log")"
  fi
done
