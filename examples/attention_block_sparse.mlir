// Block-sparse attention in bf16 with D = 128: a bit-packed mask of 64 x 64 blocks (one i32
// word per query block covers the 32 key blocks of 2048 keys) per head says which key blocks
// each query block reads; disabled blocks are skipped whole, on the CPU and on the GPU.
func.func @sparse(%q: tensor<1x16x2048x128xbf16>, %k: tensor<1x16x2048x128xbf16>,
                  %v: tensor<1x16x2048x128xbf16>, %mask: tensor<1x16x32x1xi32>)
    -> (tensor<1x16x2048x128xbf16>, tensor<1x16x2048xf32>) {
  %o, %lse = tessera.attention %q, %k, %v mask(%mask : tensor<1x16x32x1xi32>)
      : tensor<1x16x2048x128xbf16>, tensor<1x16x2048x128xbf16>, tensor<1x16x2048x128xbf16>
      -> tensor<1x16x2048x128xbf16>, tensor<1x16x2048xf32>
  return %o, %lse : tensor<1x16x2048x128xbf16>, tensor<1x16x2048xf32>
}
