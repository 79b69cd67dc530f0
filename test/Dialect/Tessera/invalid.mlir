// Every verifier and parser branch of the tessera dialect, with its full message.
// RUN: tessera-opt %s -split-input-file -verify-diagnostics

// Query must be rank 4.
func.func @f(%q: tensor<8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op query must have rank 4 [B, Hq, Sq, D], got rank 3}}
  %o, %l = tessera.attention %q, %k, %v : tensor<8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<8x128x64xf32>, tensor<8x128xf32>
  return
}

// -----

// Key must be rank 4.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key must have rank 4 [B, Hkv, Skv, D], got rank 3}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Value must be rank 4.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op value must have rank 4 [B, Hkv, Skv, Dv], got rank 3}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Graded quantization is a weight format, not a KV format.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: !tessera.qtensor<1x2x128x64xf32, #tessera.quant<graded, bits = 4>>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key cannot be stored in 'graded' quantization (a weight format)}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, !tessera.qtensor<1x2x128x64xf32, #tessera.quant<graded, bits = 4>>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Key element type must match the query's.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf16>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key element type ('f16') must match query element type ('f32')}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf16>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Value element type must match the query's.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xbf16>) {
  // expected-error @+1 {{'tessera.attention' op value element type ('bf16') must match query element type ('f32')}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xbf16> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Batch sizes must agree.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<2x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op batch sizes must agree: query 1, key 2, value 1}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<2x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Value heads must equal key heads.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x4x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op value head count (4) must equal key head count (2)}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x4x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Zero key heads.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x0x128x64xf32>, %v: tensor<1x0x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key head count must be positive}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x0x128x64xf32>, tensor<1x0x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// GQA: key heads must divide query heads.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x3x128x64xf32>, %v: tensor<1x3x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key head count (3) must divide query head count (8)}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x3x128x64xf32>, tensor<1x3x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Head dims of Q and K must match.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x32xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op key head dim (32) must equal query head dim (64)}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x32xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// K and V lengths must match.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x100x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op value length (100) must equal key length (128)}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Output shape is [B, Hq, Sq, Dv].
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x32xf32>) {
  // expected-error @+1 {{'tessera.attention' op output shape [1, 8, 128, 64] must be [1, 8, 128, 32]}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x32xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Output element type follows the query.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op output element type ('f16') must be 'f32'}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf16>, tensor<1x8x128xf32>
  return
}

// -----

// LSE shape is [B, Hq, Sq].
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op lse shape [1, 2, 128] must be [1, 8, 128]}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x2x128xf32>
  return
}

// -----

// Window must be positive.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op window (0) must be positive}}
  %o, %l = tessera.attention %q, %k, %v {causal, window = 0} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Window needs causal.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op window (16) needs causal: the window bounds keys below the diagonal}}
  %o, %l = tessera.attention %q, %k, %v {window = 16} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Scale must be positive.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op scale (-1) must be positive and finite}}
  %o, %l = tessera.attention %q, %k, %v {scale = -1.0 : f32} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Block sizes must be positive.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op block sizes (block_q = 0, block_k = 64) must be positive}}
  %o, %l = tessera.attention %q, %k, %v {block_q = 0} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Mask rank is 3 or 4.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<2x2xi1>) {
  // expected-error @+1 {{'tessera.attention' op mask must have rank 3 [H, QB, KB] or 4 [B, H, QB, KB], got rank 2}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<2x2xi1>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Mask batch is 1 or B.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<3x1x2x2xi1>) {
  // expected-error @+1 {{'tessera.attention' op mask batch (3) must be 1 or the batch size (1)}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<3x1x2x2xi1>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Mask heads are 1, Hkv or Hq.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<4x2x2xi1>) {
  // expected-error @+1 {{'tessera.attention' op mask head count (4) must be 1, the key head count (2) or the query head count (8)}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<4x2x2xi1>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Boolean mask grid must match the block grid.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<8x2x3xi1>) {
  // expected-error @+1 {{'tessera.attention' op mask block grid [2, 3] must be [2, 2] for Sq = 128, Skv = 128, block_q = 64, block_k = 64}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<8x2x3xi1>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Packed mask grid counts 32 blocks per word.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<1x8x2xi32>) {
  // expected-error @+1 {{'tessera.attention' op mask block grid [8, 2] must be [8, 1] for Sq = 128, Skv = 128, block_q = 16, block_k = 16 (8 key blocks packed 32 per i32 word)}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<1x8x2xi32>) {block_q = 16, block_k = 16} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Element types outside f32/f16/bf16 are rejected.
func.func @f(%q: tensor<1x8x128x64xi32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op operand #0 must be ranked tensor of 32-bit float or 16-bit float or bfloat16 type values, but got 'tensor<1x8x128x64xi32>'}}
  %o, %l = tessera.attention %q, %k, %v : tensor<1x8x128x64xi32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Masks are i1 or i32.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<8x2x2xf32>) {
  // expected-error @+1 {{'tessera.attention' op operand #3 must be block mask (i1 per block, or i32 words of 32 bit-packed blocks) of 1-bit signless integer or 32-bit signless integer values, but got 'tensor<8x2x2xf32>'}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<8x2x2xf32>) : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// A mask operand and a static topology exclude each other.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>, %m: tensor<8x2x2xi1>) {
  // expected-error @+1 {{'tessera.attention' op takes a mask operand or a static topology, not both}}
  %o, %l = tessera.attention %q, %k, %v mask(%m : tensor<8x2x2xi1>) {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 1, 2], indices = [0, 1]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// The topology grid matches the blocks.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op topology block grid [2, 2] must be [4, 4]}}
  %o, %l = tessera.attention %q, %k, %v {block_q = 32, block_k = 32, topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 1, 2], indices = [0, 1]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Topology heads are 1, Hkv or Hq.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op topology head count (3) must be 1, the key head count (2) or the query head count (8)}}
  %o, %l = tessera.attention %q, %k, %v {topology = #tessera.block_topology<batch = 1, heads = 3, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 0, 0, 0, 0, 0], indices = []>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Topology batch is 1 or B.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>, %v: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op topology batch (2) must be 1 or the batch size (1)}}
  %o, %l = tessera.attention %q, %k, %v {topology = #tessera.block_topology<batch = 2, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 0, 0, 0, 0], indices = []>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Query must be rank 4.
func.func @f(%q: tensor<256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op query must have rank 4 [B, Hq, Sq, D], got rank 2}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Key element type must match.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xbf16>) {
  // expected-error @+1 {{'tessera.block_select' op key element type ('bf16') must match query element type ('f32')}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xbf16> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Batch must match.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<2x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op key batch (2) must equal query batch (1)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<2x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// GQA: key heads divide query heads.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x3x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op key head count (3) must divide query head count (8)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x3x256x64xf32> -> tensor<1x3x4x1xi32>, tensor<1x3x4xi32>
  return
}

// -----

// Head dims must match.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x32xf32>) {
  // expected-error @+1 {{'tessera.block_select' op key head dim (32) must equal query head dim (64)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x32xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Block sizes must be positive.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op block sizes (block_q = 64, block_k = -1) must be positive}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, block_k = -1} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Neither top_k nor top_p.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs exactly one of top_k and top_p}}
  %m, %n = tessera.block_select %q, %k {causal} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Both top_k and top_p.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op needs exactly one of top_k and top_p}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, top_p = 0.5 : f32} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// top_k must be positive.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op top_k (0) must be positive}}
  %m, %n = tessera.block_select %q, %k {top_k = 0} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// top_p is a probability.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op top_p (1.5) must be in (0, 1]}}
  %m, %n = tessera.block_select %q, %k {top_p = 1.5 : f32} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// layer_top_p is a probability.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op layer_top_p (0) must be in (0, 1]}}
  %m, %n = tessera.block_select %q, %k {top_p = 0.5 : f32, layer_top_p = 0.0 : f32} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// layer_top_p caps top_p.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op layer_top_p needs top_p (dual top-p caps a per-query top-p)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, layer_top_p = 0.5 : f32} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Sink blocks are non-negative.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op sink_blocks (-1) must be non-negative}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, sink_blocks = -1} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Concatenated pooling needs projections.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op pool max_min_avg needs the query and key projections (the pooled key is 3*D wide)}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, pool = #tessera<pool max_min_avg>} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Projections are rank 3.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %wq: tensor<64x16xf32>, %wk: tensor<2x64x16xf32>) {
  // expected-error @+1 {{'tessera.block_select' op query projection must have rank 3 [Hkv, D, P], got rank 2}}
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<64x16xf32>, tensor<2x64x16xf32>) {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Query projection is [Hkv, D, P].
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %wq: tensor<8x64x16xf32>, %wk: tensor<2x64x16xf32>) {
  // expected-error @+1 {{'tessera.block_select' op query projection shape [8, 64, 16] must be [2, 64, P]}}
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<8x64x16xf32>, tensor<2x64x16xf32>) {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Key projection is [Hkv, 3*D, P] for max_min_avg.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %wq: tensor<2x64x16xf32>, %wk: tensor<2x64x16xf32>) {
  // expected-error @+1 {{'tessera.block_select' op key projection shape [2, 64, 16] must be [2, 192, P]}}
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<2x64x16xf32>, tensor<2x64x16xf32>) {top_k = 2, pool = #tessera<pool max_min_avg>} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Projection widths agree.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %wq: tensor<2x64x16xf32>, %wk: tensor<2x64x8xf32>) {
  // expected-error @+1 {{'tessera.block_select' op projection widths must agree: query 16, key 8}}
  %m, %n = tessera.block_select %q, %k proj(%wq, %wk : tensor<2x64x16xf32>, tensor<2x64x8xf32>) {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Mask result is [B, Hkv, QB, ceil(KB/32)].
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op mask shape [1, 8, 4, 1] must be [1, 2, 4, 1]}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x8x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// Counts result is [B, Hkv, QB].
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op counts shape [1, 2, 3] must be [1, 2, 4]}}
  %m, %n = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x3xi32>
  return
}

