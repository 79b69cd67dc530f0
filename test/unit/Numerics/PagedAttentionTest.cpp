//===- PagedAttentionTest.cpp - Attention over paged K/V caches -----------===//
//
// K/V in page pools [P, page, Hkv, D] read through a block table [B, max_pages]
// and per-sequence lengths kv_lens [B]: each sequence is gathered into dense
// K/V here (independently of the lowering) and checked against the naive
// reference; one compiled module serves several batches and lengths; pages
// may be packed (qtensor pools); checked mode rejects bad tables and lengths
// with a message, fast mode clamps them and stays in bounds.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

using namespace tessera;
using namespace tessera::test;

namespace {

constexpr int64_t kHq = 8, kHkv = 2, kD = 64, kPage = 16;

std::string pagedModule(const std::string &elt, const std::string &kType,
                        const std::string &vType, const std::string &attrs) {
  std::string q = "tensor<?x8x?x64x" + elt + ">";
  std::string l = "tensor<?x8x?xf32>";
  return "func.func @decode(%q: " + q + ", %k: " + kType + ", %v: " + vType +
         ", %t: tensor<?x?xi32>, %n: tensor<?xi32>) -> (" + q + ", " + l +
         ") {\n  %o, %l = tessera.attention %q, %k, %v paged(%t, %n : "
         "tensor<?x?xi32>, tensor<?xi32>) {page_size = 16" +
         (attrs.empty() ? "" : ", " + attrs) + "} : " + q + ", " + kType +
         ", " + vType + " -> " + q + ", " + l + "\n  return %o, %l : " + q +
         ", " + l + "\n}\n";
}

/// A paged cache: pools of `pages` pages in a shuffled order, a table of
/// `maxPages` columns per sequence (unused entries -1), and lengths.
struct Cache {
  int64_t pages, maxPages;
  std::vector<int64_t> lens;
  std::vector<int32_t> table;
  std::vector<double> kPool, vPool; ///< [P, page, Hkv, D]
};

Cache makeCache(const std::vector<int64_t> &lens, int64_t maxPages, DType dtype,
                std::mt19937_64 &rng) {
  Cache c;
  c.lens = lens;
  c.maxPages = maxPages;
  int64_t used = 0;
  for (int64_t n : lens)
    used += (n + kPage - 1) / kPage;
  c.pages = used + 3; // a few pages no sequence owns
  std::vector<int32_t> order(c.pages);
  std::iota(order.begin(), order.end(), 0);
  std::shuffle(order.begin(), order.end(), rng);
  c.table.assign(lens.size() * maxPages, -1);
  size_t next = 0;
  for (size_t b = 0; b < lens.size(); ++b)
    for (int64_t p = 0; p < (lens[b] + kPage - 1) / kPage; ++p)
      c.table[b * maxPages + p] = order[next++];
  c.kPool = randomValues(c.pages * kPage * kHkv * kD, dtype, rng);
  c.vPool = randomValues(c.pages * kPage * kHkv * kD, dtype, rng);
  return c;
}

/// Sequence b's K or V as a dense [1, Hkv, len, D] array, read through the
/// table (the reference's own gather).
std::vector<double> gather(const Cache &c, const std::vector<double> &pool,
                           size_t b) {
  int64_t n = c.lens[b];
  std::vector<double> out(kHkv * n * kD);
  for (int64_t h = 0; h < kHkv; ++h)
    for (int64_t j = 0; j < n; ++j) {
      int64_t page = c.table[b * c.maxPages + j / kPage], slot = j % kPage;
      for (int64_t d = 0; d < kD; ++d)
        out[(h * n + j) * kD + d] =
            pool[((page * kPage + slot) * kHkv + h) * kD + d];
    }
  return out;
}

HostTensor i32Tensor(std::vector<int64_t> shape,
                     const std::vector<int32_t> &values) {
  HostTensor t(DType::I32, std::move(shape));
  std::memcpy(t.data(), values.data(), values.size() * 4);
  return t;
}

/// O and LSE of every sequence from the reference, concatenated in [B, ...].
void referencePaged(const Cache &c, const std::vector<double> &q, int64_t sq,
                    bool causal, std::optional<int64_t> window,
                    const std::vector<double> &kPool,
                    const std::vector<double> &vPool, std::vector<double> &o,
                    std::vector<double> &lse) {
  o.clear();
  lse.clear();
  for (size_t b = 0; b < c.lens.size(); ++b) {
    reference::Attention ref;
    ref.Hq = kHq, ref.Hkv = kHkv, ref.Sq = sq, ref.Skv = c.lens[b];
    ref.D = ref.Dv = kD;
    ref.causal = causal;
    ref.window = window;
    std::vector<double> qb(q.begin() + b * kHq * sq * kD,
                           q.begin() + (b + 1) * kHq * sq * kD);
    std::vector<double> ob, lb;
    if (c.lens[b] == 0) {
      // No keys: O = 0, LSE = -inf (the op's rule for rows that see none).
      ob.assign(kHq * sq * kD, 0.0);
      lb.assign(kHq * sq, -INFINITY);
    } else {
      reference::attention(ref, qb, gather(c, kPool, b), gather(c, vPool, b),
                           ob, lb);
    }
    o.insert(o.end(), ob.begin(), ob.end());
    lse.insert(lse.end(), lb.begin(), lb.end());
  }
}

void expectClose(const std::vector<HostTensor> &out,
                 const std::vector<double> &oRef,
                 const std::vector<double> &lseRef, double tol,
                 const std::string &what) {
  ASSERT_EQ(out.size(), 2u) << what;
  std::vector<double> o = valuesOf(out[0]), lse = valuesOf(out[1]);
  ASSERT_EQ(o.size(), oRef.size()) << what;
  double scale = 1e-30, worst = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i) {
    ASSERT_FALSE(std::isnan(o[i])) << what << ": NaN at " << i;
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
  }
  EXPECT_LE(worst, tol) << what;
  for (size_t i = 0; i < lse.size(); ++i) {
    if (std::isinf(lseRef[i])) {
      EXPECT_TRUE(std::isinf(lse[i]) && lse[i] < 0) << what << " row " << i;
      for (int64_t d = 0; d < kD; ++d)
        EXPECT_EQ(o[i * kD + d], 0.0) << what << " row " << i;
      continue;
    }
    EXPECT_LE(std::fabs(lse[i] - lseRef[i]), tol * (1 + std::fabs(lseRef[i])))
        << what << " LSE row " << i;
  }
}

