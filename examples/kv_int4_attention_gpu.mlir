// The composition of examples/kv_int4_attention.mlir in bf16, for the GPU: rotate Q and K by
// the same randomized Hadamard transform, pack K as 4-bit symmetric groups of 32 and V as
// 8-bit per-token codes, and attend over the packed cache (GQA 8:2, causal, 128-token
// window). tessera-compile turns it into four kernels and their launch schedule: two
// Hadamard row kernels, two quantize row kernels, and the tensor-core attention kernel that
// decodes the packed cache in shared memory.
func.func @decode(%q: tensor<1x8x16x128xbf16>, %k: tensor<1x2x256x128xbf16>,
                  %v: tensor<1x2x256x128xbf16>) -> (tensor<1x8x16x128xbf16>, tensor<1x8x16xf32>) {
  %qr = tessera.hadamard %q {seed = 7} : tensor<1x8x16x128xbf16>
  %kr = tessera.hadamard %k {seed = 7} : tensor<1x2x256x128xbf16>
  %kp = tessera.quantize %kr : tensor<1x2x256x128xbf16>
      -> !tessera.qtensor<1x2x256x128xbf16, #tessera.quant<int, bits = 4, group = 32>>
  %vp = tessera.quantize %v : tensor<1x2x256x128xbf16>
      -> !tessera.qtensor<1x2x256x128xbf16, #tessera.quant<int, bits = 8>>
  %o, %lse = tessera.attention %qr, %kp, %vp {causal, window = 128}
      : tensor<1x8x16x128xbf16>,
        !tessera.qtensor<1x2x256x128xbf16, #tessera.quant<int, bits = 4, group = 32>>,
        !tessera.qtensor<1x2x256x128xbf16, #tessera.quant<int, bits = 8>>
      -> tensor<1x8x16x128xbf16>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x128xbf16>, tensor<1x8x16xf32>
}
