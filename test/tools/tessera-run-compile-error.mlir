// A module that fails to verify or lower is reported with its location; exit status 1.
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 2>&1 | FileCheck %s
// CHECK: tessera-run-compile-error.mlir:[[# @LINE + 5]]:10: error: 'tessera.task' op has no CPU (loop) lowering yet
// CHECK-NOT: note: see current operation
func.func @f(%x: tensor<128x64xf32>) -> tensor<128x64xf32> {
  %r = tessera.task_graph(%x : tensor<128x64xf32>) -> tensor<128x64xf32> attributes {workers = 4} {
  ^bb0(%in: tensor<128x64xf32>):
    %a = tessera.task "rotate"(%in : tensor<128x64xf32>) -> tensor<128x64xf32> attributes {tiles = 4} {
    ^bb0(%t: tensor<128x64xf32>):
      %y = tessera.hadamard %t {seed = 1} : tensor<128x64xf32>
      tessera.yield %y : tensor<128x64xf32>
    }
    tessera.yield %a : tensor<128x64xf32>
  }
  return %r : tensor<128x64xf32>
}
