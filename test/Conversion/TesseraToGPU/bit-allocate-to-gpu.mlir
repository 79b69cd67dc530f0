// tessera.bit_allocate becomes a row kernel: a thread per row of energies (here 2 x 150 rows:
// 3 blocks of 128), the row's gains in a private f32 row, the greedy loop an scf.while in
// the thread, the same row body as the CPU lowering (test/sim/bit-allocate-sim.test runs it).
// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// CHECK-LABEL: func.func @allocate
// CHECK: %[[BITS:.+]] = memref.alloc() : memref<2x150x64xi32>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_bit_allocate_0 blocks in (%c3, %{{.+}}, %{{.+}}) threads in (%c128, %{{.+}}, %{{.+}})  args(%{{.+}} : memref<2x150x64xf32>, %[[BITS]] : memref<2x150x64xi32>)
// CHECK: gpu.module @tessera_kernels
// CHECK: gpu.func @tessera_bit_allocate_0(%[[S:.+]]: memref<2x150x64xf32>, %[[B:.+]]: memref<2x150x64xi32>) private(%[[GAINS:.+]] : memref<64xf32, #gpu.address_space<private>>) kernel attributes {known_block_size = array<i32: 128, 1, 1>}
// CHECK: arith.cmpi ult
// CHECK: memref.store %c1_i32, %[[B]]
// CHECK: arith.bitcast %{{.+}} : i32 to f32
// CHECK: memref.store %{{.+}}, %[[GAINS]][%{{.+}}] : memref<64xf32, #gpu.address_space<private>>
// The budget: floor(64 * 3.0) - 64 * 1 = 128 more bits.
// CHECK: scf.while
// CHECK: arith.cmpi ult, %{{.+}}, %c128{{.*}} : index
// CHECK: scf.condition
// CHECK: arith.addi
// CHECK: memref.store %{{.+}}, %[[B]][%{{.+}}, %{{.+}}, %{{.+}}] : memref<2x150x64xi32>
// CHECK: gpu.return
func.func @allocate(%s: tensor<2x150x64xf32>) -> tensor<2x150x64xi32> {
  %b = tessera.bit_allocate %s : tensor<2x150x64xf32> -> tensor<2x150x64xi32>
  return %b : tensor<2x150x64xi32>
}
