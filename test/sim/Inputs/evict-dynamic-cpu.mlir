func.func @ev(%k: tensor<1x2x?x16xf32>, %v: tensor<1x2x?x16xf32>, %q: tensor<1x4x8x16xf32>) -> (tensor<1x2x24xi64>, tensor<1x2x24x16xf32>, tensor<1x2x24x16xf32>) {
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x4x8x16xf32>) {budget = 24, window = 4} : tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?xi64>, tensor<1x2x?x16xf32>, tensor<1x2x?x16xf32>
  %a = tensor.cast %i : tensor<1x2x?xi64> to tensor<1x2x24xi64>
  %b = tensor.cast %k2 : tensor<1x2x?x16xf32> to tensor<1x2x24x16xf32>
  %c = tensor.cast %v2 : tensor<1x2x?x16xf32> to tensor<1x2x24x16xf32>
  return %a, %b, %c : tensor<1x2x24xi64>, tensor<1x2x24x16xf32>, tensor<1x2x24x16xf32>
}
