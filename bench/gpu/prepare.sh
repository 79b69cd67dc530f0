#!/usr/bin/env bash
# Prepares the GPU benchmark on a machine with Tessera built (no GPU needed): compiles one
# .tsr artifact per configuration and copies the runtime-only runner and the runtime next to
# them, in bench/gpu/kit/ (a few MB: carry it to the GPU machine and run `python3 run.py`).
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-../../build}
KIT=kit
rm -rf "$KIT" && mkdir -p "$KIT/artifacts" "$KIT/mlir"
SEQS=${SEQS:-"1024 2048 4096 8192 16384"}
BATCHES=${BATCHES:-"4 8"}
H=16
D=128
module() { # name B S causal mask
  local name=$1 b=$2 s=$3 causal=$4 mask=$5
  local t="tensor<${b}x${H}x${s}x${D}xbf16>" qb=$(( (s + 63) / 64 )) kb=$(( (s + 63) / 64 ))
  local words=$(( (kb + 31) / 32 ))
  local mt="tensor<${b}x${H}x${qb}x${words}xi32>"
  local attrs="" margs="" mop="" 
  [ "$causal" = 1 ] && attrs=" {causal}"
  if [ "$mask" = 1 ]; then margs=", %m: $mt"; mop=" mask(%m : $mt)"; fi
  cat > "$KIT/mlir/$name.mlir" <<MLIR
func.func @attention(%q: $t, %k: $t, %v: $t$margs) -> ($t, tensor<${b}x${H}x${s}xf32>) {
  %o, %l = tessera.attention %q, %k, %v$mop$attrs : $t, $t, $t -> $t, tensor<${b}x${H}x${s}xf32>
  return %o, %l : $t, tensor<${b}x${H}x${s}xf32>
}
MLIR
  "$BUILD_DIR/bin/tessera-compile" "$KIT/mlir/$name.mlir" -o "$KIT/artifacts/$name.tsr" \
    --target=sm_80,sm_90
}
for b in $BATCHES; do
  for s in $SEQS; do
    module "dense_b${b}_s${s}_c0" "$b" "$s" 0 0
    module "dense_b${b}_s${s}_c1" "$b" "$s" 1 0
    module "sparse_b${b}_s${s}" "$b" "$s" 0 1
  done
done
cp "$BUILD_DIR/bin/tessera-run-gpu" "$KIT/"
cp -L "$BUILD_DIR/lib/libtessera_runtime.so.0" "$KIT/"
cp run.py "$KIT/"
du -sh "$KIT"
