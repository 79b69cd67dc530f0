// Attention with Sq != Skv, neither a multiple of 64 (test/sim/device-sim.test).
func.func @f(%q: tensor<1x2x77x64xbf16>, %k: tensor<1x2x133x64xbf16>, %v: tensor<1x2x133x64xbf16>) -> (tensor<1x2x77x64xbf16>, tensor<1x2x77xf32>) {
  %o, %l = tessera.attention %q, %k, %v : tensor<1x2x77x64xbf16>, tensor<1x2x133x64xbf16>, tensor<1x2x133x64xbf16> -> tensor<1x2x77x64xbf16>, tensor<1x2x77xf32>
  return %o, %l : tensor<1x2x77x64xbf16>, tensor<1x2x77xf32>
}
