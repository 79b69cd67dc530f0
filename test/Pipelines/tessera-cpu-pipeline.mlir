// RUN: tessera-opt %s --tessera-cpu-pipeline | FileCheck %s

// The CPU pipeline ends in the LLVM dialect; results become trailing out-parameters, and the
// entry keeps its name.
// CHECK-NOT: tessera.
// CHECK-NOT: scf.
// CHECK-NOT: memref.alloca_scope
// CHECK: llvm.func @attn(
// CHECK-NOT: -> !llvm.struct
// CHECK: llvm.intr.vector.reduce.fadd
func.func @attn(%q: tensor<1x2x16x32xbf16>, %k: tensor<1x2x40x32xbf16>, %v: tensor<1x2x40x32xbf16>) -> (tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal, window = 8} : tensor<1x2x16x32xbf16>, tensor<1x2x40x32xbf16>, tensor<1x2x40x32xbf16> -> tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>
  return %o, %l : tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>
}
