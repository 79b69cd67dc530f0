// A module that fails to verify or lower is reported with its location; exit status 1.
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 2>&1 | FileCheck %s
// CHECK: tessera-run-compile-error.mlir:[[# @LINE + 3]]:18: error: 'tessera.evict' op has no CPU (loop) lowering yet
// CHECK-NOT: note: see current operation
func.func @f(%k: tensor<1x2x64x32xf32>) -> tensor<1x2x16x32xf32> {
  %i, %k2, %v2 = tessera.evict sink_window %k, %k {budget = 16} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
  return %k2 : tensor<1x2x16x32xf32>
}
