// Round trip of every tessera op: custom form, generic form, and print -> parse -> print stability.
// RUN: tessera-opt %s | tessera-opt | FileCheck %s
// RUN: tessera-opt %s --mlir-print-op-generic | tessera-opt | FileCheck %s
// RUN: tessera-opt %s > %t.1 && tessera-opt %t.1 > %t.2 && diff %t.1 %t.2
// RUN: tessera-opt %s --mlir-print-op-generic > %t.g1 && tessera-opt %t.g1 --mlir-print-op-generic > %t.g2 && diff %t.g1 %t.g2

// Dense attention: no attributes beyond the defaults, which are elided.
// CHECK-LABEL: func.func @attention_dense
// CHECK: %{{.*}}, %{{.*}} = tessera.attention %{{.*}}, %{{.*}}, %{{.*}} : tensor<2x4x77x64xf32>, tensor<2x4x133x64xf32>, tensor<2x4x133x96xf32> -> tensor<2x4x77x96xf32>, tensor<2x4x77xf32>
func.func @attention_dense(%q: tensor<2x4x77x64xf32>, %k: tensor<2x4x133x64xf32>, %v: tensor<2x4x133x96xf32>) -> tensor<2x4x77x96xf32> {
  %o, %lse = tessera.attention %q, %k, %v : tensor<2x4x77x64xf32>, tensor<2x4x133x64xf32>, tensor<2x4x133x96xf32> -> tensor<2x4x77x96xf32>, tensor<2x4x77xf32>
  return %o : tensor<2x4x77x96xf32>
}

// Causal sliding-window GQA (8 query heads over 2 KV heads) with an explicit scale.
// CHECK-LABEL: func.func @attention_causal_window_gqa
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} {causal, scale = 1.250000e-01 : f32, window = 256 : i64} : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16> -> tensor<1x8x128x64xbf16>, tensor<1x8x128xf32>
func.func @attention_causal_window_gqa(%q: tensor<1x8x128x64xbf16>, %k: tensor<1x2x128x64xbf16>, %v: tensor<1x2x128x64xbf16>) -> tensor<1x8x128x64xbf16> {
  %o, %lse = tessera.attention %q, %k, %v {causal, window = 256, scale = 0.125 : f32} : tensor<1x8x128x64xbf16>, tensor<1x2x128x64xbf16>, tensor<1x2x128x64xbf16> -> tensor<1x8x128x64xbf16>, tensor<1x8x128xf32>
  return %o : tensor<1x8x128x64xbf16>
}

// Block-sparse attention with a boolean mask per query head (3 x 5 blocks of 64).
// CHECK-LABEL: func.func @attention_mask_i1
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%{{.*}} : tensor<8x3x5xi1>) : tensor<1x8x130x64xf16>
func.func @attention_mask_i1(%q: tensor<1x8x130x64xf16>, %k: tensor<1x8x300x64xf16>, %v: tensor<1x8x300x64xf16>, %m: tensor<8x3x5xi1>) -> tensor<1x8x130x64xf16> {
  %o, %lse = tessera.attention %q, %k, %v mask(%m : tensor<8x3x5xi1>) : tensor<1x8x130x64xf16>, tensor<1x8x300x64xf16>, tensor<1x8x300x64xf16> -> tensor<1x8x130x64xf16>, tensor<1x8x130xf32>
  return %o : tensor<1x8x130x64xf16>
}

// Bit-packed mask shared by each GQA group: 40 key blocks of 128 need 2 words.
// CHECK-LABEL: func.func @attention_mask_packed
// CHECK: mask(%{{.*}} : tensor<2x2x64x2xi32>) {block_k = 128 : i64, causal}
func.func @attention_mask_packed(%q: tensor<2x8x4096x128xbf16>, %k: tensor<2x2x5120x128xbf16>, %v: tensor<2x2x5120x128xbf16>, %m: tensor<2x2x64x2xi32>) -> tensor<2x8x4096x128xbf16> {
  %o, %lse = tessera.attention %q, %k, %v mask(%m : tensor<2x2x64x2xi32>) {causal, block_k = 128} : tensor<2x8x4096x128xbf16>, tensor<2x2x5120x128xbf16>, tensor<2x2x5120x128xbf16> -> tensor<2x8x4096x128xbf16>, tensor<2x8x4096xf32>
  return %o : tensor<2x8x4096x128xbf16>
}

