#!/usr/bin/env bash
# Prepares GPU verification and benchmark on a machine with Tessera built (no GPU needed), in
# bench/gpu/kit/ (carry it to the GPU machine; run `python3 check.py`, then `python3 run.py`):
#  checks/     small modules covering every attention variant the GPU lowering takes (every
#              head dim, Dv != D, GQA and MQA, causal + window, Sq != Skv both ways, fully
#              masked rows, bf16 and f16, packed K/V, run-time and compile-time block masks,
#              2- and 4-warp CTAs, sm_80 PTX, sm_90a wgmma), the row kernels alone and a
#              rotate-pack-attend composition, each as a .tsr plus inputs and the outputs
#              of the CPU path (itself tested against independent references), which
#              check.py compares with the GPU's;
#  artifacts/  one .tsr per benchmark configuration for run.py (against torch SDPA);
# and the runtime-only runner and the runtime beside them.
# CHECKS_ONLY=1 skips the benchmark artifacts; KIT=dir writes elsewhere.
set -euo pipefail
cd "$(dirname "$0")"
BUILD_DIR=${BUILD_DIR:-../../build}
KIT=${KIT:-kit}
rm -rf "$KIT" && mkdir -p "$KIT/artifacts" "$KIT/mlir" "$KIT/checks"

# --- correctness checks: name, then the module text.
check() { # name, module text[, tessera-compile flags (default --target=sm_80,sm_90)]
  local name=$1 text=$2 dir="$KIT/checks/$1" flags=${3:---target=sm_80,sm_90}
  mkdir -p "$dir"
  printf '%s\n' "$text" > "$dir/module.mlir"
  # An sm_90a artifact loads on sm_90 only: check.py skips it elsewhere.
  case "$flags" in *sm_90a*) echo sm_90a > "$dir/requires" ;; esac
  "$BUILD_DIR/bin/tessera-compile" "$dir/module.mlir" -o "$dir/model.tsr" $flags
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

# The shape matrix, kept small for the simulator (20 K to 200 K warp instructions each).
# dense: name, element type, B, Hq, Hkv, Sq, Skv, D, Dv, attrs[, compile flags].
dense() {
  local e=$2 b=$3 hq=$4 hk=$5 sq=$6 sk=$7 d=$8 dv=$9
  check "$1" "$(attn "$(t "${b}x${hq}x${sq}x${d}x$e")" "$(t "${b}x${hk}x${sk}x${d}x$e")" \
    "$(t "${b}x${hk}x${sk}x${dv}x$e")" "" "${10}" "$(t "${b}x${hq}x${sq}x${dv}x$e")" \
    "$(t "${b}x${hq}x${sq}xf32")" "" "")" ${11:+"${11}"}
}
W4='tile = #tessera.tile<query = 64, warps = 4>'
WG='--target=sm_90a --wgmma'
# Every other head dim the GPU path takes (multiples of 16 up to 128), and Dv != D both
# ways; lengths that are not multiples of 64. Small problems get 2-warp CTAs unless a
# tile says 4.
dense d16_causal_gqa bf16 1 4 2 90 150 16 16 "causal"
dense d32_sq_gt_skv bf16 1 2 2 100 70 32 32 ""
dense d48_causal_window bf16 1 2 2 120 120 48 48 "causal, window = 50"
dense d80_gqa_scale bf16 1 4 2 75 140 80 80 "scale = 0.05 : f32"
dense d96_causal_4warps bf16 1 2 2 130 130 96 96 "causal, $W4"
dense d112_f16 f16 1 2 2 70 110 112 112 ""
dense d64_dv128_causal_gqa bf16 1 4 2 100 150 64 128 "causal"
dense d128_dv16_mqa_4warps bf16 1 2 1 90 130 128 16 "$W4"
# Head sharing and masking: MQA, f16 causal + window GQA on 4 warps, Sq < Skv causal,
# one-token decode, rows that see no key (Sq > Skv) under a window on 4 warps.
dense mqa_f16 f16 1 8 1 90 150 64 64 ""
dense f16_causal_window_gqa_4warps f16 1 4 2 150 190 128 128 "causal, window = 64, $W4"
dense causal_sq_lt_skv_70x190 bf16 1 2 2 70 190 64 64 "causal"
dense decode_sq1_gqa bf16 2 8 2 1 190 128 128 "causal, window = 100"
dense f16_masked_rows_window_4warps f16 1 2 2 150 60 64 64 "causal, window = 30, $W4"
# sm_80 PTX alone: what an A100 loads (the simulator, a 9.0 device, takes it as the newest
# PTX for an older target). It is the sm_90 PTX but for its .target line.
dense sm80_causal_window_gqa bf16 1 4 2 100 160 64 64 "causal, window = 70" \
  --target=sm_80
