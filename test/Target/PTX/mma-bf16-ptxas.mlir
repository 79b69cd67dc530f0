// The in-process NVPTX path: a kernel using the bf16 tensor-core instruction
// (nvvm.mma.sync, m16n8k16, f32 accumulate) lowers to PTX without a CUDA toolkit, and ptxas
// accepts that PTX for sm_80 and sm_90 with no spills. This is the path the GPU attention
// kernels take (BUILDING.md: bf16 needs nvvm.mma.sync directly in MLIR 22).
// REQUIRES: ptxas
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-opt %s --nvvm-attach-target='chip=sm_80 features=+ptx80' --convert-gpu-to-nvvm='use-bare-ptr-memref-call-conv=1' --gpu-module-to-binary='format=isa' | %python %S/extract-ptx.py > %t/sm80.ptx
// RUN: FileCheck %s --check-prefix=PTX80 < %t/sm80.ptx
// PTX80: .target sm_80
// PTX80: .entry mma_bf16(
// PTX80: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// RUN: %ptxas -arch=sm_80 -v %t/sm80.ptx -o %t/sm80.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// RUN: tessera-opt %s --nvvm-attach-target='chip=sm_90 features=+ptx80' --convert-gpu-to-nvvm='use-bare-ptr-memref-call-conv=1' --gpu-module-to-binary='format=isa' | %python %S/extract-ptx.py > %t/sm90.ptx
// RUN: FileCheck %s --check-prefix=PTX90 < %t/sm90.ptx
// PTX90: .target sm_90
// PTX90: mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32
// RUN: %ptxas -arch=sm_90 -v %t/sm90.ptx -o %t/sm90.cubin 2>&1 | FileCheck %s --check-prefix=PTXAS
// PTXAS: Compiling entry function 'mma_bf16'
// PTXAS: 0 bytes spill stores, 0 bytes spill loads

module attributes {gpu.container_module} {
  gpu.module @kernels {
    gpu.func @mma_bf16(%a: memref<4xi32>, %b: memref<2xi32>, %c: memref<4xf32>) kernel {
      %c0 = arith.constant 0 : index
      %c1 = arith.constant 1 : index
      %c2 = arith.constant 2 : index
      %c3 = arith.constant 3 : index
      %a0 = memref.load %a[%c0] : memref<4xi32>
      %a1 = memref.load %a[%c1] : memref<4xi32>
      %a2 = memref.load %a[%c2] : memref<4xi32>
      %a3 = memref.load %a[%c3] : memref<4xi32>
      %b0 = memref.load %b[%c0] : memref<2xi32>
      %b1 = memref.load %b[%c1] : memref<2xi32>
      %z = arith.constant 0.0 : f32
      %d = nvvm.mma.sync A[%a0, %a1, %a2, %a3] B[%b0, %b1] C[%z, %z, %z, %z]
             {layoutA = #nvvm.mma_layout<row>, layoutB = #nvvm.mma_layout<col>,
              multiplicandAPtxType = #nvvm.mma_type<bf16>, multiplicandBPtxType = #nvvm.mma_type<bf16>,
              shape = #nvvm.shape<m = 16, n = 8, k = 16>}
             : (i32, i32, f32) -> !llvm.struct<(f32, f32, f32, f32)>
      %d0 = llvm.extractvalue %d[0] : !llvm.struct<(f32, f32, f32, f32)>
      %d1 = llvm.extractvalue %d[1] : !llvm.struct<(f32, f32, f32, f32)>
      %d2 = llvm.extractvalue %d[2] : !llvm.struct<(f32, f32, f32, f32)>
      %d3 = llvm.extractvalue %d[3] : !llvm.struct<(f32, f32, f32, f32)>
      memref.store %d0, %c[%c0] : memref<4xf32>
      memref.store %d1, %c[%c1] : memref<4xf32>
      memref.store %d2, %c[%c2] : memref<4xf32>
      memref.store %d3, %c[%c3] : memref<4xf32>
      gpu.return
    }
  }
}
