// tessera.block_select on the GPU: the CPU lowering's row phases as row kernels (blocks of 128
// threads, a thread per row, its scratch a private f32 row): pooled keys per (b, head, key
// block), scores and selection per (b, head, query block), and with dual top-p the cap (a
// thread per batch element) and the forced blocks. test/sim/block-select-sim.test runs them.
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file | FileCheck %s

// Dual top-p over 2 x 2 x 19 key blocks (1 CTA each phase), four kernels in order; the
// pooling kernel's private row holds the key read, max/min/sum and the pool (4 D + D floats),
// the score kernel keeps the pooled query in a private row of D + D floats.
// CHECK-LABEL: func.func @dual
// CHECK: %[[MASK:.+]] = memref.alloc() : memref<2x2x5x1xi32>
// CHECK: %[[COUNTS:.+]] = memref.alloc() : memref<2x2x5xi32>
// CHECK: %[[KPOOL:.+]] = memref.alloc() : memref<2x2x19x8xf32>
// CHECK: %[[SCORES:.+]] = memref.alloc() : memref<2x2x5x19xf32>
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_pool_0 {{.+}} args(%{{.+}} : memref<2x2x300x8xf32>, %[[KPOOL]] : memref<2x2x19x8xf32>)
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_score_1 {{.+}} args(%{{.+}} : memref<2x4x70x8xf32>, %{{.+}} : memref<2x2x300x8xf32>, %[[KPOOL]] : memref<2x2x19x8xf32>, %[[SCORES]] : memref<2x2x5x19xf32>, %[[MASK]] : memref<2x2x5x1xi32>, %[[COUNTS]] : memref<2x2x5xi32>)
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_cap_2 {{.+}} args(%[[SCORES]] : memref<2x2x5x19xf32>, %[[MASK]] : memref<2x2x5x1xi32>)
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_force_3 {{.+}} args(%{{.+}} : memref<2x4x70x8xf32>, %{{.+}} : memref<2x2x300x8xf32>, %[[MASK]] : memref<2x2x5x1xi32>, %[[COUNTS]] : memref<2x2x5xi32>)
// CHECK: gpu.func @tessera_block_pool_0({{.+}}) private(%{{.+}} : memref<40xf32, #gpu.address_space<private>>) kernel
// CHECK: gpu.func @tessera_block_score_1({{.+}}) private(%[[ROW:.+]] : memref<16xf32, #gpu.address_space<private>>) kernel
// CHECK: arith.bitcast %{{.+}} : i32 to f32
// CHECK: gpu.func @tessera_block_cap_2(%{{.+}}: memref<2x2x5x19xf32>, %{{.+}}: memref<2x2x5x1xi32>)
// CHECK: scf.for %{{.+}} = %{{.+}} to %c32{{.*}} iter_args
// CHECK: gpu.func @tessera_block_force_3
func.func @dual(%q: tensor<2x4x70x8xf32>, %k: tensor<2x2x300x8xf32>) -> (tensor<2x2x5x1xi32>, tensor<2x2x5xi32>) {
  %m, %n = tessera.block_select %q, %k {block_q = 16, block_k = 16, top_p = 0.8 : f32, layer_top_p = 0.5 : f32, sink_blocks = 1, causal} : tensor<2x4x70x8xf32>, tensor<2x2x300x8xf32> -> tensor<2x2x5x1xi32>, tensor<2x2x5xi32>
  return %m, %n : tensor<2x2x5x1xi32>, tensor<2x2x5xi32>
}

// -----

// Run-time batch and lengths: buffers travel as base pointers, the leading sizes (B, Hkv,
// KB) and each buffer's dynamic dims as index arguments; the grid is ceil(B * 2 * KB / 128).
// No host checks on the GPU (the kernels never read past the run-time sizes they are given).
// CHECK-LABEL: func.func @dynamic
// CHECK-NOT: __tessera_runtime_error
// CHECK: %[[KPOOL:.+]] = memref.alloc(%{{.+}}, %{{.+}}) : memref<?x2x?x8xf32>
// CHECK: %[[KP:.+]] = memref.reinterpret_cast %[[KPOOL]] to offset: [0], sizes: [1], strides: [1] : memref<?x2x?x8xf32> to memref<1xf32>
// CHECK: arith.divui
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_pool_0 blocks in (%{{.+}}, %{{.+}}, %{{.+}}) threads in (%c128{{.*}}, %{{.+}}, %{{.+}})  args(%{{.+}} : memref<1xf32>, %[[KP]] : memref<1xf32>, %{{.+}} : index, %{{.+}} : index, %{{.+}} : index
// CHECK: gpu.launch_func  @tessera_kernels::@tessera_block_score_1
// CHECK: gpu.func @tessera_block_pool_0(%{{.+}}: memref<1xf32>, %{{.+}}: memref<1xf32>, %[[B:.+]]: index, %[[H:.+]]: index, %[[KB:.+]]: index
// CHECK: memref.reinterpret_cast %{{.+}} to offset: [0], sizes: [%{{.+}}, 2, %{{.+}}, 8]
func.func @dynamic(%q: tensor<?x4x?x8xf32>, %k: tensor<?x2x?x8xf32>) -> (tensor<?x2x?x?xi32>, tensor<?x2x?xi32>) {
  %m, %n = tessera.block_select %q, %k {block_q = 16, block_k = 16, top_k = 2} : tensor<?x4x?x8xf32>, tensor<?x2x?x8xf32> -> tensor<?x2x?x?xi32>, tensor<?x2x?xi32>
  return %m, %n : tensor<?x2x?x?xi32>, tensor<?x2x?xi32>
}
