//===- KVWriteTest.cpp - Compiled tessera.kv_write ------------------------===//
//
// Appending tokens to a KV cache against a reference written here: a copy of
// the cache with each new row stored at positions[b] + t (through the block
// table for page pools), rows out of range dropped. Packed pools: the written
// slots decode exactly as the module's own quantize + dequantize of the new
// rows, and every other slot is unchanged bit for bit.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"

#include <cstring>
#include <numeric>

using namespace tessera;
using namespace tessera::test;

namespace {

HostTensor i32Of(std::vector<int64_t> shape, const std::vector<int32_t> &v) {
  HostTensor t(DType::I32, std::move(shape));
  std::memcpy(t.data(), v.data(), v.size() * 4);
  return t;
}

std::string ty(const std::vector<int64_t> &s, const std::string &elt) {
  return "tensor<" + dims(s) + "x" + elt + ">";
}

// A dense [B, Hkv, Smax, D] cache: rows land at positions[b] + t; a row that
// would fall at or past Smax (or before 0) is dropped, the rest of the cache
// is unchanged. bf16, so stores convert nothing.
TEST(KVWrite, DenseCacheAppendsAtPositions) {
  constexpr int64_t B = 3, H = 2, S = 20, T = 3, D = 8;
  std::string c = ty({B, H, S, D}, "bf16"), u = ty({B, H, T, D}, "bf16"),
              p = ty({B}, "i32");
  auto m = compileOrFail(
      "func.func @w(%c: " + c + ", %u: " + u + ", %p: " + p + ") -> " + c +
      " {\n  %r = tessera.kv_write %u into "
      "%c at(%p : " +
      p + ") : " + u + ", " + c + "\n  return %r : " + c + "\n}\n");
  ASSERT_TRUE(m);
  std::mt19937_64 rng(5);
  auto cache = randomValues(B * H * S * D, DType::BF16, rng);
  auto upd = randomValues(B * H * T * D, DType::BF16, rng);
  std::vector<int32_t> pos = {0, 18, -1}; // b1: t = 2 past the end; b2: t = 0
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::BF16, {B, H, S, D}, cache));
  in.push_back(makeTensor(DType::BF16, {B, H, T, D}, upd));
  in.push_back(i32Of({B}, pos));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> want = cache;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t h = 0; h < H; ++h)
      for (int64_t t = 0; t < T; ++t) {
        int64_t at = pos[b] + t;
        if (at < 0 || at >= S)
          continue;
        for (int64_t d = 0; d < D; ++d)
          want[((b * H + h) * S + at) * D + d] =
              upd[((b * H + h) * T + t) * D + d];
      }
  EXPECT_EQ(valuesOf(out[0]), want);
}

/// A shuffled page table over `pages` pages of 4 tokens; -1 where unused.
std::vector<int32_t> shuffledTable(int64_t B, int64_t maxPages, int64_t pages,
                                   const std::vector<int64_t> &owned,
                                   std::mt19937_64 &rng) {
  std::vector<int32_t> order(pages), table(B * maxPages, -1);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  size_t next = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t j = 0; j < owned[b]; ++j)
      table[b * maxPages + j] = order[next++];
  return table;
}

// A page pool [P, 4, Hkv, D]: position p of sequence b is slot p % 4 of page
// table[b, p / 4]; a -1 entry or a position past the table's capacity drops
// the row. Rows at positions 5..6 of b0 straddle a page boundary.
TEST(KVWrite, PagedPoolWritesThroughTheTable) {
  constexpr int64_t B = 3, H = 2, T = 2, D = 8, page = 4, maxPages = 3;
  constexpr int64_t pages = 9;
  std::mt19937_64 rng(8);
  // b0 owns 2 pages (writes at 3, 4: crossing), b1 owns 1 page (writes at
  // 3, 4: the second lands on entry -1), b2 owns 3 (writes at 11, 12: the
  // second is past the capacity of 12).
  std::vector<int32_t> pos = {3, 3, 11};
  auto table = shuffledTable(B, maxPages, pages, {2, 1, 3}, rng);
  std::string c = ty({pages, page, H, D}, "f32"), u = ty({B, H, T, D}, "f32"),
              p = ty({B}, "i32"), tt = ty({B, maxPages}, "i32");
  auto m = compileOrFail("func.func @w(%c: " + c + ", %u: " + u + ", %p: " + p +
                         ", %t: " + tt + ") -> " + c +
                         " {\n  %r = tessera.kv_write %u into %c at(%p : " + p +
                         ") paged(%t : " + tt + ") {page_size = 4} : " + u +
                         ", " + c + "\n  return %r : " + c + "\n}\n");
  ASSERT_TRUE(m);
  auto cache = randomValues(pages * page * H * D, DType::F32, rng);
  auto upd = randomValues(B * H * T * D, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {pages, page, H, D}, cache));
  in.push_back(makeTensor(DType::F32, {B, H, T, D}, upd));
  in.push_back(i32Of({B}, pos));
  in.push_back(i32Of({B, maxPages}, table));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 1u);
  std::vector<double> want = cache;
  int written = 0;
  for (int64_t b = 0; b < B; ++b)
    for (int64_t t = 0; t < T; ++t) {
      int64_t at = pos[b] + t;
      if (at >= maxPages * page)
        continue;
      int32_t pg = table[b * maxPages + at / page];
      if (pg < 0)
        continue;
      ++written;
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d)
          want[((pg * page + at % page) * H + h) * D + d] =
              upd[((b * H + h) * T + t) * D + d];
    }
  EXPECT_EQ(written, 4); // the two dropped rows are the ones described above
  EXPECT_EQ(valuesOf(out[0]), want);
}

