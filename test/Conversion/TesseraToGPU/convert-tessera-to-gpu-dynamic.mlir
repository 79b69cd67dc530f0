// RUN: tessera-opt %s --convert-tessera-to-gpu | FileCheck %s

// Run-time batch and lengths on the GPU: the host schedule reads the sizes (memref.dim),
// checks the rules the verifier could not (cf.assert: tessera-compile turns them into the
// manifest's `check` lines), sizes the outputs and the grid from them, and passes dynamic
// buffers as bare pointers with B, Sq and Skv as index arguments; the kernel rebuilds their
// views with memref.reinterpret_cast.
// CHECK-LABEL: func.func @attn
// CHECK: %[[B:.+]] = memref.dim %[[Q:.+]], %c0 : memref<?x8x?x64xbf16>
// CHECK: %[[SQ:.+]] = memref.dim %[[Q]], %c2 : memref<?x8x?x64xbf16>
// CHECK: %[[SKV:.+]] = memref.dim %{{.+}}, %c2{{.*}} : memref<?x2x?x64xbf16>
// CHECK: %[[TILES:.+]] = arith.divui
// CHECK: cf.assert %{{.+}}, "'tessera.attention' key batch differs from the query batch"
// CHECK: cf.assert %{{.+}}, "'tessera.attention' key length differs from the value length"
// CHECK: %[[OUT:.+]] = memref.alloc(%[[B]], %[[SQ]]) : memref<?x8x?x64xbf16>
// CHECK: memref.reinterpret_cast %[[Q]] to offset: [0], sizes: [1], strides: [1] : memref<?x8x?x64xbf16> to memref<1xbf16>
// CHECK: gpu.launch_func @tessera_kernels::@tessera_attention_0 blocks in (%[[TILES]], %c8{{.*}}, %[[B]]) threads in ({{.*}}) args({{.*}}, %[[B]] : index, %[[SQ]] : index, %[[SKV]] : index)
// CHECK: gpu.func @tessera_attention_0(%{{.+}}: memref<1xbf16>, {{.*}}, %[[KB:.+]]: index, %[[KSQ:.+]]: index, %[[KSKV:.+]]: index)
// CHECK: memref.reinterpret_cast %{{.+}} to offset: [0], sizes: [%[[KB]], 8, %[[KSQ]], 64], strides: [%{{.+}}, %{{.+}}, %{{.+}}, 1] : memref<1xbf16> to memref<?x8x?x64xbf16, strided<[?, ?, ?, 1]>>
// CHECK: memref.reinterpret_cast %{{.+}} to offset: [0], sizes: [%[[KB]], 2, %[[KSKV]], 64]
func.func @attn(%q: tensor<?x8x?x64xbf16>, %k: tensor<?x2x?x64xbf16>, %v: tensor<?x2x?x64xbf16>) -> tensor<?x8x?x64xbf16> {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<?x8x?x64xbf16>, tensor<?x2x?x64xbf16>, tensor<?x2x?x64xbf16> -> tensor<?x8x?x64xbf16>, tensor<?x8x?xf32>
  return %o : tensor<?x8x?x64xbf16>
}