// -----

// Projections come in pairs (generic form).
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>, %wq: tensor<2x64x16xf32>) {
  // expected-error @+1 {{'tessera.block_select' op query_proj and key_proj must be given together}}
  %m:2 = "tessera.block_select"(%q, %k, %wq) <{operandSegmentSizes = array<i32: 1, 1, 1, 0, 0, 0>, top_k = 2 : i64}> : (tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32>, tensor<2x64x16xf32>) -> (tensor<1x2x4x1xi32>, tensor<1x2x4xi32>)
  return
}

// -----

// Unknown scheme.
// expected-error @+1 {{unknown quantization scheme 'fp4' (expected int, tq_mse, block_gtq, lattice or graded)}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<fp4, bits = 4>>) {
  return
}

// -----

// A field the scheme does not take.
// expected-error @+1 {{unknown field 'group' for 'tq_mse' quantization (expected one of: bits, rotation, seed, norm)}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 4, group = 32>>) {
  return
}

// -----

// A field given twice.
// expected-error @+1 {{field 'bits' is given twice}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, bits = 2>>) {
  return
}

// -----

// Symmetric and asymmetric together.
// expected-error @+1 {{give one of 'symmetric' and 'asymmetric'}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, symmetric, asymmetric>>) {
  return
}

// -----

// Unknown rotation.
// expected-error @+1 {{unknown rotation 'dct' (expected none, hadamard or haar)}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = dct>>) {
  return
}

// -----

// Unknown lattice.
// expected-error @+1 {{unknown lattice 'leech' (expected e8, d4, a2 or z)}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<lattice, lattice = leech>>) {
  return
}

// -----

// Bits are required.
// expected-error @+1 {{'int' quantization needs 'bits'}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, group = 32>>) {
  return
}

// -----

// Lattice scale must be positive.
// expected-error @+1 {{lattice scale alpha (0) must be positive and finite}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<lattice, alpha = 0.0>>) {
  return
}

// -----

// One bit width for tq_mse.
// expected-error @+1 {{'tq_mse' quantization takes one bit width, got 2}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = [3, 4]>>) {
  return
}

// -----

// Bit widths are 1..8.
// expected-error @+1 {{bit width (9) must be in [1, 8]}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 9>>) {
  return
}

// -----

// Bit widths are 1..8 (zero).
// expected-error @+1 {{bit width (0) must be in [1, 8]}}
func.func @f(%x: !tessera.qtensor<4x4xf32, #tessera.quant<block_gtq, bits = [2, 0]>>) {
  return
}

// -----

// Groups are positive.
// expected-error @+1 {{quantization group (-8) must be positive}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, group = -8>>) {
  return
}

// -----

// TurboQuant needs a rotation.
// expected-error @+1 {{'tq_mse' quantization needs a random rotation (hadamard or haar), got none}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 4, rotation = none>>) {
  return
}

// -----

// Norms are f32 or f16.
// expected-error @+1 {{norm type ('bf16') must be f32 or f16}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<tq_mse, bits = 4, norm = bf16>>) {
  return
}

// -----

// Group must divide the quantized dim.
// expected-error @+1 {{quantization group (48) must divide the quantized dim (64)}}
func.func @f(%x: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4, group = 48>>) {
  return
}

// -----

// Block-GTQ needs an even head dim.
// expected-error @+1 {{block_gtq needs an even head dim (RoPE pairs), got 5}}
func.func @f(%x: !tessera.qtensor<4x5xf32, #tessera.quant<block_gtq, bits = [2, 2], rotation = haar>>) {
  return
}

// -----

// Block-GTQ needs D/2 widths.
// expected-error @+1 {{block_gtq needs one bit width per RoPE block: expected 4 (head dim 8 / 2), got 3}}
func.func @f(%x: !tessera.qtensor<4x8xf32, #tessera.quant<block_gtq, bits = [4, 2, 1]>>) {
  return
}

// -----

// Block-GTQ rotates each bit width's dims on their own: with Hadamard, each width's dim
// count (two per block) must be a power of two.
// expected-error @+1 {{block_gtq with hadamard rotation rotates the dims of each bit width on their own, so each width needs a power-of-two dim count; 2-bit blocks cover 6 dims (use rotation = haar)}}
func.func @f(%x: !tessera.qtensor<4x8xf32, #tessera.quant<block_gtq, bits = [2, 2, 2, 1]>>) {
  return
}

