// RUN: tessera-opt %s --pass-pipeline='builtin.module(func.func(tessera-hoist-static-allocas))' | FileCheck %s

// Scratch allocated inside sequentially-run parallel and for loops moves to the entry block.
// CHECK-LABEL: func.func @scratch
// CHECK-NEXT: %[[A:.+]] = memref.alloca() : memref<16xf32>
// CHECK-NEXT: %[[B:.+]] = memref.alloca() : memref<8xf32>
// CHECK: scf.parallel
// CHECK-NOT: memref.alloca
// CHECK: return
func.func @scratch(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  %f = arith.constant 1.0 : f32
  scf.parallel (%i) = (%c0) to (%n) step (%c1) {
    %a = memref.alloca() : memref<8xf32>
    memref.store %f, %a[%c0] : memref<8xf32>
    scf.for %j = %c0 to %n step %c1 {
      %b = memref.alloca() : memref<16xf32>
      memref.store %f, %b[%c0] : memref<16xf32>
    }
    scf.reduce
  }
  return
}

// Dynamically sized allocas stay where they are.
// CHECK-LABEL: func.func @dynamic
// CHECK: scf.for
// CHECK-NEXT: memref.alloca(%{{.+}}) : memref<?xf32>
func.func @dynamic(%n: index) {
  %c0 = arith.constant 0 : index
  %c1 = arith.constant 1 : index
  scf.for %j = %c0 to %n step %c1 {
    %b = memref.alloca(%j) : memref<?xf32>
  }
  return
}
