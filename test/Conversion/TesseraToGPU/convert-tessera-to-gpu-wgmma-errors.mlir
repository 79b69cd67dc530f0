// wgmma needs one warpgroup per CTA, so a 2-warp tile is refused where it is written.
// RUN: tessera-opt %s --convert-tessera-to-gpu='wgmma=1 chip=sm_90a' --verify-diagnostics

func.func @two_warps(%q: tensor<1x2x100x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op wgmma needs a warpgroup (4 warps, 64 query rows) per CTA; tile has 2 warps}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 32, warps = 2>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  return
}