// -----

// A lattice's scale is given once: alpha, or the SNR it follows from.
// expected-error @+1 {{give one of 'alpha' and 'snr'}}
func.func @f(%x: !tessera.qtensor<4x8xf32, #tessera.quant<lattice, lattice = d4, alpha = 2.0, snr = 12.0>>) {
  return
}

// -----

// Dither is a lattice field.
// expected-error @+1 {{unknown field 'dither' for 'tq_mse' quantization (expected one of: bits, rotation, seed, norm)}}
func.func @f(%x: !tessera.qtensor<4x8xf32, #tessera.quant<tq_mse, bits = 3, dither>>) {
  return
}

// -----

// Lattice dim must divide the quantized dim.
// expected-error @+1 {{lattice dimension (8) must divide the quantized dim (100)}}
func.func @f(%x: !tessera.qtensor<4x100xf32, #tessera.quant<lattice, lattice = e8, rotation = haar>>) {
  return
}

// -----

// Hadamard needs a power of two.
// expected-error @+1 {{hadamard rotation needs a power-of-two quantized dim, got 96 (use rotation = haar)}}
func.func @f(%x: !tessera.qtensor<4x96xf32, #tessera.quant<tq_mse, bits = 3>>) {
  return
}

// -----

// Element type is a float.
// expected-error @+1 {{qtensor element type ('i8') must be f32, f16 or bf16}}
func.func @f(%x: !tessera.qtensor<4x64xi8, #tessera.quant<int, bits = 4>>) {
  return
}

// -----

// Rank 0 has no quantized dim.
// expected-error @+1 {{qtensor must have rank >= 1 (the last dim is quantized)}}
func.func @f(%x: !tessera.qtensor<f32, #tessera.quant<int, bits = 4>>) {
  return
}

// -----

// Quantized dim must be static.
// expected-error @+1 {{the quantized (last) dim of a qtensor must be static}}
func.func @f(%x: !tessera.qtensor<4x?xf32, #tessera.quant<int, bits = 4>>) {
  return
}

// -----

// Topology dims are positive.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology dims (batch 0, heads 1, query_blocks 2, key_blocks 2) must be positive}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 0, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0], indices = []>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// One offset per row plus one.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology needs 3 offsets (one per row plus one), got 2}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 1], indices = [0]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Offsets span the indices.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology offsets must run from 0 to the number of indices (2), got 0 .. 1}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 1, 1], indices = [0, 1]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Offsets never decrease.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology offsets must not decrease (row 1)}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 2, 1], indices = [0]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Indices are key blocks.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology index (2) must be in [0, 2)}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 1, 2], indices = [0, 2]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Indices ascend within a row.
func.func @f(%q: tensor<1x8x128x64xf32>, %k: tensor<1x2x128x64xf32>) {
  // expected-error @+1 {{block topology indices must ascend within a row (row 0)}}
  %o, %l = tessera.attention %q, %k, %k {topology = #tessera.block_topology<batch = 1, heads = 1, query_blocks = 2, key_blocks = 2, offsets = [0, 2, 2], indices = [1, 0]>} : tensor<1x8x128x64xf32>, tensor<1x2x128x64xf32>, tensor<1x2x128x64xf32> -> tensor<1x8x128x64xf32>, tensor<1x8x128xf32>
  return
}

// -----

// Quantize keeps the shape.
func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'tessera.quantize' op input shape [4, 64] must equal the packed shape [8, 64]}}
  %p = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<8x64xf32, #tessera.quant<int, bits = 4>>
  return
}

// -----

// Quantize keeps the element type.
func.func @f(%x: tensor<4x64xf32>) {
  // expected-error @+1 {{'tessera.quantize' op input element type ('f32') must equal the packed element type ('bf16')}}
  %p = tessera.quantize %x : tensor<4x64xf32> -> !tessera.qtensor<4x64xbf16, #tessera.quant<int, bits = 4>>
  return
}

// -----

// Dequantize returns the logical shape.
func.func @f(%p: !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4>>) {
  // expected-error @+1 {{'tessera.dequantize' op output shape [4, 32] must equal the packed shape [4, 64]}}
  %x = tessera.dequantize %p : !tessera.qtensor<4x64xf32, #tessera.quant<int, bits = 4>> -> tensor<4x32xf32>
  return
}

// -----

// Rank 0 has no last dim.
func.func @f(%x: tensor<f32>) {
  // expected-error @+1 {{'tessera.hadamard' op input must have rank >= 1 (the transform runs along the last dim)}}
  %y = tessera.hadamard %x : tensor<f32>
  return
}

// -----

// The last dim must be static.
func.func @f(%x: tensor<4x?xf32>) {
  // expected-error @+1 {{'tessera.hadamard' op the transformed (last) dim must be static}}
  %y = tessera.hadamard %x : tensor<4x?xf32>
  return
}

// -----

// The last dim must be a power of two.
func.func @f(%x: tensor<4x96xf32>) {
  // expected-error @+1 {{'tessera.hadamard' op the transformed (last) dim (96) must be a power of two}}
  %y = tessera.hadamard %x : tensor<4x96xf32>
  return
}

// -----

// Energies need a block dim.
func.func @f(%s: tensor<f32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op energies must have rank >= 1 (the last dim lists RoPE blocks)}}
  %b = tessera.bit_allocate %s : tensor<f32> -> tensor<i32>
  return
}

// -----

// Bits mirror the energies.
func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op bits shape [8] must equal energies shape [4]}}
  %b = tessera.bit_allocate %s : tensor<4xf32> -> tensor<8xi32>
  return
}

// -----

// min_bits in 1..8.
func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op min_bits (0) must be in [1, 8]}}
  %b = tessera.bit_allocate %s {min_bits = 0} : tensor<4xf32> -> tensor<4xi32>
  return
}

// -----

// max_bits in 1..8.
func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op max_bits (9) must be in [1, 8]}}
  %b = tessera.bit_allocate %s {max_bits = 9} : tensor<4xf32> -> tensor<4xi32>
  return
}

// -----

// min_bits <= max_bits.
func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op min_bits (4) must not exceed max_bits (2)}}
  %b = tessera.bit_allocate %s {min_bits = 4, max_bits = 2, avg_bits = 3.0 : f64} : tensor<4xf32> -> tensor<4xi32>
  return
}

// -----

// avg_bits within [min, max].
func.func @f(%s: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.bit_allocate' op avg_bits (9) must be in [min_bits, max_bits] = [1, 8]}}
  %b = tessera.bit_allocate %s {avg_bits = 9.0 : f64} : tensor<4xf32> -> tensor<4xi32>
  return
}

// -----

