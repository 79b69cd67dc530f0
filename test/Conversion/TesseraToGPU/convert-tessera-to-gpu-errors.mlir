// What the GPU lowering does not handle is reported where it is written.
// RUN: tessera-opt %s --convert-tessera-to-gpu --split-input-file --verify-diagnostics

func.func @f32(%q: tensor<1x2x64x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op GPU attention runs on bf16 or f16 tensor cores; got 'f32'}}
  %o, %l = tessera.attention %q, %q, %q : tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32>, tensor<1x2x64x64xf32> -> tensor<1x2x64x64xf32>, tensor<1x2x64xf32>
  return
}

// -----

func.func @head_dim(%q: tensor<1x2x64x96xbf16>, %k: tensor<1x2x64x96xbf16>, %v: tensor<1x2x64x200xbf16>) {
  // expected-error @+1 {{'tessera.attention' op GPU attention needs head dims that are multiples of 16 and at most 128; got D = 96, Dv = 200}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x2x64x96xbf16>, tensor<1x2x64x96xbf16>, tensor<1x2x64x200xbf16> -> tensor<1x2x64x200xbf16>, tensor<1x2x64xf32>
  return
}

// -----

func.func @tiles(%q: tensor<1x2x64x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op GPU attention tiles 64 x 64; block_q (32) and block_k (64) must be 64}}
  %o, %l = tessera.attention %q, %q, %q {block_q = 32} : tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16>, tensor<1x2x64x64xbf16> -> tensor<1x2x64x64xbf16>, tensor<1x2x64xf32>
  return
}

// -----

func.func @other(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op has no GPU lowering yet}}
  %dx, %w2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Compacting dithered lattice rows would change their decode (the dither follows the row).
func.func @evict_dithered(%k: tensor<1x2x64x32xf32>, %v: !tessera.qtensor<1x2x64x32xf32, #tessera.quant<lattice, lattice = e8, dither>>) {
  // expected-error @+1 {{'tessera.evict' op cannot compact dithered lattice values: a row's dither depends on its position, so a moved row would decode differently (quantize without dither)}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 16} : tensor<1x2x64x32xf32>, !tessera.qtensor<1x2x64x32xf32, #tessera.quant<lattice, lattice = e8, dither>> -> tensor<1x2x16xi64>, tensor<1x2x16x32xf32>, !tessera.qtensor<1x2x16x32xf32, #tessera.quant<lattice, lattice = e8, dither>>
  return
}

// -----

func.func @cpu_tile(%q: tensor<1x2x100x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op tile of 16 query rows has no warp count: a CPU tile cannot run on the GPU (run --tessera-tile-attention=target=gpu)}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 16>} : tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16>, tensor<1x2x100x64xbf16> -> tensor<1x2x100x64xbf16>, tensor<1x2x100xf32>
  return
}

// -----

func.func @paged(%q: tensor<2x8x1x64xbf16>, %k: tensor<10x16x2x64xbf16>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op checks its block table on the host (checked mode, CPU only); the GPU kernels clamp table entries and lengths into range: compile without `checked` for the GPU}}
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {page_size = 16, checked} : tensor<2x8x1x64xbf16>, tensor<10x16x2x64xbf16>, tensor<10x16x2x64xbf16> -> tensor<2x8x1x64xbf16>, tensor<2x8x1xf32>
  return
}

// -----

func.func @varlen(%q: tensor<1x2x10x64xbf16>, %c: tensor<3xi32>) {
  // expected-error @+1 {{'tessera.attention' op checks its prefix sums on the host (checked mode, CPU only); the GPU kernels clamp each sequence's rows into the pack: compile without `checked` for the GPU}}
  %o, %l = tessera.attention %q, %q, %q varlen(%c, %c : tensor<3xi32>, tensor<3xi32>) {checked} : tensor<1x2x10x64xbf16>, tensor<1x2x10x64xbf16>, tensor<1x2x10x64xbf16> -> tensor<1x2x10x64xbf16>, tensor<1x2x10xf32>
  return
}