void runPaged(DType dtype, const std::string &attrs, bool causal,
              std::optional<int64_t> window) {
  std::string elt = dtype == DType::F32 ? "f32" : "bf16";
  std::string pool = "tensor<?x16x2x64x" + elt + ">";
  auto m = compileOrFail(pagedModule(elt, pool, pool, attrs));
  ASSERT_TRUE(m);
  std::mt19937_64 rng(2026 + static_cast<int>(dtype));
  struct Call {
    std::vector<int64_t> lens;
    int64_t maxPages, sq;
  };
  // Decode over ragged lengths (0, 1, page and block edges, 4k), then a
  // 5-token step (speculative decode / chunked prefill: causal per sequence).
  for (const Call &call :
       {Call{{1, 17, 0, 64, 100}, 8, 1}, Call{{4100, 333}, 260, 1},
        Call{{37, 5, 129}, 12, 5}}) {
    Cache c = makeCache(call.lens, call.maxPages, dtype, rng);
    int64_t B = static_cast<int64_t>(call.lens.size());
    auto q = randomValues(B * kHq * call.sq * kD, dtype, rng);
    std::vector<HostTensor> in;
    in.push_back(makeTensor(dtype, {B, kHq, call.sq, kD}, q));
    in.push_back(makeTensor(dtype, {c.pages, kPage, kHkv, kD}, c.kPool));
    in.push_back(makeTensor(dtype, {c.pages, kPage, kHkv, kD}, c.vPool));
    in.push_back(i32Tensor({B, c.maxPages}, c.table));
    std::vector<int32_t> lens(c.lens.begin(), c.lens.end());
    in.push_back(i32Tensor({B}, lens));
    std::vector<double> oRef, lseRef;
    referencePaged(c, q, call.sq, causal, window, c.kPool, c.vPool, oRef,
                   lseRef);
    expectClose(run(*m, in), oRef, lseRef, dtype == DType::F32 ? 1e-5 : 1e-2,
                "B=" + std::to_string(B) + " Sq=" + std::to_string(call.sq) +
                    " first len " + std::to_string(call.lens[0]));
  }
}

TEST(PagedAttention, DecodeF32) { runPaged(DType::F32, "", false, {}); }
TEST(PagedAttention, CausalWindowF32Checked) {
  runPaged(DType::F32, "causal, window = 40, checked", true, 40);
}
TEST(PagedAttention, SplitKeyRangeF32) {
  runPaged(DType::F32, "causal, tile = #tessera.tile<query = 8, kv_splits = 5>",
           true, std::nullopt);
}
TEST(PagedAttention, CausalBF16) {
  runPaged(DType::BF16, "causal", true, std::nullopt);
}