// Keys are rank 4.
func.func @f(%k: tensor<2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op keys must have rank 4 [B, Hkv, S, D], got rank 3}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Graded is not a KV format.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: !tessera.qtensor<1x2x1024x64xf32, #tessera.quant<graded, bits = 2>>) {
  // expected-error @+1 {{'tessera.evict' op values cannot be stored in 'graded' quantization (a weight format)}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, !tessera.qtensor<1x2x1024x64xf32, #tessera.quant<graded, bits = 2>> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Values match keys but for the last dim.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x512x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op values shape [1, 2, 512, 64] must match keys shape [1, 2, 1024, 64] in all but the last dim}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x512x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// SnapKV needs the observation queries.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy snapkv needs a query operand}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Sink+window takes no query.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy sink_window takes no query operand}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// H2O needs accumulated scores.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy h2o needs a scores operand (accumulated attention)}}
  %i, %k2, %v2 = tessera.evict h2o %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Only H2O takes scores.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %s: tensor<1x2x1024xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy sink_window takes no scores operand}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v scores(%s : tensor<1x2x1024xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Fields of another policy are rejected.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op field 'heads' does not apply to policy snapkv}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, heads = array<i64: 1>} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Reservoir has no window.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op field 'window' does not apply to policy reservoir}}
  %i, %k2, %v2 = tessera.evict reservoir %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, window = 4} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Budget must be positive.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op budget (0) must be positive}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 0} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x0xi64>, tensor<1x2x0x64xf32>, tensor<1x2x0x64xf32>
  return
}

// -----

// Sinks are non-negative.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op sinks (-1) must be non-negative}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, sinks = -1} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Window is non-negative.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op window (-4) must be non-negative}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, window = -4} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Budget covers sinks + window.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op budget (256) must be at least sinks + window (4 + 512)}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, window = 512} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// SnapKV's default window counts too.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op budget (16) must be at least sinks + window (0 + 32)}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 16} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x16xi64>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32>
  return
}

// -----

// Pooling kernel is odd.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op pooling kernel (4) must be positive and odd}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, kernel = 4} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Walk steps are non-negative.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op steps (-1) must be non-negative}}
  %i, %k2, %v2 = tessera.evict reservoir %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, steps = -1} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Walk decay is in [0, 1].
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op gamma (2) must be in [0, 1]}}
  %i, %k2, %v2 = tessera.evict reservoir %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, gamma = 2.0 : f32} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Query is rank 4.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op query must have rank 4 [B, Hq, Sw, D], got rank 3}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<8x32x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Query shape is [B, Hq, Sw, D].
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x32xf32>) {
  // expected-error @+1 {{'tessera.evict' op query shape [1, 8, 32, 32] must be [1, Hq, Sw, 64]}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x32xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Query heads are a multiple of KV heads.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x3x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op key head count (2) must divide query head count (3)}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x3x32x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Query element type matches keys.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xbf16>) {
  // expected-error @+1 {{'tessera.evict' op query element type ('bf16') must match key element type ('f32')}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xbf16>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// An explicit sink_window window must fill the budget.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op sink_window keeps sinks + window tokens: budget (256) must equal 4 + 100}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, window = 100} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// The RNG counters belong to the reservoir.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op field 'layer' does not apply to policy sink_window}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, layer = 2} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op field 'step' does not apply to policy snapkv}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, step = 1} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Only h2o returns kept scores.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy sink_window returns no kept scores (only h2o does)}}
  %i, %k2, %v2, %s2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256xf32>
  return
}

// -----

// Kept scores are [B, Hkv, n].
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %s: tensor<1x2x1024xf32>) {
  // expected-error @+1 {{'tessera.evict' op kept scores shape [1, 2, 1024] must be [1, 2, 200]}}
  %i, %k2, %v2, %s2 = tessera.evict h2o %k, %v scores(%s : tensor<1x2x1024xf32>) {budget = 200} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x200xi64>, tensor<1x2x200x64xf32>, tensor<1x2x200x64xf32>, tensor<1x2x1024xf32>
  return
}

// -----

// The observation window needs that many query rows.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x16x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op query holds 16 rows but the observation window is 32}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<1x8x16x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Ranked heads index query heads.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op head index (8) must be in [0, 8)}}
  %i, %k2, %v2 = tessera.evict compresskv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, heads = array<i64: 8>} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x1x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// CompressKV needs ranked heads.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op policy compresskv needs 'heads' (the ranked retrieval heads)}}
  %i, %k2, %v2 = tessera.evict compresskv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x1x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// first_k picks from the ranked heads.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %q: tensor<1x8x32x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op first_k (4) must be in [1, 2] (the number of ranked heads)}}
  %i, %k2, %v2 = tessera.evict compresskv %k, %v query(%q : tensor<1x8x32x64xf32>) {budget = 256, heads = array<i64: 0, 1>} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x1x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Scores are [B, Hkv, S].
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %s: tensor<1x2x512xf32>) {
  // expected-error @+1 {{'tessera.evict' op scores shape [1, 2, 512] must be [1, 2, 1024]}}
  %i, %k2, %v2 = tessera.evict h2o %k, %v scores(%s : tensor<1x2x512xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Per-layer eviction returns one index row.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op indices shape [1, 2, 256] must be [1, 1, 256]}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, scope = #tessera<evict_scope per_layer>} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Kept count is min(budget, S).
func.func @f(%k: tensor<1x2x100x64xf32>, %v: tensor<1x2x100x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op indices shape [1, 2, 256] must be [1, 2, 100]}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Compaction keeps the storage format.
func.func @f(%k: !tessera.qtensor<1x2x1024x64xf32, #tessera.quant<int, bits = 4>>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op kept keys type ('tensor<1x2x256x64xf32>') must keep the storage of its input ('!tessera.qtensor<1x2x1024x64xf32, #tessera.quant<int, bits = 4, symmetric>>')}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : !tessera.qtensor<1x2x1024x64xf32, #tessera.quant<int, bits = 4>>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// Kept values have the kept length.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op kept values shape [1, 2, 128, 64] must be [1, 2, 256, 64]}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x128x64xf32>
  return
}

// -----

// Paged pools are [P, page_size, Hkv, D].
func.func @f(%k: tensor<64x16x128xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op keys must have rank 4 [P, page_size, Hkv, D], got rank 3}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x128xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x128xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// Paged K/V name their page size.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op paged K/V need a positive page_size attribute}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The page size is the pools' dim 1.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op key and value pool pages hold 16 tokens; page_size is 32}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 32, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The key and value pools have the same pages.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<32x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op values shape [32, 16, 2, 64] must match keys shape [64, 16, 2, 64] in all but the last dim}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<32x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<32x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The block table is [B, max_pages].
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<32xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op block table must have rank 2 [B, max_pages], got rank 1}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<32xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// kv_lens is [B].
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4x1xi32>) {
  // expected-error @+1 {{'tessera.evict' op kv_lens must have rank 1 [B], got rank 2}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4x1xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// Block table entries are i32.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi64>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op block table element type ('i64') must be i32}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi64>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// Lengths are i32.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi64>) {
  // expected-error @+1 {{'tessera.evict' op kv_lens element type ('i64') must be i32}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi64>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// One length per row of the block table.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<3xi32>) {
  // expected-error @+1 {{'tessera.evict' op kv_lens holds 3 lengths but the block table 4 sequences}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<3xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The query's batch is the block table's.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<2x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op query shape [2, 8, 1, 64] must be [4, Hq, Sw, 64]}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<2x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The budget rules hold for paged caches too (snapkv's default window is 32).
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op budget (16) must be at least sinks + window (0 + 32)}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 16, page_size = 16} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x16xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// Paged indices have budget slots per set.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op indices shape [4, 2, 40] must be [4, 2, 48]}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x40xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>
  return
}

