// Invalid input makes tessera-opt print a located error and exit with status 1 (never crash).
// RUN: not tessera-opt %s 2>&1 | FileCheck %s
// RUN: tessera-opt %s; test $? -eq 1

// CHECK: tessera-opt-errors.mlir:[[# @LINE + 2]]:10: error: 'tessera.attention' op key head count (3) must divide query head count (8)
func.func @gqa(%q: tensor<1x8x16x64xf32>, %k: tensor<1x3x16x64xf32>, %v: tensor<1x3x16x64xf32>) {
  %o:2 = tessera.attention %q, %k, %v : tensor<1x8x16x64xf32>, tensor<1x3x16x64xf32>, tensor<1x3x16x64xf32> -> tensor<1x8x16x64xf32>, tensor<1x8x16xf32>
  return
}