/// Packed pages: int4 keys (group 32) and int8 values, decoded per key block.
TEST(PagedAttention, PackedInt4KeysInt8Values) {
  std::string kq = "!tessera.qtensor<?x16x2x64xf32, #tessera.quant<int, bits "
                   "= 4, group = 32>>";
  std::string vq = "!tessera.qtensor<?x16x2x64xf32, #tessera.quant<int, bits "
                   "= 8, asymmetric>>";
  auto m = compileOrFail(pagedModule("f32", kq, vq, "causal"));
  ASSERT_TRUE(m);
  std::mt19937_64 rng(5);
  Cache c = makeCache({70, 3, 200}, 16, DType::F32, rng);
  int64_t B = 3, rows = c.pages * kPage * kHkv;
  HostTensor kCodes(DType::I8, {c.pages, kPage, kHkv, 32}),
      kScales(DType::F32, {c.pages, kPage, kHkv, 2});
  HostTensor vCodes(DType::I8, {c.pages, kPage, kHkv, 64}),
      vScales(DType::F32, {c.pages, kPage, kHkv, 1}),
      vZeros(DType::F32, {c.pages, kPage, kHkv, 1});
  std::vector<double> kDeq, vDeq;
  for (int64_t r = 0; r < rows; ++r) {
    auto kr = reference::quantizeInt(
        std::vector<float>(c.kPool.begin() + r * kD,
                           c.kPool.begin() + (r + 1) * kD),
        4, 32, true);
    auto vr = reference::quantizeInt(
        std::vector<float>(c.vPool.begin() + r * kD,
                           c.vPool.begin() + (r + 1) * kD),
        8, 0, false);
    std::memcpy(static_cast<uint8_t *>(kCodes.data()) + r * 32, kr.codes.data(),
                32);
    std::memcpy(static_cast<float *>(kScales.data()) + r * 2, kr.scales.data(),
                8);
    std::memcpy(static_cast<uint8_t *>(vCodes.data()) + r * 64, vr.codes.data(),
                64);
    static_cast<float *>(vScales.data())[r] = vr.scales[0];
    static_cast<float *>(vZeros.data())[r] = vr.zeros[0];
    kDeq.insert(kDeq.end(), kr.dequantized.begin(), kr.dequantized.end());
    vDeq.insert(vDeq.end(), vr.dequantized.begin(), vr.dequantized.end());
  }
  auto q = randomValues(B * kHq * 2 * kD, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {B, kHq, 2, kD}, q));
  in.push_back(std::move(kCodes));
  in.push_back(std::move(kScales));
  in.push_back(std::move(vCodes));
  in.push_back(std::move(vScales));
  in.push_back(std::move(vZeros));
  in.push_back(i32Tensor({B, c.maxPages}, c.table));
  in.push_back(i32Tensor({B}, {70, 3, 200}));
  std::vector<double> oRef, lseRef;
  referencePaged(c, q, 2, true, std::nullopt, kDeq, vDeq, oRef, lseRef);
  expectClose(run(*m, in), oRef, lseRef, 1e-5, "packed pages");
}