// -----

// The compacted pools have the input pools' types.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op kept values type ('tensor<64x16x2x64xbf16>') must equal its input pool's ('tensor<64x16x2x64xf32>')}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xbf16>, tensor<4xi32>
  return
}

// -----

// Paged eviction returns the new lengths.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op paged eviction returns the new lengths [B] i32 as its last result}}
  %i, %k2, %v2 = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>
  return
}

// -----

// The new lengths are [B].
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op new lengths shape [3] must be [4]}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<3xi32>
  return
}

// -----

// The new lengths are i32.
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op new lengths element type ('i64') must be 'i32'}}
  %i, %k2, %v2, %n = tessera.evict snapkv %k, %v query(%q : tensor<4x8x1x64xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16, window = 1} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi64>
  return
}

// -----

// Paged h2o scores are [B, Hkv, max_pages * page_size].
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %s: tensor<4x2x100xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op scores shape [4, 2, 100] must be [4, 2, 128]}}
  %i, %k2, %v2, %s2, %n = tessera.evict h2o %k, %v scores(%s : tensor<4x2x100xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4x2x48xf32>, tensor<4xi32>
  return
}

// -----

// Paged kept scores are [B, Hkv, budget].
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %s: tensor<4x2x128xf32>, %t: tensor<4x8xi32>, %l: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.evict' op kept scores shape [4, 2, 40] must be [4, 2, 48]}}
  %i, %k2, %v2, %s2, %n = tessera.evict h2o %k, %v scores(%s : tensor<4x2x128xf32>) paged(%t, %l : tensor<4x8xi32>, tensor<4xi32>) {budget = 48, page_size = 16} : tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32> -> tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4x2x40xf32>, tensor<4xi32>
  return
}

// -----

// After the kept values come at most the kept scores and (paged) the new lengths.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>, %s: tensor<1x2x1024xf32>) {
  // expected-error @+1 {{custom op 'tessera.evict' too many result types after the kept values: expected the kept scores only (new lengths come with paged K/V)}}
  %i, %k2, %v2, %s2, %n = tessera.evict h2o %k, %v scores(%s : tensor<1x2x1024xf32>) {budget = 256} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1x2x256xf32>, tensor<1xi32>
  return
}

// -----

// page_size goes with paged K/V.
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op page_size goes with a block table (paged K/V)}}
  %i, %k2, %v2 = tessera.evict sink_window %k, %v {budget = 256, page_size = 16} : tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32> -> tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>
  return
}

// -----

// The block table and the lengths go together (generic form).
func.func @f(%k: tensor<64x16x2x64xf32>, %v: tensor<64x16x2x64xf32>, %q: tensor<4x8x1x64xf32>, %t: tensor<4x8xi32>) {
  // expected-error @+1 {{'tessera.evict' op block_table and kv_lens go together (paged K/V)}}
  %r:4 = "tessera.evict"(%k, %v, %q, %t) <{budget = 48 : i64, operandSegmentSizes = array<i32: 1, 1, 1, 0, 1, 0>, page_size = 16 : i64, policy = #tessera<evict_policy snapkv>, resultSegmentSizes = array<i32: 1, 1, 1, 0, 1>, window = 1 : i64}> : (tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4x8x1x64xf32>, tensor<4x8xi32>) -> (tensor<4x2x48xi64>, tensor<64x16x2x64xf32>, tensor<64x16x2x64xf32>, tensor<4xi32>)
  return
}

// -----

// Only paged eviction returns new lengths (generic form).
func.func @f(%k: tensor<1x2x1024x64xf32>, %v: tensor<1x2x1024x64xf32>) {
  // expected-error @+1 {{'tessera.evict' op only paged eviction returns new lengths}}
  %r:4 = "tessera.evict"(%k, %v) <{budget = 256 : i64, operandSegmentSizes = array<i32: 1, 1, 0, 0, 0, 0>, policy = #tessera<evict_policy sink_window>, resultSegmentSizes = array<i32: 1, 1, 1, 0, 1>}> : (tensor<1x2x1024x64xf32>, tensor<1x2x1024x64xf32>) -> (tensor<1x2x256xi64>, tensor<1x2x256x64xf32>, tensor<1x2x256x64xf32>, tensor<1xi32>)
  return
}

// -----

// Unknown optimizer.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{unknown optimizer 'lion' (expected sgd, adam or adamw)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<lion>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Unknown optimizer field.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{unknown field 'betas' for optimizer 'adamw' (expected one of: lr, beta1, beta2, eps, weight_decay, stochastic_rounding)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<adamw, betas = 0.9>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Adam fields do not apply to SGD.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{unknown field 'beta1' for optimizer 'sgd' (expected one of: lr, momentum, dampening, weight_decay, stochastic_rounding)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, beta1 = 0.9>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Global-norm clipping is not element-wise.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'max_grad_norm' is not supported: global-norm clipping needs the norm of the whole weight gradient, which a fused update never materialises; clip dy before the backward or use an unfused update}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<adamw, max_grad_norm = 1.0>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Gradient accumulation is not element-wise.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'accumulate_steps' is not supported: gradient accumulation keeps the weight gradient across steps, which a fused update never materialises; accumulate dy instead}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, accumulate_steps = 4.0>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// A field given twice.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{field 'lr' is given twice}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1, lr = 0.2>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Learning rate is non-negative.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{optimizer field 'lr' (-0.1) must be in [0, inf]}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = -0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Momentum is below 1.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{optimizer field 'momentum' (1) must be in [0, 1)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, momentum = 1.0>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Betas are below 1.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{optimizer field 'beta2' (1.5) must be in [0, 1)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<adam, beta2 = 1.5>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Epsilon is positive.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{optimizer field 'eps' (0) must be positive}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<adam, eps = 0.0>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Input is [M, K].
func.func @f(%x: tensor<64xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op input must have rank 2 [M, K], got rank 1}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64xf32>, tensor<16x32xf32>)
  return
}

// -----

// dy rows equal x rows.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<32x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op grad_output rows (32) must equal input rows (64)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<32x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// dy columns equal W rows.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x8xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op grad_output columns (8) must equal weight rows (16)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x8xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// W columns equal x columns.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x16xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op weight columns (16) must equal input columns (32)}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x16xf32>, i64) -> (tensor<64x32xf32>, tensor<16x16xf32>)
  return
}

// -----

