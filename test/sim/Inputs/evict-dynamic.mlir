func.func @ev(%k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>, %q: tensor<1x4x8x16xf32>) -> (tensor<1x2x?xi64>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>) {
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x4x8x16xf32>) {budget = 24, window = 4} : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?xi64>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  return %i, %k2, %v2 : tensor<1x2x?xi64>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
}
