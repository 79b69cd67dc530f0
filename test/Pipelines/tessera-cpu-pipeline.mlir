// RUN: tessera-opt %s --tessera-cpu-pipeline | FileCheck %s
// RUN: tessera-opt %s --tessera-cpu-pipeline=parallel=0 | FileCheck %s --check-prefix=SEQ

// The CPU pipeline ends in the LLVM dialect (plus OpenMP regions for the parallel loops);
// results become trailing out-parameters, and the entry keeps its name. Scratch is
// allocated once per thread at the start of the parallel region, not per iteration.
// CHECK-NOT: tessera.
// CHECK-NOT: scf.
// CHECK-NOT: memref.alloca_scope
// CHECK: llvm.func @attn(
// CHECK-NOT: -> !llvm.struct
// The first region transposes K (no scratch); the second is the attention itself.
// CHECK: omp.parallel {
// CHECK-NEXT: omp.wsloop
// CHECK: omp.parallel {
// CHECK-NEXT: llvm.alloca
// CHECK: omp.wsloop
// CHECK: llvm.intr.vector.reduce.fadd
// Sequential: no OpenMP, scratch at the function entry.
// SEQ-LABEL: llvm.func @attn(
// SEQ-NOT: omp.
// SEQ: llvm.alloca
// SEQ: llvm.br
func.func @attn(%q: tensor<1x2x16x32xbf16>, %k: tensor<1x2x40x32xbf16>, %v: tensor<1x2x40x32xbf16>) -> (tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal, window = 8} : tensor<1x2x16x32xbf16>, tensor<1x2x40x32xbf16>, tensor<1x2x40x32xbf16> -> tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>
  return %o, %l : tensor<1x2x16x32xbf16>, tensor<1x2x16xf32>
}