// dy element type matches x.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xbf16>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op grad_output element type ('bf16') must match input element type ('f32')}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xbf16>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Stochastic rounding is for bf16 weights.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op stochastic_rounding needs a bf16 weight, got 'f32'}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, stochastic_rounding>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// SGD with momentum carries one state tensor.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op optimizer sgd with momentum needs 1 state tensors, got 0}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, momentum = 0.9>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// Adam carries two state tensors.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64, %s0: tensor<16x32xf32>) {
  // expected-error @+1 {{'tessera.linear_backward_update' op optimizer adam needs 2 state tensors, got 1}}
  %r:3 = tessera.linear_backward_update %x, %dy, %w, %t state(%s0) {optimizer = #tessera.optimizer<adam>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<16x32xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// State is shaped like W.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64, %s0: tensor<32x16xf32>) {
  // expected-error @+1 {{'tessera.linear_backward_update' op state #0 shape [32, 16] must equal the weight shape [16, 32]}}
  %r:3 = tessera.linear_backward_update %x, %dy, %w, %t state(%s0) {optimizer = #tessera.optimizer<sgd, momentum = 0.9>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<32x16xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>, tensor<32x16xf32>)
  return
}

// -----

// Every state tensor is returned.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64, %s0: tensor<16x32xf32>) {
  // expected-error @+1 {{'tessera.linear_backward_update' op returns 0 state tensors, must return 1}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t state(%s0) {optimizer = #tessera.optimizer<sgd, momentum = 0.9>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<16x32xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>)
  return
}

// -----

// dx is shaped like x.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op grad_input shape [32, 64] must be [64, 32]}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<32x64xf32>, tensor<16x32xf32>)
  return
}

// -----

// W' is shaped like W.
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64) {
  // expected-error @+1 {{'tessera.linear_backward_update' op new_weight element type ('bf16') must be 'f32'}}
  %r:2 = tessera.linear_backward_update %x, %dy, %w, %t {optimizer = #tessera.optimizer<sgd, lr = 0.1>} : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64) -> (tensor<64x32xf32>, tensor<16x32xbf16>)
  return
}

// -----

// New state has the state's types (generic form).
func.func @f(%x: tensor<64x32xf32>, %dy: tensor<64x16xf32>, %w: tensor<16x32xf32>, %t: i64, %b: tensor<16x32xf32>) {
  // expected-error @+1 {{'tessera.linear_backward_update' op new state #0 type ('tensor<16x?xf32>') must equal state #0 type ('tensor<16x32xf32>')}}
  %r:3 = "tessera.linear_backward_update"(%x, %dy, %w, %t, %b) <{optimizer = #tessera.optimizer<sgd, momentum = 0.9>}> : (tensor<64x32xf32>, tensor<64x16xf32>, tensor<16x32xf32>, i64, tensor<16x32xf32>) -> (tensor<64x32xf32>, tensor<16x32xf32>, tensor<16x?xf32>)
  return
}

// -----

// Graph body arguments mirror its operands.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task_graph' op body arguments (2) must have the operand types (1)}}
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>, %b: tensor<4xf32>):
    tessera.yield %a : tensor<4xf32>
  }
  return
}

// -----

// Graph body ends with tessera.yield.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task_graph' op body must end with tessera.yield}}
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    llvm.unreachable
  }
  return
}

// -----

// The yield matches the graph's results.
func.func @f(%x: tensor<4xf32>) {
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'tessera.yield' op yields 0 values whose types must match the 1 results of the enclosing tessera.task_graph}}
    tessera.yield
  }
  return
}

// -----

// Workers are positive.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task_graph' op workers (0) must be positive}}
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> attributes {workers = 0} {
  ^bb0(%a: tensor<4xf32>):
    tessera.yield %a : tensor<4xf32>
  }
  return
}

// -----

// Iterations are positive.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task_graph' op iterations (0) must be positive}}
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> attributes {iterations = 0} {
  ^bb0(%a: tensor<4xf32>):
    tessera.yield %a : tensor<4xf32>
  }
  return
}

// -----

// Replayed graphs feed results back as inputs.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task_graph' op iterations (2) > 1 feeds each iteration's results back as inputs, so result types must equal input types}}
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<8xf32> attributes {iterations = 2} {
  ^bb0(%a: tensor<4xf32>):
    %c = tessera.task "widen"(%a : tensor<4xf32>) -> tensor<8xf32> {
    ^bb0(%b: tensor<4xf32>):
      %e = tensor.empty() : tensor<8xf32>
      tessera.yield %e : tensor<8xf32>
    }
    tessera.yield %c : tensor<8xf32>
  }
  return
}

// -----

// Only tasks live directly in a graph.
func.func @f(%x: tensor<4xf32>) {
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'tessera.hadamard' op cannot appear directly in a tessera.task_graph (only tessera.task ops and the yield may)}}
    %h = tessera.hadamard %a : tensor<4xf32>
    tessera.yield %h : tensor<4xf32>
  }
  return
}

// -----

// Tiles are positive.
func.func @f(%x: tensor<4xf32>) {
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'tessera.task' op tiles (0) must be positive}}
    %c = tessera.task "t"(%a : tensor<4xf32>) -> tensor<4xf32> attributes {tiles = 0} {
    ^bb0(%b: tensor<4xf32>):
      tessera.yield %b : tensor<4xf32>
    }
    tessera.yield %c : tensor<4xf32>
  }
  return
}

// -----

// Tasks are named.
func.func @f(%x: tensor<4xf32>) {
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'tessera.task' op name must not be empty}}
    %c = tessera.task ""(%a : tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<4xf32>):
      tessera.yield %b : tensor<4xf32>
    }
    tessera.yield %c : tensor<4xf32>
  }
  return
}

// -----

// Task body arguments mirror its operands.
func.func @f(%x: tensor<4xf32>) {
  %r = tessera.task_graph(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%a: tensor<4xf32>):
    // expected-error @+1 {{'tessera.task' op body arguments (1) must have the operand types (1)}}
    %c = tessera.task "t"(%a : tensor<4xf32>) -> tensor<4xf32> {
    ^bb0(%b: tensor<8xf32>):
      tessera.yield %b : tensor<8xf32>
    }
    tessera.yield %c : tensor<4xf32>
  }
  return
}

// -----

// Tasks live in task graphs.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.task' op expects parent op 'tessera.task_graph'}}
  %c = tessera.task "t"(%x : tensor<4xf32>) -> tensor<4xf32> {
  ^bb0(%b: tensor<4xf32>):
    tessera.yield %b : tensor<4xf32>
  }
  return
}

// -----

// Yield lives in tasks and graphs.
func.func @f(%x: tensor<4xf32>) {
  // expected-error @+1 {{'tessera.yield' op expects parent op to be one of 'tessera.task, tessera.task_graph'}}
  tessera.yield %x : tensor<4xf32>
  return
}

// -----

// A work item never straddles two mask rows: the tile divides block_q.
func.func @f(%q: tensor<1x2x100x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op tile query rows (24) must be positive and divide block_q (64)}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 24>} : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return
}

// -----

// GPU warps own 16 rows each.
func.func @f(%q: tensor<1x2x100x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op tile warps (4) must be 0 (CPU) or own 16 query rows each (query = 32)}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 32, warps = 4>} : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return
}

// -----

func.func @f(%q: tensor<1x2x100x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op tile query rows (0) must be positive and divide block_q (64)}}
  %o, %l = tessera.attention %q, %q, %q {tile = #tessera.tile<query = 0>} : tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32>, tensor<1x2x100x64xf32> -> tensor<1x2x100x64xf32>, tensor<1x2x100xf32>
  return
}

