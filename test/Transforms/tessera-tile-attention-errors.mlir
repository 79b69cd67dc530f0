// A tile the target cannot run is reported at the op.
// RUN: tessera-opt %s --tessera-tile-attention=target=gpu --split-input-file --verify-diagnostics

func.func @cpu_tile(%q: tensor<1x2x100x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op has tile #tessera.tile<query = 16>, which the GPU cannot run: CTAs have 2 or 4 warps}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 16>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  return
}

// -----

func.func @packed_two_warps(%q: tensor<1x2x40x64xbf16>, %k: !tessera.qtensor<1x2x40x64xbf16, #tessera.quant<int, bits = 4, group = 32>>) {
  // expected-error @+1 {{'tessera.attention' op has tile #tessera.tile<query = 32, warps = 2>, but packed K/V needs 4 warps per CTA on the GPU}}
  %o, %l = tessera.attention %q, %k, %q {tile = #tessera.tile<query = 32, warps = 2>} : tensor<1x2x40x64xbf16>, !tessera.qtensor<1x2x40x64xbf16, #tessera.quant<int, bits = 4, group = 32>>, tensor<1x2x40x64xbf16> -> tensor<1x2x40x64xbf16>, tensor<1x2x40xf32>
  return
}
