// RUN: tessera-opt %s --tessera-expand-math | FileCheck %s

// exp on f32 vectors becomes a polynomial (no libm call per lane); bf16 conversions become
// integer bit operations.
// CHECK-LABEL: func.func @expand
// CHECK-NOT: math.exp
// CHECK: arith.bitcast
// CHECK-NOT: arith.extf {{.*}}bf16
// CHECK: return
func.func @expand(%x: vector<16xf32>, %h: bf16) -> (vector<16xf32>, f32) {
  %e = math.exp %x : vector<16xf32>
  %f = arith.extf %h : bf16 to f32
  return %e, %f : vector<16xf32>, f32
}
