// tessera-run reports bad invocations with a clear message and exit status 1.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-run %s --cache-dir=off --random-inputs=1 --save-inputs=%t
// Inputs in the wrong order: a shape mismatch against the signature.
// RUN: not tessera-run %s --cache-dir=off --input=%t/arg1.npy --input=%t/arg0.npy 2>&1 | FileCheck %s --check-prefix=SHAPE
// SHAPE: tessera-run: error: input #0 ('{{.*}}arg1.npy') is f32[4], but entry @scale expects arg0: f32[2, 8]
// RUN: not tessera-run %s --cache-dir=off --input=%t/arg0.npy 2>&1 | FileCheck %s --check-prefix=COUNT
// COUNT: tessera-run: error: entry @scale takes 2 inputs, got 1 --input files (or use --random-inputs=SEED); it expects:
// COUNT-NEXT:   arg0: f32[2, 8]
// COUNT-NEXT:   arg1: f32[4]
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 --entry=nope 2>&1 | FileCheck %s --check-prefix=ENTRY
// ENTRY: tessera-run: error: no entry @nope (entries: @scale)
// RUN: not tessera-run %s --device=cuda 2>&1 | FileCheck %s --check-prefix=CUDA
// CUDA: tessera-run: error: --device=cuda runs .tsr artifacts: compile the module with tessera-compile first
// RUN: not tessera-run %t/missing.mlir 2>&1 | FileCheck %s --check-prefix=MISSING
// MISSING: tessera-run: error: cannot read '{{.*}}missing.mlir'
// RUN: not tessera-run %s --cache-dir=off --input=%s --input=%s 2>&1 | FileCheck %s --check-prefix=NOTNPY
// NOTNPY: tessera-run: error: '{{.*}}tessera-run-errors.mlir' is not a .npy file (bad magic)

func.func @scale(%x: tensor<2x8xf32>, %s: tensor<4xf32>) -> tensor<2x8xf32> {
  %y = tessera.hadamard %x : tensor<2x8xf32>
  return %y : tensor<2x8xf32>
}
