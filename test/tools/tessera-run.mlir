// tessera-run: random inputs are reproducible, saved inputs replay to identical outputs, and
// the signature (qtensor components included) is printed on request.
// RUN: rm -rf %t && mkdir -p %t
// RUN: tessera-run %s --cache-dir=%t/cache --print-abi | FileCheck %s --check-prefix=ABI
// ABI: entry @decode
// ABI-NEXT:   in  arg0: f32[1, 4, 3, 64]
// ABI-NEXT:   in  arg1.codes: i8[1, 2, 40, 32]
// ABI-NEXT:   in  arg1.scales: f32[1, 2, 40, 2]
// ABI-NEXT:   in  arg2: f32[1, 2, 40, 64]
// ABI-NEXT:   out result0: f32[1, 4, 3, 64]
// ABI-NEXT:   out result1: f32[1, 4, 3]
// RUN: tessera-run %s --cache-dir=%t/cache --random-inputs=7 --save-inputs=%t/in --output=%t/o1.npy --output=%t/l1.npy | FileCheck %s --check-prefix=RUN1
// RUN1: result0: f32[1, 4, 3, 64] mean={{.*}} -> {{.*}}o1.npy
// RUN1: result1: f32[1, 4, 3] mean={{.*}} -> {{.*}}l1.npy
// RUN: tessera-run %s --cache-dir=%t/cache --input=%t/in/arg0.npy --input=%t/in/arg1.codes.npy --input=%t/in/arg1.scales.npy --input=%t/in/arg2.npy --output=%t/o2.npy --output=%t/l2.npy
// RUN: cmp %t/o1.npy %t/o2.npy
// RUN: cmp %t/l1.npy %t/l2.npy
// The second compile of the same module came from the cache.
// RUN: ls %t/cache | grep -E '^[0-9a-f]{64}\.o$' | count 1
// RUN: ls %t/cache | not grep -F .tmp
// RUN: tessera-run %s --cache-dir=%t/cache --random-inputs=7 --bench=3 | FileCheck %s --check-prefix=BENCH
// BENCH: bench @decode: 3 runs, median {{[0-9.]+}} ms, min {{[0-9.]+}} ms, max {{[0-9.]+}} ms, {{[0-9.]+}} GFLOP/s, {{[0-9.]+}} GB/s

func.func @decode(%q: tensor<1x4x3x64xf32>, %k: !tessera.qtensor<1x2x40x64xf32, #tessera.quant<int, bits = 4, group = 32>>, %v: tensor<1x2x40x64xf32>) -> (tensor<1x4x3x64xf32>, tensor<1x4x3xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<1x4x3x64xf32>, !tessera.qtensor<1x2x40x64xf32, #tessera.quant<int, bits = 4, group = 32>>, tensor<1x2x40x64xf32> -> tensor<1x4x3x64xf32>, tensor<1x4x3xf32>
  return %o, %l : tensor<1x4x3x64xf32>, tensor<1x4x3xf32>
}
