// Decode-style attention over a rotated, 4-bit quantized KV cache: the composition Tessera is
// built for, in one function.
//  1. Q and K are rotated by the same randomized Hadamard transform (seed 7). The transform is
//     orthogonal, so Q.K^T is unchanged, while K's outlier channels are spread over all dims,
//     which makes 4-bit groups far more accurate (QuaRot/HyperQuant-style).
//  2. K is packed as 4-bit symmetric groups of 32, V as 8-bit per-token.
//  3. Attention reads the packed K and V directly: 8 query heads share 2 KV heads (GQA),
//     causal with a 128-token sliding window.
func.func @decode(%q: tensor<1x8x16x128xf32>, %k: tensor<1x2x256x128xf32>,
                  %v: tensor<1x2x256x128xf32>) -> (tensor<1x8x16x128xf32>, tensor<1x8x16xf32>) {
  %qr = tessera.hadamard %q {seed = 7} : tensor<1x8x16x128xf32>
  %kr = tessera.hadamard %k {seed = 7} : tensor<1x2x256x128xf32>
  %kp = tessera.quantize %kr : tensor<1x2x256x128xf32>
      -> !tessera.qtensor<1x2x256x128xf32, #tessera.quant<int, bits = 4, group = 32>>
  %vp = tessera.quantize %v : tensor<1x2x256x128xf32>
      -> !tessera.qtensor<1x2x256x128xf32, #tessera.quant<int, bits = 8>>
  %o, %lse = tessera.attention %qr, %kp, %vp {causal, window = 128}
      : tensor<1x8x16x128xf32>,
        !tessera.qtensor<1x2x256x128xf32, #tessera.quant<int, bits = 4, group = 32>>,
        !tessera.qtensor<1x2x256x128xf32, #tessera.quant<int, bits = 8>>
      -> tensor<1x8x16x128xf32>, tensor<1x8x16xf32>
  return %o, %lse : tensor<1x8x16x128xf32>, tensor<1x8x16xf32>
}