# A run-time i1 mask per (batch, KV head), f16, 4 warps; random bits disable whole rows
# of blocks too.
MB="$(t 2x2x3x3xi1)"
check block_mask_runtime_i1_kv_heads_f16 "$(attn "$(t 2x4x150x64xf16)" \
  "$(t 2x2x150x64xf16)" "$(t 2x2x150x64xf16)" ", %m: $MB" "$W4" "$(t 2x4x150x64xf16)" \
  "$(t 2x4x150xf32)" "" " mask(%m : $MB)")"
# Packed K/V in f16 with MQA: 8-bit symmetric K, 4-bit asymmetric V in groups of 16.
KQ16='!tessera.qtensor<1x1x150x64xf16, #tessera.quant<int, bits = 8>>'
VQ16='!tessera.qtensor<1x1x150x64xf16, #tessera.quant<int, bits = 4, group = 16, asymmetric>>'
check packed_kv_f16_mqa "$(attn "$(t 1x4x90x64xf16)" "$KQ16" "$VQ16" "" "causal" \
  "$(t 1x4x90x64xf16)" "$(t 1x4x90xf32)" "" "")"
# The row kernels on their own: rotate, pack and unpack in bf16; the inverse rotation
# and 8-bit asymmetric codes in f16, and a rotation without random signs and 2-bit codes
# in f32.
QB4='!tessera.qtensor<2x150x64xbf16, #tessera.quant<int, bits = 4, group = 32>>'
check rows_bf16 "func.func @f(%x: $(t 2x150x64xbf16)) -> ($(t 2x150x64xbf16), $(t 2x150x64xbf16)) {
  %h = tessera.hadamard %x {seed = 3} : $(t 2x150x64xbf16)
  %p = tessera.quantize %h : $(t 2x150x64xbf16) -> $QB4
  %y = tessera.dequantize %p : $QB4 -> $(t 2x150x64xbf16)
  return %h, %y : $(t 2x150x64xbf16), $(t 2x150x64xbf16)
}"
Q8='!tessera.qtensor<1x3x70x128xf16, #tessera.quant<int, bits = 8, asymmetric>>'
Q2='!tessera.qtensor<200x32xf32, #tessera.quant<int, bits = 2, group = 16>>'
check rows_f16_f32 "func.func @f(%x: $(t 1x3x70x128xf16), %z: $(t 200x32xf32))
    -> ($(t 1x3x70x128xf16), $(t 200x32xf32)) {
  %h = tessera.hadamard %x {seed = 11, inverse} : $(t 1x3x70x128xf16)
  %p = tessera.quantize %h : $(t 1x3x70x128xf16) -> $Q8
  %y = tessera.dequantize %p : $Q8 -> $(t 1x3x70x128xf16)
  %r = tessera.hadamard %z : $(t 200x32xf32)
  %q = tessera.quantize %r : $(t 200x32xf32) -> $Q2
  %w = tessera.dequantize %q : $Q2 -> $(t 200x32xf32)
  return %y, %w : $(t 1x3x70x128xf16), $(t 200x32xf32)
}"
# sm_90a: more head dims (core-matrix strides and k-slice counts change with D), Dv != D,
# f16, MQA, no causal bound, rows that see no key, run-time and constant block masks.
dense wgmma_d16_causal_window bf16 1 2 2 80 100 16 16 "causal, window = 40" "$WG"
dense wgmma_d32_gqa bf16 1 4 2 70 90 32 32 "" "$WG"
dense wgmma_d48_dv80 bf16 1 2 2 90 120 48 80 "" "$WG"
dense wgmma_d64_causal_gqa bf16 1 4 2 130 130 64 64 "causal" "$WG"
dense wgmma_d80_dv32_f16 f16 1 2 2 100 80 80 32 "" "$WG"
dense wgmma_d96_causal_window bf16 1 2 2 110 150 96 96 "causal, window = 60" "$WG"
dense wgmma_d112_f16_mqa f16 1 2 1 70 140 112 112 "causal" "$WG"
dense wgmma_f16_mqa_noncausal f16 1 4 1 100 170 128 128 "" "$WG"
dense wgmma_masked_rows_sq_gt_skv bf16 1 2 2 200 77 64 64 "causal" "$WG"
# The run-time mask is one i32 word per query block, shared by all heads; its random
# bits past the 3 key blocks must be ignored.
MW="$(t 1x3x1xi32)"
check wgmma_block_mask_runtime "$(attn "$(t 1x2x150x64xbf16)" "$(t 1x2x150x64xbf16)" \
  "$(t 1x2x150x64xbf16)" ", %m: $MW" "" "$(t 1x2x150x64xbf16)" "$(t 1x2x150xf32)" "" \
  " mask(%m : $MW)")" "$WG"
