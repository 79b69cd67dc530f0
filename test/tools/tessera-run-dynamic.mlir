// One compiled module, several lengths: `?` dims take their sizes from the inputs (--shape for
// random inputs, the .npy shapes otherwise); output shapes follow; sizes that must agree are
// checked when the call happens.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-run %s --print-abi | FileCheck %s --check-prefix=ABI
// ABI: in  arg0: f32[?, 4, ?, 32]
// ABI: out result0: f32[?, 4, ?, 32]
// ABI: out result1: f32[?, 4, ?]
// RUN: tessera-run %s --cache-dir=%t/cache --random-inputs=1 --shape=arg0=2x4x77x32 --shape=arg1=2x2x133x32 --shape=arg2=2x2x133x32 --save-inputs=%t/a | FileCheck %s --check-prefix=RUN1
// RUN1: result0: f32[2, 4, 77, 32]
// RUN1: result1: f32[2, 4, 77]
// RUN: tessera-run %s --cache-dir=%t/cache --random-inputs=2 --shape=arg0=1x4x1x32 --shape=arg1=1x2x5000x32 --shape=arg2=1x2x5000x32 | FileCheck %s --check-prefix=RUN2
// RUN2: result0: f32[1, 4, 1, 32]
// The same .npy inputs work too.
// RUN: tessera-run %s --cache-dir=%t/cache --input=%t/a/arg0.npy --input=%t/a/arg1.npy --input=%t/a/arg2.npy | FileCheck %s --check-prefix=RUN1
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 --shape=arg0=1x4x8x32 --shape=arg1=1x2x70x32 --shape=arg2=1x2x69x32 2>&1 | FileCheck %s --check-prefix=MISMATCH
// MISMATCH: tessera-run: error: {{.*}}tessera-run-dynamic.mlir:{{[0-9]+}}:12: 'tessera.attention' key length differs from the value length (got 70, expected 69)
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 2>&1 | FileCheck %s --check-prefix=NOSHAPE
// NOSHAPE: tessera-run: error: input arg0: f32[?, 4, ?, 32] has run-time dims: give its shape with --shape=arg0=AxBx... or use --input files
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 --shape=arg0=1x5x8x32 --shape=arg1=1x2x70x32 --shape=arg2=1x2x70x32 2>&1 | FileCheck %s --check-prefix=STATIC
// STATIC: tessera-run: error: entry @attn: input arg0: f32[1, 5, 8, 32] does not fit arg0: f32[?, 4, ?, 32]
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 --shape=arg0=1x4 --shape=arg1=1x2x7x32 --shape=arg2=1x2x7x32 2>&1 | FileCheck %s --check-prefix=BADSHAPE
// BADSHAPE: error: entry @attn: input arg0: f32[1, 4] does not fit arg0: f32[?, 4, ?, 32]
// RUN: not tessera-run %s --cache-dir=off --random-inputs=1 --shape=arg0=1x-4 2>&1 | FileCheck %s --check-prefix=SYNTAX
// SYNTAX: tessera-run: error: --shape='arg0=1x-4' is not NAME=AxBx... with non-negative sizes

func.func @attn(%q: tensor<?x4x?x32xf32>, %k: tensor<?x2x?x32xf32>, %v: tensor<?x2x?x32xf32>)
    -> (tensor<?x4x?x32xf32>, tensor<?x4x?xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<?x4x?x32xf32>, tensor<?x2x?x32xf32>, tensor<?x2x?x32xf32> -> tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
  return %o, %l : tensor<?x4x?x32xf32>, tensor<?x4x?xf32>
}
