#!/usr/bin/env bash
# Prepares GPU verification and benchmark on a machine with Tessera built (no GPU needed), in
# bench/gpu/kit/ (carry it to the GPU machine; run `python3 check.py`, then `python3 run.py`):
#  checks/     small modules covering every attention variant the GPU lowering takes (GQA,
#              causal + window, fully masked rows, f16, packed K/V, run-time and compile-time
#              block masks, 2- and 4-warp CTAs, a rotate-pack-attend composition), each as a
#              .tsr plus inputs and the outputs of the CPU path (itself tested against
#              independent references), which check.py compares with the GPU's;
#  artifacts/  one .tsr per benchmark configuration for run.py (against torch SDPA);
# and the runtime-only runner and the runtime beside them.
# CHECKS_ONLY=1 skips the benchmark artifacts; KIT=dir writes elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-../../build}
KIT=${KIT:-kit}
rm -rf "$KIT" && mkdir -p "$KIT/artifacts" "$KIT/mlir" "$KIT/checks"

# --- correctness checks: name, then the module text.
check() { # name, module text[, extra tessera-compile flags: then the check needs sm_90a]
  local name=$1 text=$2 dir="$KIT/checks/$1" flags=${3:-}
  mkdir -p "$dir"
  printf '%s\n' "$text" > "$dir/module.mlir"
  if [ -n "$flags" ]; then
    echo sm_90a > "$dir/requires"
    "$BUILD_DIR/bin/tessera-compile" "$dir/module.mlir" -o "$dir/model.tsr" $flags
  else
    "$BUILD_DIR/bin/tessera-compile" "$dir/module.mlir" -o "$dir/model.tsr" --target=sm_80,sm_90
  fi
  # Reference outputs: the CPU path on the same seeded inputs.
  "$BUILD_DIR/bin/tessera-run" "$dir/module.mlir" --random-inputs=7 --save-inputs="$dir/in" \
    --output="$dir/cpu0.npy" --output="$dir/cpu1.npy" > "$dir/cpu.log"
  # The inputs in entry order (a packed operand is several files: arg1.codes, arg1.scales).
  "$BUILD_DIR/bin/tessera-run" "$dir/module.mlir" --print-abi |
    sed -n 's/^ *in *\([^:]*\):.*/\1.npy/p' > "$dir/inputs.txt"
}
attn() { # name, q k v types, extra operand text, attrs, output types, [extra args]
  printf 'func.func @f(%%q: %s, %%k: %s, %%v: %s%s) -> (%s, %s) {\n%s  %%o, %%l = tessera.attention %%q, %%k, %%v%s {%s} : %s, %s, %s -> %s, %s\n  return %%o, %%l : %s, %s\n}' \
    "$1" "$2" "$3" "$4" "$6" "$7" "$8" "$9" "${5}" "$1" "$2" "$3" "$6" "$7" "$6" "$7"
}
t() { echo "tensor<$1>"; }
check dense_77x133 "$(attn "$(t 2x4x77x128xbf16)" "$(t 2x4x133x128xbf16)" "$(t 2x4x133x128xbf16)" "" "" "$(t 2x4x77x128xbf16)" "$(t 2x4x77xf32)" "" "")"
check causal_window_gqa "$(attn "$(t 1x8x200x128xbf16)" "$(t 1x2x300x128xbf16)" "$(t 1x2x300x128xbf16)" "" "causal, window = 100" "$(t 1x8x200x128xbf16)" "$(t 1x8x200xf32)" "" "")"
check causal_window_gqa_4warps "$(attn "$(t 1x8x200x128xbf16)" "$(t 1x2x300x128xbf16)" "$(t 1x2x300x128xbf16)" "" "causal, window = 100, tile = #tessera.tile<query = 64, warps = 4>" "$(t 1x8x200x128xbf16)" "$(t 1x8x200xf32)" "" "")"
check masked_rows_sq_gt_skv "$(attn "$(t 1x2x200x64xbf16)" "$(t 1x2x77x64xbf16)" "$(t 1x2x77x64xbf16)" "" "causal" "$(t 1x2x200x64xbf16)" "$(t 1x2x200xf32)" "" "")"
check f16_d64 "$(attn "$(t 1x4x130x64xf16)" "$(t 1x4x130x64xf16)" "$(t 1x4x130x64xf16)" "" "causal" "$(t 1x4x130x64xf16)" "$(t 1x4x130xf32)" "" "")"
KQ='!tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 4, group = 32>>'
VQ='!tessera.qtensor<1x2x300x128xbf16, #tessera.quant<int, bits = 8, asymmetric>>'
check packed_kv_gqa "$(attn "$(t 1x8x100x128xbf16)" "$KQ" "$VQ" "" "causal" "$(t 1x8x100x128xbf16)" "$(t 1x8x100xf32)" "" "")"
check packed_kv_gqa_4warps "$(attn "$(t 1x8x100x128xbf16)" "$KQ" "$VQ" "" "causal, tile = #tessera.tile<query = 64, warps = 4>" "$(t 1x8x100x128xbf16)" "$(t 1x8x100xf32)" "" "")"
MT="$(t 1x4x5x1xi32)"
check block_mask_runtime "$(attn "$(t 1x4x300x128xbf16)" "$(t 1x4x300x128xbf16)" "$(t 1x4x300x128xbf16)" ", %m: $MT" "" "$(t 1x4x300x128xbf16)" "$(t 1x4x300xf32)" "" " mask(%m : $MT)")"
check block_mask_constant "$(attn "$(t 1x4x300x128xbf16)" "$(t 1x4x300x128xbf16)" "$(t 1x4x300x128xbf16)" "" "causal" "$(t 1x4x300x128xbf16)" "$(t 1x4x300xf32)" "  %m = arith.constant dense<[[[true, false, true, false, true], [false, true, true, true, false], [true, true, false, false, true], [false, false, true, true, true], [true, false, false, true, true]]]> : tensor<1x5x5xi1>
" " mask(%m : tensor<1x5x5xi1>)")"
check composed_kv_int4 "$(cat ../../examples/kv_int4_attention_gpu.mlir)"
# sm_90a: attention scores on warpgroup MMA.
check wgmma_causal_window_gqa "$(attn "$(t 1x8x200x128xbf16)" "$(t 1x2x300x128xbf16)" "$(t 1x2x300x128xbf16)" "" "causal, window = 100" "$(t 1x8x200x128xbf16)" "$(t 1x8x200xf32)" "" "")" "--target=sm_90a --wgmma"
check wgmma_packed_kv "$(attn "$(t 1x8x100x128xbf16)" "$KQ" "$VQ" "" "causal" "$(t 1x8x100x128xbf16)" "$(t 1x8x100xf32)" "" "")" "--target=sm_90a --wgmma"
cp check.py "$KIT/"
cp "$BUILD_DIR/bin/tessera-run-gpu" "$KIT/"
cp -L "$BUILD_DIR/lib/libtessera_runtime.so.0" "$KIT/"
if [ "${CHECKS_ONLY:-0}" = 1 ]; then
  du -sh "$KIT"
  exit 0
fi

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
