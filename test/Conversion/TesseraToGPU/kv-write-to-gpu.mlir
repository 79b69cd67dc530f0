// tessera.kv_write and paged block_select on the GPU, through the row-kernel runner (the CPU
// lowering's row bodies, a thread per row). kv_write: a copy kernel per storage component of the
// cache (the GPU schedule has no host copies), then a kernel with a thread per new token that
// encodes its row into its page slot. block_select over a packed page pool: the pooling kernel
// reads every storage component, the block table and the lengths; the scoring kernel only the
// table and the lengths (each sequence's visible blocks). Run on tessera-sim in
// test/sim/decode-step-sim.test.
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @kv_write_paged
// CHECK: gpu.launch_func @tessera_kernels::@tessera_kv_copy_0 {{.*}} args(%{{.+}} : memref<9x16x2x24xi8>, %[[CODES:.+]] : memref<9x16x2x24xi8>)
// CHECK: gpu.launch_func @tessera_kernels::@tessera_kv_copy_1 {{.*}} args(%{{.+}} : memref<9x16x2xf16>, %[[NORMS:.+]] : memref<9x16x2xf16>)
// CHECK: gpu.launch_func @tessera_kernels::@tessera_kv_write_2 {{.*}} args(%{{.+}} : memref<2x2x1x64xbf16>, %{{.+}} : memref<2xi32>, %{{.+}} : memref<2x4xi32>, %[[CODES]] : memref<9x16x2x24xi8>, %[[NORMS]] : memref<9x16x2xf16>)
// CHECK: gpu.func @tessera_kv_write_2({{.*}}) private(%{{.+}} : memref<64xf32, #gpu.address_space<private>>) kernel
// CHECK: gpu.block_id x
// CHECK: memref.load %{{.+}} : memref<2xi32>
// CHECK: memref.load %{{.+}} : memref<2x4xi32>
// CHECK: memref.store %{{.+}} : memref<9x16x2x24xi8>
// CHECK: memref.store %{{.+}} : memref<9x16x2xf16>
func.func @kv_write_paged(%c: !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, norm = f16>>, %u: tensor<2x2x1x64xbf16>, %p: tensor<2xi32>, %t: tensor<2x4xi32>) -> !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, norm = f16>> {
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<2x4xi32>) {page_size = 16} : tensor<2x2x1x64xbf16>, !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, norm = f16>>
  return %r : !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, norm = f16>>
}

// -----

// CHECK-LABEL: func.func @select_paged
// CHECK: gpu.launch_func @tessera_kernels::@tessera_block_pool_0 {{.*}} args(%{{.+}} : memref<9x16x2x24xi8>, %{{.+}} : memref<9x16x2xf32>, %[[T:.+]] : memref<2x4xi32>, %[[N:.+]] : memref<2xi32>, %[[KPOOL:.+]] : memref<2x2x1x64xf32>)
// CHECK: gpu.launch_func @tessera_kernels::@tessera_block_score_1 {{.*}} args(%{{.+}} : memref<2x8x1x64xbf16>, %[[T]] : memref<2x4xi32>, %[[N]] : memref<2xi32>, %[[KPOOL]] : memref<2x2x1x64xf32>
// The pooling thread's scratch: the decoded key row, max/min/sum per channel, the pool.
// CHECK: gpu.func @tessera_block_pool_0({{.*}}) private(%{{.+}} : memref<320xf32, #gpu.address_space<private>>) kernel
// CHECK: %[[LEN:.+]] = memref.load %{{.+}} : memref<2xi32>
// CHECK: %[[LENI:.+]] = arith.index_cast %[[LEN]]
// CHECK: arith.maxsi %[[LENI]], %c0
func.func @select_paged(%q: tensor<2x8x1x64xbf16>, %k: !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, seed = 4>>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) -> (tensor<2x2x1x1xi32>, tensor<2x2x1xi32>) {
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {top_k = 1, causal, page_size = 16} : tensor<2x8x1x64xbf16>, !tessera.qtensor<9x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, seed = 4>> -> tensor<2x2x1x1xi32>, tensor<2x2x1xi32>
  return %m, %c : tensor<2x2x1x1xi32>, tensor<2x2x1xi32>
}