// A K3V3 paged cache quantized in the same module (Block-GTQ keys, TQ-MSE
// values; pools of run-time page count): attention reads the packed pages in
// the rotated domain and equals the reference over the module's own
// dequantized pools, gathered through the table.
TEST(PagedAttention, PackedK3V3PoolsQuantizedInModule) {
  std::string gtq = "#tessera.quant<block_gtq, bits = [4, 4, 4, 4, 4, 4, 4, 4, "
                    "3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 3, 2, 2, 2, "
                    "2, 2, 2, 2, 2], seed = 11>";
  std::string tq = "#tessera.quant<tq_mse, bits = 3, seed = 12, norm = f16>";
  std::string pool = "tensor<?x16x2x64xf32>";
  std::string kq = "!tessera.qtensor<?x16x2x64xf32, " + gtq + ">";
  std::string vq = "!tessera.qtensor<?x16x2x64xf32, " + tq + ">";
  std::string q = "tensor<?x8x?x64xf32>", l = "tensor<?x8x?xf32>";
  std::string mlir =
      "func.func @decode(%q: " + q + ", %k: " + pool + ", %v: " + pool +
      ", %t: tensor<?x?xi32>, %n: tensor<?xi32>) -> (" + q + ", " + l + ", " +
      pool + ", " + pool + ") {\n  %kp = tessera.quantize %k : " + pool +
      " -> " + kq + "\n  %vp = tessera.quantize %v : " + pool + " -> " + vq +
      "\n  %o, %l = tessera.attention %q, %kp, %vp paged(%t, %n : "
      "tensor<?x?xi32>, tensor<?xi32>) {page_size = 16, causal, window = 90} "
      ": " +
      q + ", " + kq + ", " + vq + " -> " + q + ", " + l +
      "\n  %kd = tessera.dequantize %kp : " + kq + " -> " + pool +
      "\n  %vd = tessera.dequantize %vp : " + vq + " -> " + pool +
      "\n  return %o, %l, %kd, %vd : " + q + ", " + l + ", " + pool + ", " +
      pool + "\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::mt19937_64 rng(23);
  std::vector<int64_t> lens = {130, 1, 0, 47};
  Cache c = makeCache(lens, 12, DType::F32, rng);
  int64_t B = lens.size(), sq = 3;
  auto qv = randomValues(B * kHq * sq * kD, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {B, kHq, sq, kD}, qv));
  in.push_back(makeTensor(DType::F32, {c.pages, kPage, kHkv, kD}, c.kPool));
  in.push_back(makeTensor(DType::F32, {c.pages, kPage, kHkv, kD}, c.vPool));
  in.push_back(i32Tensor({B, c.maxPages}, c.table));
  in.push_back(i32Tensor({B}, {130, 1, 0, 47}));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 4u);
  std::vector<double> kDeq = valuesOf(out[2]), vDeq = valuesOf(out[3]);
  std::vector<double> oRef, lseRef;
  referencePaged(c, qv, sq, true, 90, kDeq, vDeq, oRef, lseRef);
  out.resize(2);
  expectClose(out, oRef, lseRef, 2e-5, "K3V3 pages");
}

/// Checked mode: a table entry outside the pool or a length beyond the
/// table's capacity fails the call, naming the rule and the value; fast mode
/// clamps instead and stays inside the pool (AddressSanitizer's tree runs
/// this too).
TEST(PagedAttention, BadTablesAndLengths) {
  std::string pool = "tensor<?x16x2x64xf32>";
  auto checked = compileOrFail(pagedModule("f32", pool, pool, "checked"));
  auto fast = compileOrFail(pagedModule("f32", pool, pool, ""));
  ASSERT_TRUE(checked && fast);
  std::mt19937_64 rng(3);
  Cache c = makeCache({40, 20}, 4, DType::F32, rng);
  auto q = randomValues(2 * kHq * kD, DType::F32, rng);
  struct Bad {
    std::vector<int32_t> table, lens;
    const char *message;
  };
  std::vector<int32_t> badEntry = c.table;
  badEntry[1] = static_cast<int32_t>(c.pages); // one past the pool
  std::vector<int32_t> negative = c.table;
  negative[4] = -7;
  for (const Bad &bad :
       {Bad{badEntry,
            {40, 20},
            "block table entry outside [0, page count) (got 8, expected 8)"},
        Bad{negative,
            {40, 20},
            "block table entry outside [0, page count) (got -7, expected 8)"},
        Bad{c.table,
            {40, 65},
            "kv_lens entry outside [0, max_pages * "
            "page_size] (got 65, expected 64)"},
        Bad{c.table, {-1, 20}, "kv_lens entry outside"}}) {
    for (bool isChecked : {true, false}) {
      std::vector<HostTensor> in;
      in.push_back(makeTensor(DType::F32, {2, kHq, 1, kD}, q));
      in.push_back(makeTensor(DType::F32, {c.pages, kPage, kHkv, kD}, c.kPool));
      in.push_back(makeTensor(DType::F32, {c.pages, kPage, kHkv, kD}, c.vPool));
      in.push_back(i32Tensor({2, 4}, bad.table));
      in.push_back(i32Tensor({2}, bad.lens));
      std::string error;
      std::vector<HostTensor> out =
          run(isChecked ? *checked : *fast, in, &error);
      if (isChecked) {
        EXPECT_NE(error.find(bad.message), std::string::npos)
            << "expected '" << bad.message << "', got: " << error;
      } else {
        EXPECT_EQ(error, "") << "fast mode does not check";
        for (double x : valuesOf(out[0]))
          EXPECT_FALSE(std::isnan(x));
      }
    }
  }
}

} // namespace
