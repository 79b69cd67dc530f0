// A module without parallel loops: its compiled code calls no OpenMP.
func.func @identity(%x: tensor<4xf32>) -> tensor<4xf32> {
  return %x : tensor<4xf32>
}