// Attention reads packed K and V directly (no dequantized copy).
// CHECK-LABEL: func.func @attention_packed_kv
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} {causal} : tensor<1x4x16x128xbf16>, !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<block_gtq, bits = [{{.*}}], rotation = haar, seed = 3, norm = f32>>, !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<int, bits = 4, group = 32, asymmetric>>
func.func @attention_packed_kv(%q: tensor<1x4x16x128xbf16>,
    %k: !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<block_gtq, bits = [4,4,4,4,4,4,4,4,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,2,2,2,2,2,2,2,2,1,1,1,1,1,1,1,1], rotation = haar, seed = 3>>,
    %v: !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<int, bits = 4, group = 32, asymmetric>>) -> tensor<1x4x16x128xbf16> {
  %o, %lse = tessera.attention %q, %k, %v {causal} : tensor<1x4x16x128xbf16>,
    !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<block_gtq, bits = [4,4,4,4,4,4,4,4,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,3,2,2,2,2,2,2,2,2,1,1,1,1,1,1,1,1], rotation = haar, seed = 3>>,
    !tessera.qtensor<1x4x512x128xbf16, #tessera.quant<int, bits = 4, group = 32, asymmetric>> -> tensor<1x4x16x128xbf16>, tensor<1x4x16xf32>
  return %o : tensor<1x4x16x128xbf16>
}

// Dynamic sequence lengths are accepted; the checks that need them wait for static shapes.
// CHECK-LABEL: func.func @attention_dynamic
// CHECK: tessera.attention {{.*}} : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x8x?x64xf32>, tensor<1x8x?xf32>
func.func @attention_dynamic(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %v: tensor<1x2x?x64xf32>) -> tensor<1x8x?x64xf32> {
  %o, %lse = tessera.attention %q, %k, %v {causal} : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x8x?x64xf32>, tensor<1x8x?xf32>
  return %o : tensor<1x8x?x64xf32>
}

