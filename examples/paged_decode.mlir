// One decode step of a paged KV cache, as a serving engine runs it (vLLM/FlashInfer layout):
// 4 sequences of different lengths each add one query token and attend to their cached keys.
//  * K and V live in page pools [pages, 16 tokens, 2 KV heads, 128] (bf16); a sequence's key j
//    is in page block_table[b, j / 16], slot j % 16. Pages are handed out in no particular
//    order, as an allocator does; -1 marks table entries a sequence does not use yet.
//  * kv_lens gives each sequence's length (200, 37, 129, 4): causal aligns each sequence's
//    last key with its query, and one compiled step serves any lengths and batch.
//  * 32 query heads share 8 KV heads (GQA); `checked` validates the table and lengths before
//    any key is read (a bad entry fails the call with a message instead of reading garbage).
// In a server the table and lengths come from the scheduler each step; here they are
// constants so that `make demo` can run the step on random Q and K/V pools.
func.func @paged_decode(%q: tensor<4x32x1x128xbf16>, %k_pages: tensor<32x16x8x128xbf16>,
                        %v_pages: tensor<32x16x8x128xbf16>)
    -> (tensor<4x32x1x128xbf16>, tensor<4x32x1xf32>) {
  %table = arith.constant dense<[[8, 5, 19, 20, 26, 13, 6, 10, 22, 29, 14, 18, 28], [21, 25, 11, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1], [16, 7, 1, 30, 17, 27, 0, 24, 2, -1, -1, -1, -1], [4, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1]]> : tensor<4x13xi32>
  %lens = arith.constant dense<[200, 37, 129, 4]> : tensor<4xi32>
  %o, %lse = tessera.attention %q, %k_pages, %v_pages
      paged(%table, %lens : tensor<4x13xi32>, tensor<4xi32>) {causal, page_size = 16, checked}
      : tensor<4x32x1x128xbf16>, tensor<32x16x8x128xbf16>, tensor<32x16x8x128xbf16>
      -> tensor<4x32x1x128xbf16>, tensor<4x32x1xf32>
  return %o, %lse : tensor<4x32x1x128xbf16>, tensor<4x32x1xf32>
}
