// Ops and schemes without a CPU lowering fail the pass with a located diagnostic.
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file --verify-diagnostics

func.func @linear_backward_update(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op has no CPU (loop) lowering yet}}
  %dx, %w2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Compacting dithered lattice rows would change their decode (the dither follows the row).
func.func @evict_dithered(%k: !tessera.qtensor<1x2x64x32xf32, #tessera.quant<lattice, lattice = d4, dither>>, %v: tensor<1x2x64x32xf32>) {
  // expected-error @+1 {{'tessera.evict' op cannot compact dithered lattice keys: a row's dither depends on its position, so a moved row would decode differently (quantize without dither)}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 16} : !tessera.qtensor<1x2x64x32xf32, #tessera.quant<lattice, lattice = d4, dither>>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, !tessera.qtensor<1x2x16x32xf32, #tessera.quant<lattice, lattice = d4, dither>>, tensor<1x2x16x32xf32>
  return
}

// -----

func.func @evict_dynamic_dim(%k: tensor<1x2x64x?xf32>, %v: tensor<1x2x64x32xf32>) {
  // expected-error @+1 {{'tessera.evict' op needs a static keys head dim to be lowered; got 'tensor<1x2x64x?xf32>'}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 16} : tensor<1x2x64x?xf32>, tensor<1x2x64x32xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x?xf32>, tensor<1x2x16x32xf32>
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