// Top-k routing with sink blocks; the mask feeds attention.
// CHECK-LABEL: func.func @block_select_top_k
// CHECK: %[[MASK:.+]], %{{.*}} = tessera.block_select %{{.*}}, %{{.*}} {causal, pool = #tessera<pool max>, sink_blocks = 1 : i64, top_k = 8 : i64} : tensor<1x8x4096x128xbf16>, tensor<1x2x4096x128xbf16> -> tensor<1x2x64x2xi32>, tensor<1x2x64xi32>
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} mask(%[[MASK]] : tensor<1x2x64x2xi32>) {causal}
func.func @block_select_top_k(%q: tensor<1x8x4096x128xbf16>, %k: tensor<1x2x4096x128xbf16>, %v: tensor<1x2x4096x128xbf16>) -> tensor<1x8x4096x128xbf16> {
  %mask, %n = tessera.block_select %q, %k {top_k = 8, sink_blocks = 1, causal, pool = #tessera<pool max>} : tensor<1x8x4096x128xbf16>, tensor<1x2x4096x128xbf16> -> tensor<1x2x64x2xi32>, tensor<1x2x64xi32>
  %o, %lse = tessera.attention %q, %k, %v mask(%mask : tensor<1x2x64x2xi32>) {causal} : tensor<1x8x4096x128xbf16>, tensor<1x2x4096x128xbf16>, tensor<1x2x4096x128xbf16> -> tensor<1x8x4096x128xbf16>, tensor<1x8x4096xf32>
  return %o : tensor<1x8x4096x128xbf16>
}

// Dual top-p with learned projections over max/min/avg-pooled keys.
// CHECK-LABEL: func.func @block_select_dual_top_p
// CHECK: tessera.block_select %{{.*}}, %{{.*}} proj(%{{.*}}, %{{.*}} : tensor<2x64x32xf32>, tensor<2x192x32xf32>) {layer_top_p = 5.000000e-01 : f32, pool = #tessera<pool max_min_avg>, top_p = 0.899999976 : f32}
func.func @block_select_dual_top_p(%q: tensor<1x8x1000x64xf32>, %k: tensor<1x2x1000x64xf32>, %wq: tensor<2x64x32xf32>, %wk: tensor<2x192x32xf32>) -> tensor<1x2x16x1xi32> {
  %mask, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<2x64x32xf32>, tensor<2x192x32xf32>) {top_p = 0.9 : f32, layer_top_p = 0.5 : f32, pool = #tessera<pool max_min_avg>} : tensor<1x8x1000x64xf32>, tensor<1x2x1000x64xf32> -> tensor<1x2x16x1xi32>, tensor<1x2x16xi32>
  return %mask : tensor<1x2x16x1xi32>
}

// Every quantization scheme round-trips through quantize and dequantize.
// CHECK-LABEL: func.func @quant_schemes
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 8, symmetric>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, group = 16, asymmetric>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 3, rotation = haar, seed = 9, norm = f16>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = e8, alpha = 1.5, rice, rotation = hadamard, seed = 1>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = a2, alpha = 1.0, rotation = none, seed = 0>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<graded, bits = 4>>
// CHECK: tessera.quantize %{{.*}} : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = d4, alpha = 3.6930140078993947, dither, rotation = haar, seed = 2>>
// CHECK: %[[D:.+]] = tessera.dequantize %{{.*}} : !tessera.qtensor<4x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<4x64xf32>
// CHECK: return %[[D]]
func.func @quant_schemes(%x: tensor<4x64xf32>) -> tensor<4x64xf32> {
  %a = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 8>>
  %b = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, group = 16, asymmetric>>
  %c = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 3, rotation = haar, seed = 9, norm = f16>>
  %d = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = e8, alpha = 1.5, rice, seed = 1>>
  %e = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = a2, rotation = none>>
  %f = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<graded, bits = 4>>
  // snr = 21 dB on D4: alpha^2 = 10^2.1 * G(D4) * sqrt(2).
  %h = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = d4, snr = 21.0, dither, rotation = haar, seed = 2>>
  %g = tessera.dequantize %f : !tessera.qtensor<4x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<4x64xf32>
  return %g : tensor<4x64xf32>
}

// Graded matmul over nested bit-planes, with batch dims on x.
// CHECK-LABEL: func.func @graded_matmul
// CHECK: %[[Y:.+]] = tessera.graded_matmul %{{.*}}, %{{.*}} {avg_bits = 2.500000e+00 : f64} : tensor<2x3x64xbf16>, !tessera.qtensor<16x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x3x16xbf16>
// CHECK: return %[[Y]]
func.func @graded_matmul(%x: tensor<2x3x64xbf16>, %w: !tessera.qtensor<16x64xf32, #tessera.quant<graded, bits = 4>>) -> tensor<2x3x16xbf16> {
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.5 : f64} : tensor<2x3x64xbf16>, !tessera.qtensor<16x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x3x16xbf16>
  return %y : tensor<2x3x16xbf16>
}

// Hadamard with random signs, and its inverse.
// CHECK-LABEL: func.func @hadamard
// CHECK: %[[H:.+]] = tessera.hadamard %{{.*}} {seed = 42 : i64} : tensor<3x5x128xbf16>
// CHECK: tessera.hadamard %[[H]] {inverse, seed = 42 : i64} : tensor<3x5x128xbf16>
func.func @hadamard(%x: tensor<3x5x128xbf16>) -> tensor<3x5x128xbf16> {
  %h = tessera.hadamard %x {seed = 42} : tensor<3x5x128xbf16>
  %y = tessera.hadamard %h {seed = 42, inverse} : tensor<3x5x128xbf16>
  return %y : tensor<3x5x128xbf16>
}

