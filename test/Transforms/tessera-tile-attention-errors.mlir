// A tile the target cannot run is reported at the op.
// RUN: tessera-opt %s --tessera-tile-attention=target=gpu --split-input-file --verify-diagnostics

func.func @cpu_tile(%q: tensor<1x2x100x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op has tile #tessera.tile<query = 16>, which the GPU cannot run: CTAs have 2 or 4 warps}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 16>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  return
}
