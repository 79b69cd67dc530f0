// Attention with run-time batch and lengths (bf16, for the GPU path).
func.func @attn(%q: tensor<?x4x?x32xbf16>, %k: tensor<?x2x?x32xbf16>, %v: tensor<?x2x?x32xbf16>)
    -> (tensor<?x4x?x32xbf16>, tensor<?x4x?xf32>) {
  %o, %l = tessera.attention %q, %k, %v {causal} : tensor<?x4x?x32xbf16>, tensor<?x2x?x32xbf16>, tensor<?x2x?x32xbf16> -> tensor<?x4x?x32xbf16>, tensor<?x4x?xf32>
  return %o, %l : tensor<?x4x?x32xbf16>, tensor<?x4x?xf32>
}
