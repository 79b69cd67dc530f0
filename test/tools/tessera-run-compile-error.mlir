// A module that fails to verify or lower is reported with its location; exit status 1.
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 2>&1 | FileCheck %s
// CHECK: tessera-run-compile-error.mlir:[[# @LINE + 3]]:13: error: 'tessera.linear_backward_update' op has no CPU (loop) lowering yet
// CHECK-NOT: note: see current operation
func.func @f(%x: tensor<8x4xf32>, %dy: tensor<8x2xf32>, %w: tensor<2x4xf32>, %t: i64) -> tensor<2x4xf32> {
  %dx, %w2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<8x4xf32>, tensor<8x2xf32>, tensor<2x4xf32>, i64) -> (tensor<8x4xf32>, tensor<2x4xf32>)
  return %w2 : tensor<2x4xf32>
}