// Packed pools: the new rows are encoded into their slots. For each scheme
// the module quantizes a pool, appends, and dequantizes; it also quantizes
// and dequantizes the update on its own. Written slots equal the update's
// round trip exactly (same codec, same row), all other slots the original
// pool's round trip exactly.
TEST(KVWrite, PackedPoolEncodesOnlyTheNewRows) {
  constexpr int64_t B = 2, H = 2, T = 1, D = 16, page = 4, maxPages = 4;
  constexpr int64_t pages = 7;
  for (std::string scheme :
       {"#tessera.quant<int, bits = 4, asymmetric>",
        "#tessera.quant<tq_mse, bits = 3, seed = 2, norm = f16>",
        "#tessera.quant<block_gtq, bits = [4, 4, 3, 3, 3, 3, 2, 2], seed = 6>",
        "#tessera.quant<lattice, lattice = e8, alpha = 0.25>"}) {
    SCOPED_TRACE(scheme);
    std::mt19937_64 rng(std::hash<std::string>{}(scheme));
    std::vector<int32_t> pos = {6, 13};
    auto table = shuffledTable(B, maxPages, pages, {2, 4}, rng);
    std::string c = ty({pages, page, H, D}, "f32"), u = ty({B, H, T, D}, "f32"),
                p = ty({B}, "i32"), tt = ty({B, maxPages}, "i32");
    std::string cq = "!tessera.qtensor<" + dims({pages, page, H, D}) +
                     "xf32, " + scheme + ">",
                uq = "!tessera.qtensor<" + dims({B, H, T, D}) + "xf32, " +
                     scheme + ">";
    auto m = compileOrFail(
        "func.func @w(%c: " + c + ", %u: " + u + ", %p: " + p + ", %t: " + tt +
        ") -> (" + c + ", " + c + ", " + u + ") {\n" +
        "  %cq = tessera.quantize %c : " + c + " -> " + cq + "\n" +
        "  %r = tessera.kv_write %u into %cq at(%p : " + p +
        ") paged(%t : " + tt + ") {page_size = 4} : " + u + ", " + cq + "\n" +
        "  %rd = tessera.dequantize %r : " + cq + " -> " + c + "\n" +
        "  %cd = tessera.dequantize %cq : " + cq + " -> " + c + "\n" +
        "  %uq = tessera.quantize %u : " + u + " -> " + uq + "\n" +
        "  %ud = tessera.dequantize %uq : " + uq + " -> " + u + "\n" +
        "  return %rd, %cd, %ud : " + c + ", " + c + ", " + u + "\n}\n");
    ASSERT_TRUE(m);
    auto cache = randomValues(pages * page * H * D, DType::F32, rng);
    auto upd = randomValues(B * H * T * D, DType::F32, rng);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(DType::F32, {pages, page, H, D}, cache));
    in.push_back(makeTensor(DType::F32, {B, H, T, D}, upd));
    in.push_back(i32Of({B}, pos));
    in.push_back(i32Of({B, maxPages}, table));
    std::vector<HostTensor> out = run(*m, in);
    ASSERT_EQ(out.size(), 3u);
    std::vector<double> got = valuesOf(out[0]), want = valuesOf(out[1]),
                        updRound = valuesOf(out[2]);
    for (int64_t b = 0; b < B; ++b) {
      int64_t at = pos[b];
      int32_t pg = table[b * maxPages + at / page];
      ASSERT_GE(pg, 0);
      for (int64_t h = 0; h < H; ++h)
        for (int64_t d = 0; d < D; ++d)
          want[((pg * page + at % page) * H + h) * D + d] =
              updRound[((b * H + h) * T) * D + d];
    }
    EXPECT_EQ(got, want);
    // The round trip is a real encoding: not the identity.
    EXPECT_NE(updRound, upd);
  }
}

} // namespace