MC='[[[true, false, true], [false, true, false], [true, true, false]]]'
check wgmma_block_mask_constant "$(attn "$(t 1x2x190x64xbf16)" "$(t 1x2x190x64xbf16)" \
  "$(t 1x2x190x64xbf16)" "" "" "$(t 1x2x190x64xbf16)" "$(t 1x2x190xf32)" \
  "  %m = arith.constant dense<$MC> : tensor<1x3x3xi1>
" " mask(%m : tensor<1x3x3xi1>)")" "$WG"
# Run-time lengths: one artifact per module, compiled once, then checked at several shapes
# (one check directory per call, sharing the .tsr); the CPU path runs the same module.
lengths() { # name, module text, tessera-compile flags, then one "--shape=..." list per call
  local name=$1 text=$2 flags=$3 k=0
  shift 3
  printf '%s\n' "$text" > "$KIT/mlir/$name.mlir"
  "$BUILD_DIR/bin/tessera-compile" "$KIT/mlir/$name.mlir" -o "$KIT/artifacts/$name.tsr" $flags
  for shapes in "$@"; do
    local dir="$KIT/checks/${name}_$k"
    k=$((k + 1))
    mkdir -p "$dir"
    cp "$KIT/mlir/$name.mlir" "$dir/module.mlir"
    cp "$KIT/artifacts/$name.tsr" "$dir/model.tsr"
    case "$flags" in *sm_90a*) echo sm_90a > "$dir/requires" ;; esac
    # shellcheck disable=SC2086
    "$BUILD_DIR/bin/tessera-run" "$dir/module.mlir" --random-inputs=7 $shapes \
      --save-inputs="$dir/in" --output="$dir/cpu0.npy" --output="$dir/cpu1.npy" > "$dir/cpu.log"
    "$BUILD_DIR/bin/tessera-run" "$dir/module.mlir" --print-abi |
      sed -n 's/^ *in *\([^:]*\):.*/\1.npy/p' > "$dir/inputs.txt"
  done
}
sh3() { echo "--shape=arg0=$1 --shape=arg1=$2 --shape=arg2=$2"; }
DQ='tensor<?x8x?x64xbf16>'
DK='tensor<?x2x?x64xbf16>'
DL='tensor<?x8x?xf32>'
lengths dyn_causal_window_gqa "$(attn "$DQ" "$DK" "$DK" "" "causal, window = 90" "$DQ" "$DL" "" "")" \
  "--target=sm_80,sm_90" "$(sh3 2x8x77x64 2x2x133x64)" "$(sh3 1x8x1x64 1x2x300x64)" \
  "$(sh3 1x8x130x64 1x2x70x64)" "$(sh3 3x8x64x64 3x2x64x64)" "$(sh3 1x8x1x64 1x2x1x64)"
