// tessera-opt registers every tessera op under its exact name, and the upstream dialects the
// pipelines use.
// RUN: tessera-opt --show-dialects | FileCheck %s --check-prefix=DIALECTS
// DIALECTS-DAG: arith
// DIALECTS-DAG: bufferization
// DIALECTS-DAG: func
// DIALECTS-DAG: gpu
// DIALECTS-DAG: linalg
// DIALECTS-DAG: llvm
// DIALECTS-DAG: math
// DIALECTS-DAG: memref
// DIALECTS-DAG: nvvm
// DIALECTS-DAG: scf
// DIALECTS-DAG: tensor
// DIALECTS-DAG: tessera
// DIALECTS-DAG: vector

// Unregistered op names are rejected, so parsing these proves each name is registered.
// RUN: tessera-opt %s --allow-unregistered-dialect=false --mlir-print-op-generic | FileCheck %s
// CHECK-DAG: "tessera.attention"
// CHECK-DAG: "tessera.block_select"
// CHECK-DAG: "tessera.quantize"
// CHECK-DAG: "tessera.dequantize"
// CHECK-DAG: "tessera.hadamard"
// CHECK-DAG: "tessera.bit_allocate"
// CHECK-DAG: "tessera.evict"
// CHECK-DAG: "tessera.linear_backward_update"
// CHECK-DAG: "tessera.task_graph"
// CHECK-DAG: "tessera.task"
// CHECK-DAG: "tessera.yield"
func.func @names(%q: tensor<1x2x64x32xf32>, %s: tensor<16xf32>, %x: tensor<8x16xf32>, %dy: tensor<8x4xf32>, %w: tensor<4x16xf32>, %t: i64) {
  %o:2 = "tessera.attention"(%q, %q, %q) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0, 0, 0>}> : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> (tensor<1x2x64x32xf32>, tensor<1x2x64xf32>)
  %m:2 = "tessera.block_select"(%q, %q) <{operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0>, top_k = 1 : i64}> : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> (tensor<1x2x1x1xi32>, tensor<1x2x1xi32>)
  %p = "tessera.quantize"(%q) : (tensor<1x2x64x32xf32>) -> !tessera.qtensor<1x2x64x32xf32, #tessera.quant<int, bits = 8>>
  %d = "tessera.dequantize"(%p) : (!tessera.qtensor<1x2x64x32xf32, #tessera.quant<int, bits = 8>>) -> tensor<1x2x64x32xf32>
  %h = "tessera.hadamard"(%s) : (tensor<16xf32>) -> tensor<16xf32>
  %b = "tessera.bit_allocate"(%s) : (tensor<16xf32>) -> tensor<16xi32>
  %e:3 = "tessera.evict"(%q, %q) <{operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0>, resultSegmentSizes = array<i32: 1, 1, 1, 0, 0>, policy = #tessera<evict_policy sink_window>, budget = 16 : i64}> : (tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32>) -> (tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>)
  %l:2 = "tessera.linear_backward_update"(%x, %dy, %w, %t) <{optimizer = #tessera.optimizer<sgd>}> : (tensor<8x16xf32>, tensor<8x4xf32>, tensor<4x16xf32>, i64) -> (tensor<8x16xf32>, tensor<4x16xf32>)
  %g = "tessera.task_graph"(%s) ({
  ^bb0(%a: tensor<16xf32>):
    %r = "tessera.task"(%a) <{name = "copy"}> ({
    ^bb0(%c: tensor<16xf32>):
      "tessera.yield"(%c) : (tensor<16xf32>) -> ()
    }) : (tensor<16xf32>) -> tensor<16xf32>
    "tessera.yield"(%r) : (tensor<16xf32>) -> ()
  }) : (tensor<16xf32>) -> tensor<16xf32>
  return
}
