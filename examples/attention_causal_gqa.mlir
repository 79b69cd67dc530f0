// Causal grouped-query attention in bf16 with D = 128: 32 query heads share 8 KV heads, the
// query and key lengths are not multiples of the 64-row tiles. Runs on the CPU with
// tessera-run, and compiles for NVIDIA GPUs with tessera-compile (tensor cores).
func.func @attention(%q: tensor<1x32x1000x128xbf16>, %k: tensor<1x8x1000x128xbf16>,
                     %v: tensor<1x8x1000x128xbf16>) -> (tensor<1x32x1000x128xbf16>, tensor<1x32x1000xf32>) {
  %o, %lse = tessera.attention %q, %k, %v {causal}
      : tensor<1x32x1000x128xbf16>, tensor<1x8x1000x128xbf16>, tensor<1x8x1000x128xbf16>
      -> tensor<1x32x1000x128xbf16>, tensor<1x32x1000xf32>
  return %o, %lse : tensor<1x32x1000x128xbf16>, tensor<1x32x1000xf32>
}