DQW='tensor<1x4x?x128xf16>'
DKW='tensor<1x2x?x128xf16>'
lengths dyn_wgmma_f16 "$(attn "$DQW" "$DKW" "$DKW" "" "causal" "$DQW" "tensor<1x4x?xf32>" "" "")" \
  "$WG" "$(sh3 1x4x100x128 1x2x170x128)" "$(sh3 1x4x65x128 1x2x65x128)"
DM='tensor<1x2x?x?xi32>'
lengths dyn_block_mask "$(attn "$DQ" "$DK" "$DK" ", %m: $DM" "" "$DQ" "$DL" "" " mask(%m : $DM)")" \
  "--target=sm_80,sm_90" "$(sh3 1x8x100x64 1x2x200x64) --shape=arg3=1x2x2x1" \
  "$(sh3 1x8x30x64 1x2x70x64) --shape=arg3=1x2x1x1"

# Split-KV decode (flash-decoding): 16 single-row CTAs over 700 keys are split into 5 key
# chunks by --tessera-tile-attention (mma.sync and wgmma), and a run-time-length module with
# 3 chunks pinned, whose chunks may see no key (window) or have none (70 keys).
dense split_decode_gqa bf16 2 8 2 1 700 128 128 "causal"
dense wgmma_split_decode_gqa bf16 2 8 2 1 700 128 128 "causal" "$WG"
lengths dyn_split "$(attn "$DQ" "$DK" "$DK" "" "causal, window = 300, tile = #tessera.tile<query = 64, warps = 4, kv_splits = 3>" "$DQ" "$DL" "" "")" \
  "--target=sm_80,sm_90" "$(sh3 2x8x1x64 2x2x700x64)" "$(sh3 1x8x100x64 1x2x70x64)"

# Ragged batches (varlen): 6 sequences packed in [1, H, total, D] (lengths 0..200, Sq > Skv,
# keyless, 10 padding rows) by constant prefix sums, on mma.sync, wgmma and split key ranges;
# and run-time packs with run-time prefix sums (random, so clamped alike on both paths).
ragged() { # attrs
  printf 'func.func @f(%%q: tensor<1x8x250x64xbf16>, %%k: tensor<1x2x420x64xbf16>, %%v: tensor<1x2x420x64xbf16>) -> (tensor<1x8x250x64xbf16>, tensor<1x8x250xf32>) {
  %%cq = arith.constant dense<[0, 1, 71, 71, 201, 204, 240]> : tensor<7xi32>
  %%ck = arith.constant dense<[0, 100, 170, 175, 375, 375, 415]> : tensor<7xi32>
  %%o, %%l = tessera.attention %%q, %%k, %%v varlen(%%cq, %%ck : tensor<7xi32>, tensor<7xi32>) {%s} : tensor<1x8x250x64xbf16>, tensor<1x2x420x64xbf16>, tensor<1x2x420x64xbf16> -> tensor<1x8x250x64xbf16>, tensor<1x8x250xf32>
  return %%o, %%l : tensor<1x8x250x64xbf16>, tensor<1x8x250xf32>
}' "$1"
}
check ragged_causal_gqa "$(ragged causal)"
check wgmma_ragged_causal_gqa "$(ragged causal)" "$WG"
check ragged_split_window "$(ragged "causal, window = 50, tile = #tessera.tile<query = 64, warps = 4, kv_splits = 3>")"
RQ='tensor<1x8x?x64xbf16>'
RK='tensor<1x2x?x64xbf16>'
lengths ragged_dynamic "func.func @f(%q: $RQ, %k: $RK, %v: $RK, %cq: tensor<?xi32>, %ck: tensor<?xi32>) -> ($RQ, tensor<1x8x?xf32>) {
  %o, %l = tessera.attention %q, %k, %v varlen(%cq, %ck : tensor<?xi32>, tensor<?xi32>) {causal} : $RQ, $RK, $RK -> $RQ, tensor<1x8x?xf32>
  return %o, %l : $RQ, tensor<1x8x?xf32>
}" "--target=sm_80,sm_90" \
  "--shape=arg0=1x8x90x64 --shape=arg1=1x2x130x64 --shape=arg2=1x2x130x64 --shape=arg3=4 --shape=arg4=4" \
  "--shape=arg0=1x8x5x64 --shape=arg1=1x2x700x64 --shape=arg2=1x2x700x64 --shape=arg3=2 --shape=arg4=2"