// Bit allocation per (layer, KV head) row; defaults elided.
// CHECK-LABEL: func.func @bit_allocate
// CHECK: tessera.bit_allocate %{{.*}} : tensor<2x4x64xf32> -> tensor<2x4x64xi32>
// CHECK: tessera.bit_allocate %{{.*}} {avg_bits = 2.000000e+00 : f64, max_bits = 4 : i64} : tensor<4xf32> -> tensor<4xi32>
func.func @bit_allocate(%s: tensor<2x4x64xf32>, %t: tensor<4xf32>) -> tensor<4xi32> {
  %a = tessera.bit_allocate %s : tensor<2x4x64xf32> -> tensor<2x4x64xi32>
  %b = tessera.bit_allocate %t {avg_bits = 2.0 : f64, max_bits = 4} : tensor<4xf32> -> tensor<4xi32>
  return %b : tensor<4xi32>
}

// Every eviction policy with the operands it needs.
// CHECK-LABEL: func.func @evict_policies
// CHECK: tessera.evict sink_window %{{.*}}, %{{.*}} {budget = 256 : i64} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
// CHECK: tessera.evict snapkv %{{.*}}, %{{.*}} query(%{{.*}} : tensor<1x8x32x64xf32>) {budget = 256 : i64}
// CHECK: tessera.evict compresskv %{{.*}}, %{{.*}} query(%{{.*}} : tensor<1x8x32x64xf32>) {budget = 128 : i64, first_k = 2 : i64, heads = array<i64: 5, 1, 7>} : {{.*}} -> tensor<1x1x128xi64>
// CHECK: tessera.evict h2o %{{.*}}, %{{.*}} scores(%{{.*}} : tensor<1x2x1024xf32>) {budget = 200 : i64, window = 64 : i64}
// CHECK: tessera.evict reservoir %{{.*}}, %{{.*}} query(%{{.*}} : tensor<1x8x32x64xf32>) {budget = 100 : i64, gamma = 5.000000e-01 : f32, scope = #tessera<evict_scope per_layer>, seed = 7 : i64, steps = 3 : i64} : {{.*}} -> tensor<1x1x100xi64>
func.func @evict_policies(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>, %s: tensor<1x2x1024xf32>) {
  %i0, %k0, %v0 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  %i1, %k1, %v1 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  %i2, %k2, %v2 = tessera.evict compresskv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 128, heads = array<i64: 5, 1, 7>, first_k = 2} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x1x128xi64>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32>
  %i3, %k3, %v3 = tessera.evict h2o %k, %v scores(%s : tensor<1x2x1024xf32>) {budget = 200, window = 64} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x200xi64>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>
  %i4, %k4, %v4 = tessera.evict reservoir %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 100, steps = 3, gamma = 0.5 : f32, seed = 7, scope = #tessera<evict_scope per_layer>} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x1x100xi64>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>
  return
}

// Paged eviction over packed page pools: the new lengths are the last result, after h2o's kept
// scores when there are both (the paged operands tell the two trailing results apart).
// CHECK-LABEL: func.func @evict_paged
// CHECK: %{{.*}}, %{{.*}}, %{{.*}}, %[[N:.+]] = tessera.evict snapkv %{{.*}}, %{{.*}} query(%{{.*}} : tensor<4x8x1x64xf32>) paged(%{{.*}}, %{{.*}} : tensor<4x8xi32>, tensor<4xi32>) {budget = 48 : i64, page_size = 16 : i64, window = 1 : i64} : !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = hadamard, seed = 0, norm = f32>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>> -> tensor<4x2x48xi64>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = hadamard, seed = 0, norm = f32>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<4xi32>
// CHECK: tessera.evict h2o %{{.*}}, %{{.*}} scores(%{{.*}} : tensor<4x2x128xf32>) paged(%{{.*}}, %[[N]] : tensor<4x8xi32>, tensor<4xi32>) {budget = 48 : i64, page_size = 16 : i64} : {{.*}} -> tensor<4x2x48xi64>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = hadamard, seed = 0, norm = f32>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<4x2x48xf32>, tensor<4xi32>
func.func @evict_paged(%k: !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4>>, %v: !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, %q: tensor<4x8x1x64xf32>, %s: tensor<4x2x128xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  %i, %k2, %v2, %l2 = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>)
      paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1}
      : !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>> -> tensor<4x2x48xi64>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<4xi32>
  %i3, %k3, %v3, %s3, %l3 = tessera.evict h2o %k2, %v2 scores(%s : tensor<4x2x128xf32>) paged(%t, %l2 : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16} : !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>> -> tensor<4x2x48xi64>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<tq_mse, bits = 4>>, !tessera.qtensor<64x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, tensor<4x2x48xf32>, tensor<4xi32>
  return
}