// -----

// Paged K/V need a page size.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<10x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op paged K/V need a positive page_size attribute}}
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) : tensor<2x8x1x64xf32>, tensor<10x16x2x64xf32>, tensor<10x16x2x64xf32> -> tensor<2x8x1x64xf32>, tensor<2x8x1xf32>
  return
}

// -----

// Pages of the pool must hold page_size tokens.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<10x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op key pages hold 16 tokens; page_size is 32}}
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {page_size = 32} : tensor<2x8x1x64xf32>, tensor<10x16x2x64xf32>, tensor<10x16x2x64xf32> -> tensor<2x8x1x64xf32>, tensor<2x8x1xf32>
  return
}

// -----

// The block table has a row per sequence.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<10x16x2x64xf32>, %t: tensor<3x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op block table ('tensor<3x4xi32>') and kv_lens ('tensor<2xi32>') must have the query batch (2) rows}}
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<3x4xi32>, tensor<2xi32>) {page_size = 16} : tensor<2x8x1x64xf32>, tensor<10x16x2x64xf32>, tensor<10x16x2x64xf32> -> tensor<2x8x1x64xf32>, tensor<2x8x1xf32>
  return
}

// -----

// A rank-1 table is not a block table.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<10x16x2x64xf32>, %t: tensor<2xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op paged K/V take a block table [B, max_pages] and kv_lens [B]; got 'tensor<2xi32>' and 'tensor<2xi32>'}}
  %o, %l = tessera.attention %q, %k, %k paged(%t, %n : tensor<2xi32>, tensor<2xi32>) {page_size = 16} : tensor<2x8x1x64xf32>, tensor<10x16x2x64xf32>, tensor<10x16x2x64xf32> -> tensor<2x8x1x64xf32>, tensor<2x8x1xf32>
  return
}

// -----

// A page size without a block table.
func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op page_size and kv_lens go with a block table (paged K/V)}}
  %o, %l = tessera.attention %q, %k, %k {page_size = 16} : tensor<1x8x1x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x1xf32>
  return
}

// -----

// Key and value pools have the same pages.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<10x16x2x64xf32>, %v: tensor<11x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.attention' op key and value pools must have as many pages: 10 vs 11}}
  %o, %l = tessera.attention %q, %k, %v paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {page_size = 16} : tensor<2x8x1x64xf32>, tensor<10x16x2x64xf32>, tensor<11x16x2x64xf32> -> tensor<2x8x1x64xf32>, tensor<2x8x1xf32>
  return
}

// -----

// At least one key-range chunk.
func.func @f(%q: tensor<1x8x1x64xf32>, %k: tensor<1x2x16x64xf32>) {
  // expected-error @+1 {{'tessera.attention' op tile kv_splits (0) must be at least 1}}
  %o, %l = tessera.attention %q, %k, %k {tile = #tessera.tile<query = 8, kv_splits = 0>} : tensor<1x8x1x64xf32>, tensor<1x2x16x64xf32>, tensor<1x2x16x64xf32> -> tensor<1x8x1x64xf32>, tensor<1x8x1xf32>
  return
}

// -----

// Varlen packs every sequence in batch 1.
func.func @f(%q: tensor<2x8x10x64xf32>, %k: tensor<2x2x10x64xf32>, %c: tensor<3xi32>) {
  // expected-error @+1 {{'tessera.attention' op varlen packs every sequence in one row: Q, K and V must have batch 1 ([1, H, total, D]); got 2, 2, 2}}
  %o, %l = tessera.attention %q, %k, %k varlen(%c, %c : tensor<3xi32>, tensor<3xi32>) : tensor<2x8x10x64xf32>, tensor<2x2x10x64xf32>, tensor<2x2x10x64xf32> -> tensor<2x8x10x64xf32>, tensor<2x8x10xf32>
  return
}

// -----

// Both prefix sums have B + 1 entries.
func.func @f(%q: tensor<1x8x10x64xf32>, %k: tensor<1x2x10x64xf32>, %c: tensor<3xi32>, %d: tensor<4xi32>) {
  // expected-error @+1 {{'tessera.attention' op varlen takes two prefix sums [B + 1] of the same size; got 'tensor<3xi32>' and 'tensor<4xi32>'}}
  %o, %l = tessera.attention %q, %k, %k varlen(%c, %d : tensor<3xi32>, tensor<4xi32>) : tensor<1x8x10x64xf32>, tensor<1x2x10x64xf32>, tensor<1x2x10x64xf32> -> tensor<1x8x10x64xf32>, tensor<1x8x10xf32>
  return
}

// -----

// No block masks with varlen.
func.func @f(%q: tensor<1x8x10x64xf32>, %k: tensor<1x2x10x64xf32>, %c: tensor<3xi32>, %m: tensor<1x1x1xi1>) {
  // expected-error @+1 {{'tessera.attention' op varlen (ragged) attention takes no mask, topology or pages}}
  %o, %l = tessera.attention %q, %k, %k mask(%m : tensor<1x1x1xi1>) varlen(%c, %c : tensor<3xi32>, tensor<3xi32>) : tensor<1x8x10x64xf32>, tensor<1x2x10x64xf32>, tensor<1x2x10x64xf32> -> tensor<1x8x10x64xf32>, tensor<1x8x10xf32>
  return
}

// -----

// graded_matmul reads nested bit-planes: the weight must be graded.
func.func @f(%x: tensor<2x64xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<int, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op weight must be quantized with 'graded' (nested bit-planes), got 'int'}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<2x64xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<int, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// The weight is a matrix [N, K].
func.func @f(%x: tensor<2x64xf32>, %w: !tessera.qtensor<2x8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op weight must have rank 2 [N, K], got rank 3}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<2x64xf32>, !tessera.qtensor<2x8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// x has at least its channel dim.
func.func @f(%x: tensor<f32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op input must have rank >= 1 [..., K], got rank 0}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<f32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<8xf32>
  return
}

// -----

// Input channels of x and W agree.
func.func @f(%x: tensor<2x32xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op input channel count (32) must equal the weight's (64)}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<2x32xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// The average cannot exceed the planes stored.
func.func @f(%x: tensor<2x64xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op avg_bits (4.5) must be in [0, bits] = [0, 4]}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 4.5 : f64} : tensor<2x64xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// Nor go below zero.
func.func @f(%x: tensor<2x64xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op avg_bits (-1) must be in [0, bits] = [0, 4]}}
  %y = tessera.graded_matmul %x, %w {avg_bits = -1.0 : f64} : tensor<2x64xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// y is [..., N] over x's leading dims.
func.func @f(%x: tensor<3x2x64xf32>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op result shape [3, 8] must be [3, 2, 8]}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<3x2x64xf32>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<3x8xf32>
  return
}

// -----

// y has x's element type.
func.func @f(%x: tensor<2x64xbf16>, %w: !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.graded_matmul' op result element type ('f32') must be 'bf16'}}
  %y = tessera.graded_matmul %x, %w {avg_bits = 2.0 : f64} : tensor<2x64xbf16>, !tessera.qtensor<8x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<2x8xf32>
  return
}

