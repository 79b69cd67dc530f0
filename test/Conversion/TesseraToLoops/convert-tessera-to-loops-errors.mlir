// Ops and schemes without a CPU lowering fail the pass with a located diagnostic.
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file --verify-diagnostics

func.func @evict(%k: tensor<1x2x64x32xf32>, %v: tensor<1x2x64x32xf32>) {
  // expected-error @+1 {{'tessera.evict' op has no CPU (loop) lowering yet}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 16} : tensor<1x2x64x32xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, tensor<1x2x16x32xf32>
  return
}

// -----

func.func @dynamic_heads(%q: tensor<1x?x8x64xf32>, %k: tensor<1x2x8x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op needs static head counts, head dims and page sizes to be lowered; got 'tensor<1x?x8x64xf32>' (batch and sequence lengths may be dynamic)}}
  %o, %l = tessera.attention %q, %k, %k : tensor<1x?x8x64xf32>, tensor<1x2x8x64xf32>, tensor<1x2x8x64xf32> -> tensor<1x?x8x64xf32>, tensor<1x?x8xf32>
  return
}

// -----

func.func @bit_allocate_dynamic_blocks(%s: tensor<2x?xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op needs a static row length (the last dim) to be lowered; got 'tensor<2x?xf32>'}}
  %b = tessera.bit_allocate %s : tensor<2x?xf32> -> tensor<2x?xi32>
  return
}
