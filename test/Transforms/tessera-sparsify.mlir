// RUN: tessera-opt %s --tessera-sparsify --canonicalize --split-input-file | FileCheck %s

// A constant boolean mask becomes per-query-block key-block lists; blocks the causal bound
// rules out (query block 0 cannot see key block 2) are dropped at compile time.
// CHECK-LABEL: func.func @bool_causal
// CHECK-NOT: arith.constant
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} {causal, topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 3, offsets = [0, 1, 3], indices = [0, 1, 2]>}
func.func @bool_causal(%q: tensor<1x1x100x64xf32>, %k: tensor<1x1x150x64xf32>) -> tensor<1x1x100x64xf32> {
  %m = arith.constant dense<[[[true, false, true], [false, true, true]]]> : tensor<1x2x3xi1>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x3xi1>) {causal} : tensor<1x1x100x64xf32>, tensor<1x1x150x64xf32>, tensor<1x1x150x64xf32> -> tensor<1x1x100x64xf32>, tensor<1x1x100xf32>
  return %o : tensor<1x1x100x64xf32>
}

// -----

// A bit-packed mask per query head (LSB = key block 0): head 0 reads blocks {0, 2} in both
// query blocks, head 1 reads {1} then nothing.
// CHECK-LABEL: func.func @packed_heads
// CHECK: topology = #tessera.block_topology<batch = 1, heads = 2, query_blocks = 2, key_blocks = 3, offsets = [0, 2, 4, 5, 5], indices = [0, 2, 0, 2, 1]>
func.func @packed_heads(%q: tensor<1x2x128x32xf32>, %k: tensor<1x2x192x32xf32>) -> tensor<1x2x128x32xf32> {
  %m = arith.constant dense<[[[[5], [5]], [[2], [0]]]]> : tensor<1x2x2x1xi32>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x2x1xi32>) : tensor<1x2x128x32xf32>, tensor<1x2x192x32xf32>, tensor<1x2x192x32xf32> -> tensor<1x2x128x32xf32>, tensor<1x2x128xf32>
  return %o : tensor<1x2x128x32xf32>
}

// -----

// A mask computed at run time (here: an argument) stays a mask.
// CHECK-LABEL: func.func @runtime_mask
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%{{.+}} : tensor<1x2x1xi32>) {block_q = 32 : i64} :
// CHECK-NOT: topology
func.func @runtime_mask(%q: tensor<1x1x64x32xf32>, %k: tensor<1x1x64x32xf32>, %m: tensor<1x2x1xi32>) -> tensor<1x1x64x32xf32> {
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x1xi32>) {block_q = 32} : tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32>, tensor<1x1x64x32xf32> -> tensor<1x1x64x32xf32>, tensor<1x1x64xf32>
  return %o : tensor<1x1x64x32xf32>
}

// -----

// Routing that keeps every block (top_k = 3 = ceil(150 / 64) key blocks) adds nothing to the
// attention's causal bound: the mask goes, and the routing with it.
// CHECK-LABEL: func.func @routing_keeps_all
// CHECK-NOT: tessera.block_select
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} {causal} :
func.func @routing_keeps_all(%q: tensor<1x4x100x64xf32>, %k: tensor<1x2x150x64xf32>) -> tensor<1x4x100x64xf32> {
  %m, %n = tessera.block_select %q, %k {top_k = 3, causal} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x2x2x1xi32>, tensor<1x2x2xi32>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x2x1xi32>) {causal} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x4x100x64xf32>, tensor<1x4x100xf32>
  return %o : tensor<1x4x100x64xf32>
}

// -----

// Non-causal routing with top_k past the block count keeps every block for any attention;
// the counts are still read, so the routing stays.
// CHECK-LABEL: func.func @routing_counts_used
// CHECK: %{{.+}}, %[[N:.+]] = tessera.block_select
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} {block_k = 32 : i64} :
// CHECK: return %{{.+}}, %[[N]]
func.func @routing_counts_used(%q: tensor<1x4x100x64xf32>, %k: tensor<1x2x150x64xf32>) -> (tensor<1x4x100x64xf32>, tensor<1x2x2xi32>) {
  %m, %n = tessera.block_select %q, %k {top_k = 9, block_k = 32} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x2x2x1xi32>, tensor<1x2x2xi32>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x2x1xi32>) {block_k = 32} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x4x100x64xf32>, tensor<1x4x100xf32>
  return %o, %n : tensor<1x4x100x64xf32>, tensor<1x2x2xi32>
}

// -----

// Causal routing in front of a non-causal attention prunes the blocks above the diagonal, and
// top_k = 2 of 3 blocks prunes more: both masks stay.
// CHECK-LABEL: func.func @routing_prunes
// CHECK: %[[M1:.+]], %{{.+}} = tessera.block_select %{{.+}}, %{{.+}} {causal, top_k = 3 : i64}
// CHECK: %[[M2:.+]], %{{.+}} = tessera.block_select %{{.+}}, %{{.+}} {causal, top_k = 2 : i64}
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M1]] : tensor<1x2x2x1xi32>) :
// CHECK: tessera.attention %{{.+}}, %{{.+}}, %{{.+}} mask(%[[M2]] : tensor<1x2x2x1xi32>) {causal} :
func.func @routing_prunes(%q: tensor<1x4x100x64xf32>, %k: tensor<1x2x150x64xf32>) -> (tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>) {
  %m, %n = tessera.block_select %q, %k {top_k = 3, causal} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x2x2x1xi32>, tensor<1x2x2xi32>
  %m2, %n2 = tessera.block_select %q, %k {top_k = 2, causal} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x2x2x1xi32>, tensor<1x2x2xi32>
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x2x2x1xi32>) : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x4x100x64xf32>, tensor<1x4x100xf32>
  %o2, %l2 = tessera.attention %q, %k, %k mask(%m2 : tensor<1x2x2x1xi32>) {causal} : tensor<1x4x100x64xf32>, tensor<1x2x150x64xf32>, tensor<1x2x150x64xf32> -> tensor<1x4x100x64xf32>, tensor<1x4x100xf32>
  return %o, %o2 : tensor<1x4x100x64xf32>, tensor<1x4x100x64xf32>
}
