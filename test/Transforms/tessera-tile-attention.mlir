// tessera-tile-attention picks each attention's query rows per work item for a target.
// RUN: tessera-opt %s --tessera-tile-attention='target=cpu threads=1' | FileCheck %s --check-prefix=CPU1
// RUN: tessera-opt %s --tessera-tile-attention='target=cpu threads=16' | FileCheck %s --check-prefix=CPU16
// RUN: tessera-opt %s --tessera-tile-attention='target=gpu sms=132' | FileCheck %s --check-prefix=GPU
// RUN: tessera-opt %s --tessera-tile-attention='target=gpu sms=4' | FileCheck %s --check-prefix=FEW
// RUN: not tessera-opt %s --tessera-tile-attention='target=tpu' 2>&1 | FileCheck %s --check-prefix=BAD

// BAD: unknown target 'tpu' (expected cpu or gpu)

// 2 x 8 x 4 = 64 tasks of 64 rows: enough for 1 thread and for 16 (4 per thread). On the
// GPU, 64 CTAs of 4 warps leave SMs of a 132-SM part idle, so 2 warps (128 CTAs); 4 SMs
// are filled by 4-warp CTAs.
// CPU1-LABEL: func.func @prefill
// CPU1: tile = #tessera.tile<query = 64>
// CPU16-LABEL: func.func @prefill
// CPU16: tile = #tessera.tile<query = 64>
// GPU-LABEL: func.func @prefill
// GPU: tile = #tessera.tile<query = 32, warps = 2>
// FEW-LABEL: func.func @prefill
// FEW: tile = #tessera.tile<query = 64, warps = 4>
func.func @prefill(%q: tensor<2x8x256x128xbf16>, %k: tensor<2x2x256x128xbf16>, %v: tensor<2x2x256x128xbf16>) -> tensor<2x8x256x128xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<2x8x256x128xbf16>, tensor<2x2x256x128xbf16>, tensor<2x2x256x128xbf16> -> tensor<2x8x256x128xbf16>, tensor<2x8x256xf32>
  return %o : tensor<2x8x256x128xbf16>
}

// 1 x 2 x 2 = 4 tasks of 64 rows: one thread is content, 16 threads get the smallest
// tile (8 rows, 32 tasks).
// CPU1-LABEL: func.func @small
// CPU1: tile = #tessera.tile<query = 64>
// CPU16-LABEL: func.func @small
// CPU16: tile = #tessera.tile<query = 8>
func.func @small(%q: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o, %l = tessera.attention %q, %q, %q : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return %o : tensor<1x2x100x64xf32>
}

// Many CTAs already: 4 warps. Packed int K/V decodes element by element, so a small
// problem gets 2-warp CTAs as well.
// GPU-LABEL: func.func @large
// GPU: tile = #tessera.tile<query = 64, warps = 4>
func.func @large(%q: tensor<4x16x1024x128xbf16>) -> tensor<4x16x1024x128xbf16> {
  %o, %l = tessera.attention %q, %q, %q {causal} : tensor<4x16x1024x128xbf16>, tensor<4x16x1024x128xbf16>, tensor<4x16x1024x128xbf16> -> tensor<4x16x1024x128xbf16>, tensor<4x16x1024xf32>
  return %o : tensor<4x16x1024x128xbf16>
}

// GPU-LABEL: func.func @packed
// GPU: tile = #tessera.tile<query = 32, warps = 2>
func.func @packed(%q: tensor<1x2x40x64xbf16>, %k: !tessera.qtensor<1x2x40x64xbf16, #tessera.quant<int, bits = 4, group = 32>>, %v: tensor<1x2x40x64xbf16>) -> tensor<1x2x40x64xbf16> {
  %o, %l = tessera.attention %q, %k, %v : tensor<1x2x40x64xbf16>, !tessera.qtensor<1x2x40x64xbf16, #tessera.quant<int, bits = 4, group = 32>>, tensor<1x2x40x64xbf16> -> tensor<1x2x40x64xbf16>, tensor<1x2x40xf32>
  return %o : tensor<1x2x40x64xbf16>
}

// A tile already chosen is kept.
// CPU16-LABEL: func.func @chosen
// CPU16: tile = #tessera.tile<query = 32, warps = 2>
// FEW-LABEL: func.func @chosen
// FEW: tile = #tessera.tile<query = 32, warps = 2>
func.func @chosen(%q: tensor<1x2x100x64xf32>) -> tensor<1x2x100x64xf32> {
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 32, warps = 2>} : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return %o : tensor<1x2x100x64xf32>
}

// Decode over a long cache: 8 single-row tasks. One thread has enough; 16 threads split each
// task's 64 key blocks into 8 chunks (flash-decoding: 64 work items, 8 blocks each). 8 CTAs on
// 132 SMs split into 16 chunks (the most: 128 CTAs); 4 SMs are busy already.
// CPU1-LABEL: func.func @decode
// CPU1: tile = #tessera.tile<query = 64>
// CPU16-LABEL: func.func @decode
// CPU16: tile = #tessera.tile<query = 8, kv_splits = 8>
// GPU-LABEL: func.func @decode
// GPU: tile = #tessera.tile<query = 32, warps = 2, kv_splits = 16>
// FEW-LABEL: func.func @decode
// FEW: tile = #tessera.tile<query = 64, warps = 4>
func.func @decode(%q: tensor<1x8x1x128xbf16>, %k: tensor<1x2x4096x128xbf16>) -> tensor<1x8x1x128xbf16> {
  %o, %l = tessera.attention %q, %k, %k {causal} : tensor<1x8x1x128xbf16>, tensor<1x2x4096x128xbf16>, tensor<1x2x4096x128xbf16> -> tensor<1x8x1x128xbf16>, tensor<1x8x1xf32>
  return %o : tensor<1x8x1x128xbf16>
}

// Run-time batch and cache length: planned for a batch of 1 (8 tasks), so 16 threads get 8
// chunks, as above; a run-time query length may be a prefill and is not split.
// CPU16-LABEL: func.func @decode_dynamic
// CPU16: tile = #tessera.tile<query = 8, kv_splits = 8>
// CPU16: tile = #tessera.tile<query = 8>
// GPU-LABEL: func.func @decode_dynamic
// GPU: tile = #tessera.tile<query = 32, warps = 2, kv_splits = 16>
// GPU: tile = #tessera.tile<query = 32, warps = 2>
func.func @decode_dynamic(%q: tensor<?x8x1x128xbf16>, %k: tensor<?x2x?x128xbf16>, %p: tensor<?x8x?x128xbf16>) -> (tensor<?x8x1x128xbf16>, tensor<?x8x?x128xbf16>) {
  %o, %l = tessera.attention %q, %k, %k : tensor<?x8x1x128xbf16>, tensor<?x2x?x128xbf16>, tensor<?x2x?x128xbf16> -> tensor<?x8x1x128xbf16>, tensor<?x8x1xf32>
  %o2, %l2 = tessera.attention %p, %k, %k : tensor<?x8x?x128xbf16>, tensor<?x2x?x128xbf16>, tensor<?x2x?x128xbf16> -> tensor<?x8x?x128xbf16>, tensor<?x8x?xf32>
  return %o, %o2 : tensor<?x8x1x128xbf16>, tensor<?x8x?x128xbf16>
}
