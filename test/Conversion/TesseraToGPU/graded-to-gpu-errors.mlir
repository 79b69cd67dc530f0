// What the GPU lowering of graded weights refuses, with a located error.
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file --verify-diagnostics

// The GPU kernels are sized at compile time: run-time rows of x stay on the CPU.
func.func @dynamic_rows(%x: tensor<?x64xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) -> tensor<?x8xf32> {
  // expected-error @+1 {{'tessera.graded_matmul' op needs static shapes to be lowered here (the CPU lowering takes run-time leading dims)}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<?x64xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<?x8xf32>
  return %y : tensor<?x8xf32>
}