# Paged KV caches (the GPU is the fast mode: tables and lengths clamped into range). The
# serving example's decode step with its constant table (without `checked`, a CPU-only mode);
# packed int4/int8 pages; run-time pools, tables and lengths (random, so mostly clamped: the
# same clamping on both paths).
check paged_decode_example "$(sed 's/, checked}/}/' ../../examples/paged_decode.mlir)"
PQ='tensor<3x8x2x64xbf16>'
PT='[[5, 0, -1, -1], [2, 7, 1, 9], [3, -1, -1, -1]]'
KPQ='!tessera.qtensor<10x16x2x64xbf16, #tessera.quant<int, bits = 4, group = 32>>'
VPQ='!tessera.qtensor<10x16x2x64xbf16, #tessera.quant<int, bits = 8, asymmetric>>'
check paged_packed_int4 "func.func @f(%q: $PQ, %k: $KPQ, %v: $VPQ) -> ($PQ, tensor<3x8x2xf32>) {
  %t = arith.constant dense<$PT> : tensor<3x4xi32>
  %n = arith.constant dense<[20, 61, 1]> : tensor<3xi32>
  %o, %l = tessera.attention %q, %k, %v paged(%t, %n : tensor<3x4xi32>, tensor<3xi32>) {causal, page_size = 16} : $PQ, $KPQ, $VPQ -> $PQ, tensor<3x8x2xf32>
  return %o, %l : $PQ, tensor<3x8x2xf32>
}"
DPQ='tensor<?x8x1x64xbf16>'
DPP='tensor<?x16x2x64xbf16>'
lengths paged_dynamic "func.func @f(%q: $DPQ, %k: $DPP, %v: $DPP, %t: tensor<?x?xi32>, %n: tensor<?xi32>) -> ($DPQ, tensor<?x8x1xf32>) {
  %o, %l = tessera.attention %q, %k, %v paged(%t, %n : tensor<?x?xi32>, tensor<?xi32>) {causal, page_size = 16} : $DPQ, $DPP, $DPP -> $DPQ, tensor<?x8x1xf32>
  return %o, %l : $DPQ, tensor<?x8x1xf32>
}" "--target=sm_80,sm_90" \
  "--shape=arg0=2x8x1x64 --shape=arg1=9x16x2x64 --shape=arg2=9x16x2x64 --shape=arg3=2x5 --shape=arg4=2" \
  "--shape=arg0=5x8x1x64 --shape=arg1=3x16x2x64 --shape=arg2=3x16x2x64 --shape=arg3=5x2 --shape=arg4=5"

