func.func @sel(%q: tensor<1x4x?x16xf32>, %k: tensor<1x2x?x16xf32>) -> (tensor<1x2x?x?xi32>, tensor<1x2x?xi32>) {
  %m, %n = tessera.block_select %q, %k {top_k = 2, block_q = 16, block_k = 16} : tensor<1x4x?x16xf32>, tensor<1x2x?x16xf32> -> tensor<1x2x?x?xi32>, tensor<1x2x?xi32>
  return %m, %n : tensor<1x2x?x?xi32>, tensor<1x2x?xi32>
}