// -----

// The routing scale is positive.
func.func @f(%q: tensor<1x8x256x64xf32>, %k: tensor<1x2x256x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op scale (-0.5) must be positive}}
  %m, %n = tessera.block_select %q, %k {top_k = 2, scale = -0.5 : f32} : tensor<1x8x256x64xf32>, tensor<1x2x256x64xf32> -> tensor<1x2x4x1xi32>, tensor<1x2x4xi32>
  return
}

// -----

// A paged key pool needs page_size.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<9x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.block_select' op a paged key pool needs a positive page_size attribute}}
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {top_k = 2} : tensor<2x8x1x64xf32>, tensor<9x16x2x64xf32> -> tensor<2x2x1x1xi32>, tensor<2x2x1xi32>
  return
}

// -----

// The key pool's pages must hold page_size tokens.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<9x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.block_select' op key pages hold 16 tokens; page_size is 8}}
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {top_k = 2, page_size = 8} : tensor<2x8x1x64xf32>, tensor<9x16x2x64xf32> -> tensor<2x2x1x1xi32>, tensor<2x2x1xi32>
  return
}

// -----

// The block table and lengths have the query's batch.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<9x16x2x64xf32>, %t: tensor<3x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.block_select' op block table ('tensor<3x4xi32>') and kv_lens ('tensor<2xi32>') must have the query batch (2) rows}}
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<3x4xi32>, tensor<2xi32>) {top_k = 2, page_size = 16} : tensor<2x8x1x64xf32>, tensor<9x16x2x64xf32> -> tensor<2x2x1x1xi32>, tensor<2x2x1xi32>
  return
}

// -----

// A paged mask spans the table's capacity: 4 pages x 16 = 64 keys, one 64-key block.
func.func @f(%q: tensor<2x8x1x64xf32>, %k: tensor<9x16x2x64xf32>, %t: tensor<2x4xi32>, %n: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.block_select' op counts shape [2, 2, 2] must be [2, 2, 1]}}
  %m, %c = tessera.block_select %q, %k paged(%t, %n : tensor<2x4xi32>, tensor<2xi32>) {top_k = 2, page_size = 16} : tensor<2x8x1x64xf32>, tensor<9x16x2x64xf32> -> tensor<2x2x1x1xi32>, tensor<2x2x2xi32>
  return
}

// -----

// page_size without a block table.
func.func @f(%q: tensor<1x8x64x64xf32>, %k: tensor<1x2x64x64xf32>) {
  // expected-error @+1 {{'tessera.block_select' op page_size and kv_lens go with a block table (a paged key pool)}}
  %m, %c = tessera.block_select %q, %k {top_k = 2, page_size = 16} : tensor<1x8x64x64xf32>, tensor<1x2x64x64xf32> -> tensor<1x2x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// Packed keys must use a KV scheme.
func.func @f(%q: tensor<1x8x64x64xf32>, %k: !tessera.qtensor<1x2x64x64xf32, #tessera.quant<graded, bits = 4>>) {
  // expected-error @+1 {{'tessera.block_select' op key cannot be stored in 'graded' quantization (a weight format)}}
  %m, %c = tessera.block_select %q, %k {top_k = 2} : tensor<1x8x64x64xf32>, !tessera.qtensor<1x2x64x64xf32, #tessera.quant<graded, bits = 4>> -> tensor<1x2x1x1xi32>, tensor<1x2x1xi32>
  return
}

// -----

// kv_write: the update is [B, Hkv, T, D].
func.func @f(%c: tensor<2x2x32x64xf32>, %u: tensor<2x2x64xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op update must have rank 4 [B, Hkv, T, D], got rank 3}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x64xf32>, tensor<2x2x32x64xf32>
  return
}

// -----

// kv_write: element types agree.
func.func @f(%c: tensor<2x2x32x64xbf16>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op update element type ('f32') must match the cache element type ('bf16')}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x1x64xf32>, tensor<2x2x32x64xbf16>
  return
}

// -----

// kv_write: one start position per sequence.
func.func @f(%c: tensor<2x2x32x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<3xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op positions must be [B] = [2] (one start per sequence); got 'tensor<3xi32>'}}
  %r = tessera.kv_write %u into %c at(%p : tensor<3xi32>) : tensor<2x2x1x64xf32>, tensor<2x2x32x64xf32>
  return
}

// -----

// kv_write: the update's heads are the cache's.
func.func @f(%c: tensor<9x16x2x64xf32>, %u: tensor<2x4x1x64xf32>, %p: tensor<2xi32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op update heads (4) must equal the cache's KV heads (2)}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<2x4xi32>) {page_size = 16} : tensor<2x4x1x64xf32>, tensor<9x16x2x64xf32>
  return
}

// -----

// kv_write: row lengths agree.
func.func @f(%c: tensor<2x2x32x64xf32>, %u: tensor<2x2x1x32xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op update row length (32) must equal the cache's (64)}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x1x32xf32>, tensor<2x2x32x64xf32>
  return
}

// -----

// kv_write: a paged cache needs page_size.
func.func @f(%c: tensor<9x16x2x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op a paged cache needs a positive page_size attribute}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<2x4xi32>) : tensor<2x2x1x64xf32>, tensor<9x16x2x64xf32>
  return
}

// -----

// kv_write: pages hold page_size tokens.
func.func @f(%c: tensor<9x16x2x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>, %t: tensor<2x4xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op cache pages hold 16 tokens; page_size is 32}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<2x4xi32>) {page_size = 32} : tensor<2x2x1x64xf32>, tensor<9x16x2x64xf32>
  return
}

// -----

// kv_write: the block table is [B, max_pages].
func.func @f(%c: tensor<9x16x2x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>, %t: tensor<3x4xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op the block table must be [B, max_pages] with B = 2; got 'tensor<3x4xi32>'}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) paged(%t : tensor<3x4xi32>) {page_size = 16} : tensor<2x2x1x64xf32>, tensor<9x16x2x64xf32>
  return
}

// -----

// kv_write: a dense cache has the update's batch, and no page_size.
func.func @f(%c: tensor<3x2x32x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op cache batch (3) must equal the update batch (2)}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x1x64xf32>, tensor<3x2x32x64xf32>
  return
}

// -----

func.func @f(%c: tensor<2x2x32x64xf32>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op page_size goes with a block table (a paged cache)}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) {page_size = 16} : tensor<2x2x1x64xf32>, tensor<2x2x32x64xf32>
  return
}

// -----

// kv_write: a packed cache must use a KV scheme.
func.func @f(%c: !tessera.qtensor<2x2x32x64xf32, #tessera.quant<graded, bits = 4>>, %u: tensor<2x2x1x64xf32>, %p: tensor<2xi32>) {
  // expected-error @+1 {{'tessera.kv_write' op cache cannot be stored in 'graded' quantization (a weight format)}}
  %r = tessera.kv_write %u into %c at(%p : tensor<2xi32>) : tensor<2x2x1x64xf32>, !tessera.qtensor<2x2x32x64xf32, #tessera.quant<graded, bits = 4>>
  return
}