# The rotated KV codecs (issue #10): quantize/dequantize row kernels for each scheme, and
# attention over caller-packed caches (random codes and norms) for each K/V pairing, on
# mma.sync and wgmma; the rotation runs in kernels of its own (Q into K's domain, O back from
# V's), and the K3V3 example composes quantize and attention.
GTQ64='block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2]'
QT='!tessera.qtensor<2x90x64xbf16, #tessera.quant<tq_mse, bits = 3, seed = 5>>'
QG='!tessera.qtensor<150x64xf32, #tessera.quant<'"$GTQ64"', rotation = haar, seed = 2, norm = f16>>'
QL='!tessera.qtensor<1x70x64xf16, #tessera.quant<lattice, lattice = e8, alpha = 3.0, rotation = hadamard, seed = 1>>'
QZ='!tessera.qtensor<40x16xf32, #tessera.quant<lattice, lattice = d4, snr = 12.0, dither, rotation = none, seed = 9>>'
check codec_rows "func.func @f(%x: $(t 2x90x64xbf16), %y: $(t 150x64xf32)) -> ($(t 2x90x64xbf16), $(t 150x64xf32)) {
  %a = tessera.quantize %x : $(t 2x90x64xbf16) -> $QT
  %b = tessera.dequantize %a : $QT -> $(t 2x90x64xbf16)
  %c = tessera.quantize %y : $(t 150x64xf32) -> $QG
  %d = tessera.dequantize %c : $QG -> $(t 150x64xf32)
  return %b, %d : $(t 2x90x64xbf16), $(t 150x64xf32)
}"
check codec_rows_lattice "func.func @f(%z: $(t 1x70x64xf16), %w: $(t 40x16xf32)) -> ($(t 1x70x64xf16), $(t 40x16xf32)) {
  %e = tessera.quantize %z : $(t 1x70x64xf16) -> $QL
  %f = tessera.dequantize %e : $QL -> $(t 1x70x64xf16)
  %g = tessera.quantize %w : $(t 40x16xf32) -> $QZ
  %h = tessera.dequantize %g : $QZ -> $(t 40x16xf32)
  return %f, %h : $(t 1x70x64xf16), $(t 40x16xf32)
}"
KG='!tessera.qtensor<1x2x200x64xbf16, #tessera.quant<'"$GTQ64"', rotation = hadamard, seed = 11>>'
VT='!tessera.qtensor<1x2x200x64xbf16, #tessera.quant<tq_mse, bits = 3, seed = 12, norm = f16>>'
check codec_k3v3_gqa "$(attn "$(t 1x8x70x64xbf16)" "$KG" "$VT" "" "causal, window = 100" "$(t 1x8x70x64xbf16)" "$(t 1x8x70xf32)" "" "")"
check wgmma_codec_k3v3_gqa "$(attn "$(t 1x8x70x64xbf16)" "$KG" "$VT" "" "causal" "$(t 1x8x70x64xbf16)" "$(t 1x8x70xf32)" "" "")" "--target=sm_90a --wgmma"
KL='!tessera.qtensor<1x2x130x64xf16, #tessera.quant<lattice, lattice = e8, alpha = 3.0, rotation = hadamard, seed = 1>>'
VL='!tessera.qtensor<1x2x130x64xf16, #tessera.quant<lattice, lattice = a2, alpha = 2.0, rotation = haar, seed = 2>>'
check codec_lattice_f16 "$(attn "$(t 1x4x90x64xf16)" "$KL" "$VL" "" "causal" "$(t 1x4x90x64xf16)" "$(t 1x4x90xf32)" "" "")"
KD='!tessera.qtensor<1x2x100x32xbf16, #tessera.quant<lattice, lattice = e8, snr = 18.0, dither, rotation = hadamard, seed = 3>>'
VD='!tessera.qtensor<1x2x100x32xbf16, #tessera.quant<lattice, lattice = a2, snr = 15.0, dither, rotation = none, seed = 4>>'
check codec_lattice_dither "$(attn "$(t 1x4x60x32xbf16)" "$KD" "$VD" "" "causal, window = 50" "$(t 1x4x60x32xbf16)" "$(t 1x4x60xf32)" "" "")"
KT4='!tessera.qtensor<1x1x150x128xbf16, #tessera.quant<tq_mse, bits = 4, rotation = haar, seed = 3>>'
VI8='!tessera.qtensor<1x1x150x128xbf16, #tessera.quant<int, bits = 8, asymmetric>>'
check codec_tq4_int8_mqa_split "$(attn "$(t 2x4x1x128xbf16)" "$(echo "$KT4" | sed 's/1x1x150/2x1x150/')" "$(echo "$VI8" | sed 's/1x1x150/2x1x150/')" "" "tile = #tessera.tile<query = 64, warps = 4, kv_splits = 3>" "$(t 2x4x1x128xbf16)" "$(t 2x4x1xf32)" "" "")"
check codec_k3v3_example "$(cat ../../examples/k3v3_decode.mlir)"
# Run-time batch and lengths through the codecs: quantize row kernels over ? rows, the
# rotation kernels and attention, one artifact at two shapes.
DKG='!tessera.qtensor<?x2x?x64xbf16, #tessera.quant<'"$GTQ64"', seed = 11>>'
DVT='!tessera.qtensor<?x2x?x64xbf16, #tessera.quant<tq_mse, bits = 3, seed = 12, norm = f16>>'
lengths dyn_codec_k3v3 "func.func @f(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x64xbf16>) -> (tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>) {
  %kp = tessera.quantize %k : tensor<?x2x?x64xbf16> -> $DKG
  %vp = tessera.quantize %v : tensor<?x2x?x64xbf16> -> $DVT
  %o, %l = tessera.attention %q, %kp, %vp {causal} : tensor<?x8x?x64xbf16>, $DKG, $DVT -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %o, %l : tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
}" "--target=sm_80,sm_90" "$(sh3 1x8x1x64 1x2x300x64)" "$(sh3 2x8x33x64 2x2x130x64)"