// A budget above the cache length keeps all tokens; packed caches stay packed.
// CHECK-LABEL: func.func @evict_packed_keep_all
// CHECK: tessera.evict sink_window {{.*}} -> tensor<1x2x100xi64>, !tessera.qtensor<1x2x100x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = hadamard, seed = 0, norm = f32>>, tensor<1x2x100x64xf32>
func.func @evict_packed_keep_all(%k: !tessera.qtensor<1x2x100x64xf32, #tessera.quant<tq_mse, bits = 4>>, %v: tensor<1x2x100x64xf32>) {
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 512} : !tessera.qtensor<1x2x100x64xf32, #tessera.quant<tq_mse, bits = 4>>, tensor<1x2x100x64xf32> -> tensor<1x2x100xi64>, !tessera.qtensor<1x2x100x64xf32, #tessera.quant<tq_mse, bits = 4>>, tensor<1x2x100x64xf32>
  return
}

// FORGE with each optimizer: SGD without state, SGD with momentum, Adam, bf16 AdamW with stochastic rounding.
// CHECK-LABEL: func.func @linear_backward_update
// CHECK: tessera.linear_backward_update %{{.*}}, %{{.*}}, %{{.*}}, %{{.*}} {optimizer = #tessera.optimizer<sgd, lr = 0.1, momentum = 0.0, dampening = 0.0, weight_decay = 0.0>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
// CHECK: state(%{{.*}}) {optimizer = #tessera.optimizer<sgd, lr = 0.1, momentum = 0.9, dampening = 0.1, weight_decay = 0.0>}
// CHECK: state(%{{.*}}, %{{.*}}) {optimizer = #tessera.optimizer<adam, lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1.0e-08, weight_decay = 0.0>}
// CHECK: state(%{{.*}}, %{{.*}}) {optimizer = #tessera.optimizer<adamw, lr = 3.0e-04, beta1 = 0.9, beta2 = 0.95, eps = 1.0e-08, weight_decay = 0.1, stochastic_rounding>} : (tensor<64x32xbf16>, tensor<64x16xbf16>, tensor<16x32xbf16>, i64, tensor<16x32xf32>, tensor<16x32xf32>)
func.func @linear_backward_update(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64, %m: tensor<16x32xf32>, %v: tensor<16x32xf32>,
                                  %xb: tensor<64x32xbf16>, %dyb: tensor<64x16xbf16>, %wb: tensor<16x32xbf16>) {
  %dx0, %w0 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  %dx1, %w1, %b1 = tessera.linear_backward_update %x, %dy, %w, %t state(%m) {optimizer = #tessera.optimizer<sgd, lr = 0.1, momentum = 0.9, dampening = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<16x32xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
  %dx2, %w2, %m2, %v2 = tessera.linear_backward_update %x, %dy, %w, %t state(%m, %v) {optimizer = #tessera.optimizer<adam>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<16x32xf32>, tensor<16x32xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
  %dx3, %w3, %m3, %v3 = tessera.linear_backward_update %xb, %dyb, %wb, %t state(%m, %v) {optimizer = #tessera.optimizer<adamw, lr = 3.0e-4, beta2 = 0.95, weight_decay = 0.1, stochastic_rounding>} : (tensor<64x32xbf16>, tensor<64x16xbf16>, tensor<16x32xbf16>, i64, tensor<16x32xf32>, tensor<16x32xf32>) -> (tensor<64x32xbf16>, tensor<16x32xbf16>, tensor<16x32xf32>, tensor<16x32xf32>)
  return
}

// A two-task persistent graph replayed for 4 decode steps; the second task depends on the first.
// CHECK-LABEL: func.func @task_graph
// CHECK: %[[G:.+]]:2 = tessera.task_graph(%{{.*}}, %{{.*}} : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>) -> tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32> attributes {iterations = 4 : i64, workers = 132 : i64} {
// CHECK: %[[A:.+]] = tessera.task "rotate"(%{{.*}} : tensor<1x8x1x64xf32>) -> tensor<1x8x1x64xf32> attributes {tiles = 8 : i64} {
// CHECK: tessera.hadamard
// CHECK: tessera.task "attend"(%[[A]], %{{.*}} : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>) -> tensor<1x8x1x64xf32> {
// CHECK: tessera.attention
// CHECK: tessera.yield %{{.*}}, %{{.*}} : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>
func.func @task_graph(%x: tensor<1x8x1x64xf32>, %kv: tensor<1x8x64x64xf32>) -> tensor<1x8x1x64xf32> {
  %r:2 = tessera.task_graph(%x, %kv : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>) -> tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32> attributes {workers = 132, iterations = 4} {
  ^bb0(%in: tensor<1x8x1x64xf32>, %cache: tensor<1x8x64x64xf32>):
    %a = tessera.task "rotate"(%in : tensor<1x8x1x64xf32>) -> tensor<1x8x1x64xf32> attributes {tiles = 8} {
    ^bb0(%t: tensor<1x8x1x64xf32>):
      %y = tessera.hadamard %t {seed = 1} : tensor<1x8x1x64xf32>
      tessera.yield %y : tensor<1x8x1x64xf32>
    }
    %b = tessera.task "attend"(%a, %cache : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>) -> tensor<1x8x1x64xf32> {
    ^bb0(%q: tensor<1x8x1x64xf32>, %c: tensor<1x8x64x64xf32>):
      %o, %lse = tessera.attention %q, %c, %c {causal} : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>, tensor<1x8x64x64xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x1xf32>
      tessera.yield %o : tensor<1x8x1x64xf32>
    }
    tessera.yield %b, %cache : tensor<1x8x1x64xf32>, tensor<1x8x64x64xf32>
  }
  return %r#0 : tensor<1x8x1x64xf32>
}

// A static topology (what tessera-sparsify makes of a constant mask) round-trips, including
// rows and whole topologies without any block.
// CHECK-LABEL: func.func @attention_topology
// CHECK: topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 1], indices = [1]>
// CHECK: topology = #tessera.block_topology<batch = 1, heads = 2, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 0, 0, 0], indices = []>
func.func @attention_topology(%q: tensor<1x2x128x32xf32>) -> tensor<1x2x128x32xf32> {
  %o, %l = tessera.attention %q, %q, %q {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 1], indices = [1]>} : tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32> -> tensor<1x2x128x32xf32>, tensor<1x2x128xf32>
  %o2, %l2 = tessera.attention %q, %q, %q {topology = #tessera.block_topology<batch = 1, heads = 2, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 0, 0, 0], indices = []>} : tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32>, tensor<1x2x128x32xf32> -> tensor<1x2x128x32xf32>, tensor<1x2x128xf32>
  return %o2 : tensor<1x2x128x32xf32>
}

// The work decomposition tessera-tile-attention records round-trips.
// CHECK-LABEL: func.func @tiled
// CHECK: tile = #tessera.tile<query = 32, warps = 2>
// CHECK: tile = #tessera.tile<query = 16>}
func.func @tiled(%q: tensor<1x2x100x64xbf16>) -> tensor<1x2x100x64xbf16> {
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 32, warps = 2>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  %o2, %l2 = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 16, warps = 0>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  return %o2 : tensor<1x2x100x64xbf16>
}

// Paged decode: page pools, a block table and per-sequence lengths.
// CHECK-LABEL: func.func @paged
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} paged(%{{.*}}, %{{.*}} : tensor<?x?xi32>, tensor<?xi32>) {causal, checked, page_size = 16 : i64}
func.func @paged(%q: tensor<?x8x1x64xbf16>, %k: tensor<?x16x2x64xbf16>, %t: tensor<?x?xi32>, %n: tensor<?xi32>) -> tensor<?x8x1x64xbf16> {
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<?x?xi32>, tensor<?xi32>) {causal, page_size = 16, checked} : tensor<?x8x1x64xbf16>, tensor<?x16x2x64xbf16>, tensor<?x16x2x64xbf16> -> tensor<?x8x1x64xbf16>, tensor<?x8x1xf32>
  return %o : tensor<?x8x1x64xbf16>
}

// A ragged batch: sequences packed along the length dim, delimited by prefix sums.
// CHECK-LABEL: func.func @varlen
// CHECK: tessera.attention %{{.*}}, %{{.*}}, %{{.*}} varlen(%{{.*}}, %{{.*}} : tensor<?xi32>, tensor<?xi32>) {causal}
func.func @varlen(%q: tensor<1x8x?x64xf32>, %k: tensor<1x2x?x64xf32>, %c: tensor<?xi32>) -> tensor<1x8x?x64xf32> {
  %o, %l = tessera.attention %q, %k, %k varlen(%c, %c : tensor<?xi32>, tensor<?xi32>) {causal} : tensor<1x8x?x64xf32>, tensor<1x2x?x64xf32>, tensor<1x2x?x64xf32> -> tensor<1x8x?x64xf32>, tensor<1x8x?xf32>
  return %o : tensor<1x8x?x64xf32>
}

// Routing over a packed, paged key pool; the new token's K appended into its page.
// CHECK-LABEL: func.func @paged_routing_and_append
// CHECK: tessera.block_select %{{.*}}, %{{.*}} paged(%{{.*}}, %{{.*}} : tensor<4x8xi32>, tensor<4xi32>) {block_k = 32 : i64, causal, page_size = 16 : i64, top_k = 2 : i64} : tensor<4x8x1x64xbf16>, !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 0, norm = f32>> -> tensor<4x2x1x1xi32>, tensor<4x2x1xi32>
// CHECK: tessera.kv_write %{{.*}} into %{{.*}} at(%{{.*}} : tensor<4xi32>) paged(%{{.*}} : tensor<4x8xi32>) {page_size = 16 : i64} : tensor<4x2x1x64xbf16>, !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 0, norm = f32>>
// CHECK: tessera.kv_write %{{.*}} into %{{.*}} at(%{{.*}} : tensor<4xi32>) : tensor<4x2x1x64xbf16>, tensor<4x2x256x64xbf16>
func.func @paged_routing_and_append(%q: tensor<4x8x1x64xbf16>, %k: !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>, %t: tensor<4x8xi32>, %n: tensor<4xi32>, %new: tensor<4x2x1x64xbf16>, %dense: tensor<4x2x256x64xbf16>) -> (!tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>, tensor<4x2x256x64xbf16>) {
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<4x8xi32>, tensor<4xi32>) {top_k = 2, causal, block_k = 32, page_size = 16} : tensor<4x8x1x64xbf16>, !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 0, norm = f32>> -> tensor<4x2x1x1xi32>, tensor<4x2x1xi32>
  %k2 = tessera.kv_write %new into %k at(%n : tensor<4xi32>) paged(%t : tensor<4x8xi32>) {page_size = 16} : tensor<4x2x1x64xbf16>, !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>
  %d2 = tessera.kv_write %new into %dense at(%n : tensor<4xi32>) : tensor<4x2x1x64xbf16>, tensor<4x2x256x64xbf16>
  return %k2, %d2 : !tessera.qtensor<40x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3>>, tensor<4x2x256x64xbf16>
}
