// A K3V3 decode step (issue #10): the KV cache of a 300-token prefix is packed at an average
// of 3 bits per coordinate, keys with Block-GTQ and values with TQ-MSE, and one new query
// token per head (GQA 8:2, D = 64) attends over the packed cache.
//  - Keys: Block-GTQ. The 32 RoPE blocks (dims i, i + 32) get 4, 3 or 2 bits (the widths
//    `tessera-run --calibrate` would give a head whose low-frequency blocks carry the
//    energy; average exactly 3). Each width's dims are rotated on their own by a randomized
//    Hadamard transform, normalised and coded with the Lloyd-Max codebook of N(0, 1/n), with
//    one fp32 norm per width.
//  - Values: TQ-MSE at 3 bits, one randomized Hadamard rotation, fp16 norms.
// Attention reads both packed, decoding inside its key-block loop: the query is rotated into
// K's domain once, and the output is rotated back from V's (docs/quantization.md).
// The same module compiles for the GPU (bf16 tensor cores; tessera-compile).
func.func @decode(%q: tensor<1x8x1x64xbf16>, %k: tensor<1x2x300x64xbf16>,
                  %v: tensor<1x2x300x64xbf16>) -> (tensor<1x8x1x64xbf16>, tensor<1x8x1xf32>) {
  %kp = tessera.quantize %k : tensor<1x2x300x64xbf16>
      -> !tessera.qtensor<1x2x300x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>
  %vp = tessera.quantize %v : tensor<1x2x300x64xbf16>
      -> !tessera.qtensor<1x2x300x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>
  %o, %lse = tessera.attention %q, %kp, %vp {causal}
      : tensor<1x8x1x64xbf16>,
        !tessera.qtensor<1x2x300x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
        !tessera.qtensor<1x2x300x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>
      -> tensor<1x8x1x64xbf16>, tensor<1x8x1xf32>
  return %o, %lse : tensor<1x8x1x64xbf16>, tensor<1x8x1xf32>
}
