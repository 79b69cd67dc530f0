// tessera.kv_write on the CPU: every storage component of the cache copied (a row loop per
// component: the op returns a new cache), then a row per new token (b, h, t) at position
// positions[b] + t, read through the block table; rows out of the table's capacity or on an
// entry outside the pool are skipped (two scf.if guards). A packed pool gets the row encoded by
// its codec (int4: bytes zeroed, scale and zero, nibbles); a plain cache a plain copy.
// Numerics: test/unit/Numerics/KVWriteTest.cpp; GPU: ../TesseraToGPU/kv-write-to-gpu.mlir.
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file | FileCheck %s

// CHECK-LABEL: func.func @paged_int4
// CHECK-SAME: (%[[CODES:.+]]: tensor<9x16x2x32xi8>, %[[SCALES:.+]]: tensor<9x16x2x1xf32>, %[[ZEROS:.+]]: tensor<9x16x2x1xf32>, %[[U:.+]]: tensor<2x2x1x64xf32>, %[[P:.+]]: tensor<2xi32>, %[[T:.+]]: tensor<2x4xi32>)
// CHECK-DAG: %[[UB:.+]] = bufferization.to_buffer %[[U]]
// CHECK-DAG: %[[PB:.+]] = bufferization.to_buffer %[[P]]
// CHECK-DAG: %[[TB:.+]] = bufferization.to_buffer %[[T]]
// CHECK: %[[CODES_OUT:.+]] = memref.alloc() : memref<9x16x2x32xi8>
// CHECK: scf.parallel
// CHECK: memref.store %{{.+}}, %[[CODES_OUT]]
// CHECK: %[[SCALES_OUT:.+]] = memref.alloc() : memref<9x16x2x1xf32>
// CHECK: %[[ZEROS_OUT:.+]] = memref.alloc() : memref<9x16x2x1xf32>
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]], %[[TOK:.+]]) = (%{{.+}}, %{{.+}}, %{{.+}}) to (%c2{{.*}}, %c2{{.*}}, %c1{{.*}})
// CHECK: %[[START:.+]] = memref.load %[[PB]][%[[B]]] : memref<2xi32>
// CHECK: %[[START_I:.+]] = arith.index_cast %[[START]]
// CHECK: %[[POS:.+]] = arith.addi %[[START_I]], %[[TOK]]
// CHECK: scf.if
// CHECK: %[[PAGE_COL:.+]] = arith.divui %[[POS]], %c16
// CHECK: %[[ENTRY:.+]] = memref.load %[[TB]][%[[B]], %[[PAGE_COL]]] : memref<2x4xi32>
// CHECK: %[[PAGE:.+]] = arith.index_cast %[[ENTRY]]
// CHECK: scf.if
// CHECK: %[[SLOT:.+]] = arith.remui %[[POS]], %c16
// CHECK: memref.load %[[UB]][%[[B]], %[[H]], %[[TOK]], %{{.+}}] : memref<2x2x1x64xf32>
// CHECK: memref.store %{{.+}}, %[[CODES_OUT]][%[[PAGE]], %[[SLOT]], %[[H]], %{{.+}}] : memref<9x16x2x32xi8>
// CHECK: memref.store %{{.+}}, %[[SCALES_OUT]][%[[PAGE]], %[[SLOT]], %[[H]], %{{.+}}] : memref<9x16x2x1xf32>
// CHECK: memref.store %{{.+}}, %[[ZEROS_OUT]][%[[PAGE]], %[[SLOT]], %[[H]], %{{.+}}] : memref<9x16x2x1xf32>
// CHECK: return
func.func @paged_int4(%c: !tessera.qtensor<9x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>, %t: tensor<2x4xi32>) -> !tessera.qtensor<9x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>> {
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<2x4xi32>) {page_size = 16} : tensor<2x2x1x64xf32>, !tessera.qtensor<9x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>
  return %r : !tessera.qtensor<9x16x2x64xf32, #tessera.quant<int, bits = 4, asymmetric>>
}

// -----

// A dense cache with run-time length: the position is checked against Smax (the cache's dim 2)
// and the row copied element by element.
// CHECK-LABEL: func.func @dense_dynamic
// CHECK: %[[OUT:.+]] = memref.alloc(%{{.+}}) : memref<2x2x?x64xbf16>
// CHECK: scf.parallel (%[[B:.+]], %[[H:.+]], %[[TOK:.+]]) =
// CHECK: %[[POS:.+]] = arith.addi %{{.+}}, %[[TOK]]
// CHECK: %[[SMAX:.+]] = memref.dim %[[OUT]], %c2
// CHECK: arith.cmpi slt, %[[POS]], %[[SMAX]]
// CHECK: scf.if
// CHECK: memref.store %{{.+}}, %[[OUT]][%[[B]], %[[H]], %[[POS]], %{{.+}}] : memref<2x2x?x64xbf16>
func.func @dense_dynamic(%c: tensor<2x2x?x64xbf16>, %u: tensor<2x2x3x64xbf16>, %p: tensor<2xi32>) -> tensor<2x2x?x64xbf16> {
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x3x64xbf16>, tensor<2x2x?x64xbf16>
  return %r : tensor<2x2x?x64xbf16>
}
