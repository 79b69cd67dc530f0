// tessera.evict on the GPU: the CPU lowering's per-set body (Common/Evict.cpp) in a row kernel,
// a thread per index set; the per-set scratch (keys, scores, softmax rows, decoded K) is
// allocated on the host in global memory. Run on tessera-sim against the CPU in
// test/sim/evict-sim.test.
// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// Run-time S: the outputs and the scratch are sized on the host (n = min(S, budget)), and the
// operands travel as base pointers with their sizes; the kernel rebuilds the views.
// CHECK-LABEL: func.func @snapkv_dynamic
// CHECK: %[[S:.+]] = memref.dim %{{.*}}, %c2{{.*}} : memref<1x2x?x32xf32>
// CHECK: %[[N:.+]] = arith.minsi %[[S]], %c16
// CHECK: memref.alloc(%[[N]]) : memref<1x2x?xi64>
// CHECK: memref.alloc(%[[S]]) : memref<2x6x?xf32>
// CHECK: memref.alloc(%[[S]]) : memref<2x?x32xf32>
// CHECK: gpu.launch_func {{ *}}@tessera_kernels::@[[K:tessera_evict_[0-9]+]]
func.func @snapkv_dynamic(%q: tensor<1x4x8x32xf32>, %k: tensor<1x2x?x32xf32>, %v: !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>) -> (tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>) {
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x4x8x32xf32>) {budget = 16, window = 8} : tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>> -> tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>
  return %i, %k2, %v2 : tensor<1x2x?xi64>, tensor<1x2x?x32xf32>, !tessera.qtensor<1x2x?x32xf32, #tessera.quant<tq_mse, bits = 4>>
}

// Paged with a run-time page count: a copy kernel (a thread per (page, slot, head) row of the
// pools, every row copied) runs before the set kernel, which takes the block table and kv_lens;
// the page count travels as a size and both kernels rebuild the pools' views (their checks are
// with @reservoir's, the kernel module being printed last).
// CHECK-LABEL: func.func @paged_snapkv_dynamic
// CHECK: %[[P:.+]] = memref.dim %{{.*}}, %c0{{.*}} : memref<?x4x2x8xf32>
// CHECK: memref.alloc(%{{.*}}) : memref<?x4x2x8xf32>
// CHECK: gpu.launch_func {{ *}}@tessera_kernels::@[[COPY:tessera_evict_copy_[0-9]+]]
// CHECK: memref.alloc() : memref<4x6x20xf32>
// CHECK: gpu.launch_func {{ *}}@tessera_kernels::@[[SETS:tessera_evict_[0-9]+]] {{.*}} : memref<2x5xi32>, %{{.*}} : memref<2xi32>, %{{.*}} : memref<2x2x6xi64>
func.func @paged_snapkv_dynamic(%q: tensor<2x4x4x8xf32>, %k: tensor<?x4x2x8xf32>, %v: tensor<?x4x2x8xf32>, %t: tensor<2x5xi32>, %l: tensor<2xi32>) -> (tensor<2x2x6xi64>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>, tensor<2xi32>) {
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<2x4x4x8xf32>) paged(%t, %l : tensor<2x5xi32>, tensor<2xi32>) {budget = 6, page_size = 4, window = 2} : tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32> -> tensor<2x2x6xi64>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>, tensor<2xi32>
  return %i, %k2, %v2, %n : tensor<2x2x6xi64>, tensor<?x4x2x8xf32>, tensor<?x4x2x8xf32>, tensor<2xi32>
}

// Per-layer reservoir: one thread per batch element (2 sets), log in arith too.
// CHECK-LABEL: func.func @reservoir
// CHECK: memref.alloc() : memref<2x6x64xf32>
// CHECK: gpu.launch_func {{ *}}@tessera_kernels::@[[R:tessera_evict_[0-9]+]]
// The kernels: views rebuilt from the sizes for the run-time S; no libm/libdevice calls (exp and
// log are arith ops).
// CHECK: gpu.func @[[K]](
// CHECK-SAME: kernel
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [2, 6, %{{.*}}]
// CHECK: gpu.thread_id x
// CHECK-NOT: math.
// CHECK: gpu.return
// CHECK: gpu.func @[[COPY]](
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, 4, 2, 8]
// CHECK: gpu.return
// CHECK: gpu.func @[[SETS]](
// CHECK-SAME: memref<2x5xi32>, %{{.*}}: memref<2xi32>
// CHECK: memref.reinterpret_cast %{{.*}} to offset: [0], sizes: [%{{.*}}, 4, 2, 8]
// CHECK-NOT: math.
// CHECK: gpu.return
// CHECK: gpu.func @[[R]](
// CHECK: arith.constant 41 : i64
// CHECK-NOT: math.
// CHECK: gpu.return
func.func @reservoir(%q: tensor<2x4x1x32xf32>, %k: tensor<2x2x64x32xf32>, %v: tensor<2x2x64x32xf32>) -> (tensor<2x1x16xi64>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>) {
  %i, %k2, %v2 = tessera.evict reservoir %k, %v query(%q : tensor<2x4x1x32xf32>) {budget = 16, seed = 3, scope = #tessera<evict_scope per_layer>} : tensor<2x2x64x32xf32>, tensor<2x2x64x32xf32> -> tensor<2x1x16xi64>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
  return %i, %k2, %v2 : tensor<2x1x16xi64>, tensor<2x2x16x32xf32>, tensor<2x2x16x32xf32>
}
