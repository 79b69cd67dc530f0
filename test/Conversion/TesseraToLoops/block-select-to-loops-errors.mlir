// What the block_select lowerings cannot take fails the pass with a located diagnostic (the
// CPU's and the GPU's checks are the same).
// RUN: tessera-opt %s --convert-tessera-to-loops --split-input-file --verify-diagnostics
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file --verify-diagnostics

// The head dim sizes the pooled rows: it must be static.
func.func @dynamic_head_dim(%q: tensor<1x4x64x?xf32>, %k: tensor<1x2x64x?xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs a static head dim to be lowered (batch, Sq and Skv may be run-time sizes)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x4x64x?xf32>, tensor<1x2x64x?xf32> -> tensor<1x2x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// The GQA group size comes from the head counts.
func.func @dynamic_heads(%q: tensor<1x?x64x8xf32>, %k: tensor<1x2x64x8xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs a static query head count to be lowered (batch, Sq and Skv may be run-time sizes)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x?x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// Projection widths size the scratch rows.
func.func @dynamic_projection(%q: tensor<1x4x64x8xf32>, %k: tensor<1x2x64x8xf32>, %wq: tensor<2x8x?xf32>, %wk: tensor<2x8x?xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs static projection shapes to be lowered; got 'tensor<2x8x?xf32>'}}
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<2x8x?xf32>, tensor<2x8x?xf32>) {top_k = 2} : tensor<1x4x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x2x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// The mask's head dim is the key head count.
func.func @dynamic_result_heads(%q: tensor<1x4x64x8xf32>, %k: tensor<1x2x64x8xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs a static head count in its results to be lowered; got 'tensor<1x?x1x1xi32>'}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x4x64x8xf32>, tensor<1x2x64x8xf32> -> tensor<1x?x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// A paged key pool's table width sizes the mask's key-block grid: it must be static.
func.func @paged_dynamic_table(%q: tensor<2x8x1x64xf32>, %k: tensor<9x16x2x64xf32>, %t: tensor<2x?xi32>, %n: tensor<2xi32>) -> tensor<2x2x1x?xi32> {
  // expected-error @+1 {{'tessera.block_select' op needs a static block table width (max_pages) to be lowered: it sizes the mask's key-block grid}}
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<2x?xi32>, tensor<2xi32>) {top_k = 2, page_size = 16} : tensor<2x8x1x64xf32>, tensor<9x16x2x64xf32> -> tensor<2x2x1x?xi32>, tensor<2x2x1xi32>
  return %m : tensor<2x2x1x?xi32>
}
