// One decode step of a serving engine whose KV cache is compressed three ways at once (issue
// #11): routed, quantized and evicted, in one module that compiles for the CPU and the GPU.
//  * The cache is paged (vLLM's layout: pages of 16 tokens, a block table per sequence) and
//    packed: keys in Block-GTQ (4/3/2 bits per RoPE block, 3 on average), values in TQ-MSE at
//    3 bits (as examples/k3v3_decode.mlir). 4 sequences of 460, 37, 300 and 90 cached tokens,
//    8 query heads share 2 KV heads (GQA), head dim 64.
//  1. tessera.block_select routes each sequence's new query: it pools the decoded keys of each
//     64-token block (the keys are read packed, through the table), scores the blocks with the
//     query averaged over its GQA group and keeps the best 2 blocks plus the first (sink) block
//     and the diagonal one: a bit-packed mask per KV head.
//  2. tessera.attention reads only the kept blocks of the packed pages (decoding in its key-block
//     loop; the query is rotated into the keys' domain, the output back from the values').
//  3. tessera.evict (SnapKV, observation window = this query) keeps at most 320 tokens per
//     sequence and KV head: sequence 0 (460 tokens) is compacted inside its own pages (packed
//     rows move as they are, never decoded); the others fit and stay. It returns the new lengths.
//  4. tessera.kv_write quantizes the new token's K and V (Block-GTQ / TQ-MSE) into the slot after
//     each sequence's kept tokens. The next step's lengths are the returned ones + 1.
//     Attention in this order reads the cache as the last step left it; an engine that lets the
//     token attend to itself writes its K/V first (kv_write, then the lengths + 1).
// Table and lengths are constants here so that `make demo` can run the step on random inputs;
// in a server they come from the scheduler with every step (tessera-run accepts them as inputs
// if they are made arguments). Pages 7, 20, 32 belong to no sequence.
func.func @decode_step(%q: tensor<4x8x1x64xbf16>, %k_new: tensor<4x2x1x64xbf16>,
                       %v_new: tensor<4x2x1x64xbf16>,
                       %k_pages: !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
                       %v_pages: !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>)
    -> (tensor<4x8x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
        !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>, tensor<4xi32>) {
  %table = arith.constant dense<[[49, 48, 1, 29, 53, 3, 33, 40, 34, 4, 42, 27, 22, 19, 52, 24, 9, 44, 17, 21, 10, 2, 56, 16, 23, 30, 25, 47, 11, -1, -1, -1], [8, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1], [58, 45, 55, 43, 54, 18, 59, 5, 51, 0, 15, 28, 37, 31, 46, 50, 36, 26, 35, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1], [39, 38, 14, 6, 41, 57, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]]> : tensor<4x32xi32>
  %lens = arith.constant dense<[460, 37, 300, 90]> : tensor<4xi32>
  %mask, %counts = tessera.block_select %q, %k_pages paged(%table, %lens : tensor<4x32xi32>, tensor<4xi32>)
      {top_k = 2, sink_blocks = 1, causal, block_k = 64, page_size = 16}
      : tensor<4x8x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>
      -> tensor<4x2x1x1xi32>, tensor<4x2x1xi32>
  %o, %lse = tessera.attention %q, %k_pages, %v_pages mask(%mask : tensor<4x2x1x1xi32>)
      paged(%table, %lens : tensor<4x32xi32>, tensor<4xi32>) {causal, page_size = 16}
      : tensor<4x8x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
        !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>
      -> tensor<4x8x1x64xbf16>, tensor<4x8x1xf32>
  %kept, %k_evicted, %v_evicted, %kept_lens = tessera.evict snapkv %k_pages, %v_pages
      query(%q : tensor<4x8x1x64xbf16>) paged(%table, %lens : tensor<4x32xi32>, tensor<4xi32>)
      {budget = 320, window = 1, page_size = 16}
      : !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
        !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>
      -> tensor<4x2x320xi64>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
         !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>, tensor<4xi32>
  %k_next = tessera.kv_write %k_new into %k_evicted at(%kept_lens : tensor<4xi32>)
      paged(%table : tensor<4x32xi32>) {page_size = 16}
      : tensor<4x2x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>
  %v_next = tessera.kv_write %v_new into %v_evicted at(%kept_lens : tensor<4xi32>)
      paged(%table : tensor<4x32xi32>) {page_size = 16}
      : tensor<4x2x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>
  return %o, %k_next, %v_next, %kept_lens
      : tensor<4x8x1x64xbf16>, !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, 2, 2, 2, 2, 2], rotation = hadamard, seed = 11, norm = f32>>,
        !tessera.qtensor<60x16x2x64xbf16, #tessera.quant<tq_mse, bits = 3, rotation = hadamard, seed = 12, norm = f16>>, tensor<4xi32>
}