cp check.py "$KIT/"
cp "$BUILD_DIR/bin/tessera-run-gpu" "$KIT/"
cp -L "$BUILD_DIR/lib/libtessera_runtime.so.0" "$KIT/"
if [ "${CHECKS_ONLY:-0}" = 1 ]; then
  du -sh "$KIT"
  exit 0
fi

# Decode (decode.py): one artifact per layout serves every batch and cache length.
DQD='tensor<?x32x1x128xbf16>'
cat > "$KIT/mlir/decode.mlir" <<MLIR
func.func @decode(%q: $DQD, %k: tensor<?x8x?x128xbf16>, %v: tensor<?x8x?x128xbf16>) -> $DQD {
  %o, %l = tessera.attention %q, %k, %v : $DQD, tensor<?x8x?x128xbf16>, tensor<?x8x?x128xbf16> -> $DQD, tensor<?x32x1xf32>
  return %o : $DQD
}
MLIR
cat > "$KIT/mlir/decode_paged.mlir" <<MLIR
func.func @decode(%q: $DQD, %k: tensor<?x16x8x128xbf16>, %v: tensor<?x16x8x128xbf16>, %t: tensor<?x?xi32>, %n: tensor<?xi32>) -> $DQD {
  %o, %l = tessera.attention %q, %k, %v paged(%t, %n : tensor<?x?xi32>, tensor<?xi32>) {page_size = 16} : $DQD, tensor<?x16x8x128xbf16>, tensor<?x16x8x128xbf16> -> $DQD, tensor<?x32x1xf32>
  return %o : $DQD
}
MLIR
for m in decode decode_paged; do
  "$BUILD_DIR/bin/tessera-compile" "$KIT/mlir/$m.mlir" -o "$KIT/artifacts/$m.tsr" --target=sm_80,sm_90
done
cp decode.py "$KIT/"
# Packed-KV decode (decode.py --packed): per format of packed_kv.GPU_FORMATS a quantize
# artifact (bf16 K/V -> components), the decode artifact reading them (run-time batch and
# length) and a dequantize probe from which the torch peer takes its tables; packed_kv.py
# writes the modules (no NumPy needed for that) and goes into the kit for decode.py.
python3 ../packed_kv.py --emit-gpu "$KIT/mlir"
for m in "$KIT"/mlir/packed_*.mlir; do
  "$BUILD_DIR/bin/tessera-compile" "$m" -o "$KIT/artifacts/$(basename "$m" .mlir).tsr" \
    --target=sm_80,sm_90
done
cp ../packed_kv.py "$KIT/"

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
