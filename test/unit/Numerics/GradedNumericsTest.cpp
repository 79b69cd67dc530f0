//===- GradedNumericsTest.cpp - Graded weights and tessera.graded_matmul --===//
//
// The compiled graded quantize must give an independent reference's B-bit
// indices exactly and its centroid tables (within 1e-5 of the row's scale);
// the first k planes must hold the top k bits of every index (nesting); the
// graded matmul at avg_bits = B must equal tessera.dequantize followed by the
// f32 sum over j ascending bit for bit, and at lower budgets the reference's
// bit allocation and lookups (1e-5 relative; bf16 ~1e-2), with an error that
// falls as avg_bits grows.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>

using namespace tessera;
using namespace tessera::test;

namespace {

/// One row quantized as docs/graded-weights.md says, written from the text:
/// B-bit indices from uniform levels between min and max; table entry j of
/// precision k = mean (in double) of the values whose index >> (B - k) is j,
/// else the centre of its levels.
struct GradedRow {
  std::vector<int> index;                  ///< B-bit index per element
  std::vector<std::vector<double>> tables; ///< tables[k - 1][j], k = 1..B
};

GradedRow referenceGraded(const float *x, int64_t d, int bits) {
  const int top = (1 << bits) - 1;
  float lo = *std::min_element(x, x + d), hi = *std::max_element(x, x + d);
  float width = hi - lo;
  float inv = width > 0 ? static_cast<float>(top) / width : 0.0f;
  float step = width / static_cast<float>(top);
  GradedRow r;
  for (int64_t i = 0; i < d; ++i) {
    float q = std::round((x[i] - lo) * inv);
    r.index.push_back(static_cast<int>(std::clamp(q, 0.0f, float(top))));
  }
  for (int k = 1; k <= bits; ++k) {
    int n = 1 << k, span = 1 << (bits - k);
    std::vector<double> sum(n, 0.0), count(n, 0.0);
    for (int64_t i = 0; i < d; ++i) {
      sum[r.index[i] >> (bits - k)] += x[i];
      count[r.index[i] >> (bits - k)] += 1;
    }
    std::vector<double> table(n);
    for (int j = 0; j < n; ++j)
      table[j] = count[j] > 0
                     ? sum[j] / count[j]
                     : lo + double(step) * (j * span + (span - 1) / 2.0);
    r.tables.push_back(table);
  }
  return r;
}

/// The bits of each channel of one row of x: stable order by |x| descending
/// (ties: lower j first), B bits while the budget lasts, the rest to the next.
std::vector<int> referenceBits(const double *x, int64_t k, double avg,
                               int bits) {
  std::vector<int64_t> order(k);
  std::iota(order.begin(), order.end(), 0);
  // (std::sort with the index as tie-break: libstdc++'s stable_sort uses the
  // deprecated get_temporary_buffer, an error under -Werror with clang.)
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
    double fa = std::fabs(x[a]), fb = std::fabs(x[b]);
    return fa != fb ? fa > fb : a < b;
  });
  int64_t left = static_cast<int64_t>(std::floor(double(k) * avg));
  std::vector<int> b(k, 0);
  for (int64_t j : order) {
    b[j] = static_cast<int>(std::min<int64_t>(left, bits));
    left -= b[j];
  }
  return b;
}

/// The packed components of a [rows, d] graded qtensor as the entry returns
/// them.
struct Packed {
  const uint8_t *planes; ///< [B, rows, ceil(d/8)]
  const float *lut;      ///< [rows, 2^(B+1) - 2]
  int64_t rows, d;
  int bits;
  int64_t bytes() const { return (d + 7) / 8; }
  int64_t tableSize() const { return (int64_t{2} << bits) - 2; }
  /// The index of element (r, i) read from the first k planes.
  int indexAt(int64_t r, int64_t i, int k) const {
    int idx = 0;
    for (int p = 0; p < k; ++p) {
      uint8_t byte = planes[(p * rows + r) * bytes() + i / 8];
      idx = (idx << 1) | ((byte >> (i % 8)) & 1);
    }
    return idx;
  }
  /// W_k[r, i]: the k-bit index looked up in precision k's table.
  float valueAt(int64_t r, int64_t i, int k) const {
    return lut[r * tableSize() + (1 << k) - 2 + indexAt(r, i, k)];
  }
};

std::string gradedType(int64_t n, int64_t k, int bits) {
  return "!tessera.qtensor<" + std::to_string(n) + "x" + std::to_string(k) +
         "xf32, #tessera.quant<graded, bits = " + std::to_string(bits) + ">>";
}

/// quantize W, dequantize it, and graded_matmul(x, W) at `avg`: returns
/// (planes, lut, W_hat, y).
std::string matmulModule(const std::vector<int64_t> &xShape, const char *xElt,
                         int64_t n, int bits, double avg) {
  int64_t k = xShape.back();
  std::vector<int64_t> yShape(xShape);
  yShape.back() = n;
  std::string xt = "tensor<" + dims(xShape) + "x" + xElt + ">",
              yt = "tensor<" + dims(yShape) + "x" + xElt + ">",
              wt = "tensor<" + dims({n, k}) + "xf32>",
              qt = gradedType(n, k, bits);
  std::ostringstream a;
  a.precision(17);
  a << avg;
  std::string avgText = a.str();
  if (avgText.find('.') == std::string::npos &&
      avgText.find('e') == std::string::npos)
    avgText += ".0";
  return "func.func @g(%x: " + xt + ", %w: " + wt + ") -> (" + qt + ", " + wt +
         ", " + yt + ") {\n" + "  %p = tessera.quantize %w : " + wt + " -> " +
         qt + "\n" + "  %d = tessera.dequantize %p : " + qt + " -> " + wt +
         "\n" + "  %y = tessera.graded_matmul %x, %p {avg_bits = " + avgText +
         " : f64} : " + xt + ", " + qt + " -> " + yt + "\n" +
         "  return %p, %d, %y : " + qt + ", " + wt + ", " + yt + "\n}\n";
}

struct GCase {
  int bits;
  int64_t d;
};

class GradedQuant : public ::testing::TestWithParam<GCase> {};

// Indices exactly, tables to the reference's, nesting, and the full-precision
// dequantize equal to the table lookup; coarser precisions never have less
// error than finer ones (each refines the last's buckets).
TEST_P(GradedQuant, MatchesTheReferenceAndNests) {
  const GCase c = GetParam();
  const int64_t rows = 6;
  std::string wt = "tensor<" + dims({rows, c.d}) + "xf32>",
              qt = gradedType(rows, c.d, c.bits);
  auto m =
      compileOrFail("func.func @q(%w: " + wt + ") -> (" + qt + ", " + wt +
                    ") {\n  %p = tessera.quantize %w : " + wt + " -> " + qt +
                    "\n  %d = tessera.dequantize %p : " + qt + " -> " + wt +
                    "\n  return %p, %d : " + qt + ", " + wt + "\n}\n");
  ASSERT_TRUE(m);
  ASSERT_EQ(m->entries().front().outputs.size(), 3u);
  EXPECT_EQ(m->entries().front().outputs[0].name, "result0.planes");
  EXPECT_EQ(m->entries().front().outputs[1].name, "result0.lut");

  std::mt19937_64 rng(c.bits * 1000 + c.d);
  auto w = randomValues(rows * c.d, DType::F32, rng);
  // Row 3 is constant (max == min); row 4 has an outlier, so most buckets of
  // the finer precisions are empty.
  for (int64_t i = 0; i < c.d; ++i)
    w[3 * c.d + i] = -0.75;
  w[4 * c.d + 1] = 40.0;
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {rows, c.d}, w));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 3u);
  Packed p{static_cast<const uint8_t *>(out[0].data()),
           static_cast<const float *>(out[1].data()), rows, c.d, c.bits};
  const float *dq = static_cast<const float *>(out[2].data());

  for (int64_t r = 0; r < rows; ++r) {
    std::vector<float> row(w.begin() + r * c.d, w.begin() + (r + 1) * c.d);
    GradedRow ref = referenceGraded(row.data(), c.d, c.bits);
    double scale = 0;
    for (float v : row)
      scale = std::max(scale, double(std::fabs(v)));
    std::vector<double> mse(c.bits + 1, 0.0);
    for (int64_t i = 0; i < c.d; ++i) {
      ASSERT_EQ(p.indexAt(r, i, c.bits), ref.index[i])
          << "row " << r << " element " << i;
      for (int k = 1; k <= c.bits; ++k) {
        // Nesting: k planes give the top k bits of the B-bit index.
        EXPECT_EQ(p.indexAt(r, i, k), ref.index[i] >> (c.bits - k))
            << "row " << r << " element " << i << " k " << k;
        double e = p.valueAt(r, i, k) - row[i];
        mse[k] += e * e;
      }
      EXPECT_EQ(dq[r * c.d + i], p.valueAt(r, i, c.bits))
          << "row " << r << " element " << i;
    }
    for (int k = 1; k <= c.bits; ++k) {
      for (int j = 0; j < (1 << k); ++j)
        EXPECT_NEAR(p.lut[r * p.tableSize() + (1 << k) - 2 + j],
                    ref.tables[k - 1][j], 1e-5 * scale)
            << "row " << r << " k " << k << " entry " << j;
      if (k > 1) {
        EXPECT_LE(mse[k], mse[k - 1] * (1 + 1e-6) + 1e-12)
            << "row " << r << " k " << k;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Bits, GradedQuant,
                         ::testing::Values(GCase{1, 64}, GCase{2, 100},
                                           GCase{3, 64}, GCase{4, 257},
                                           GCase{8, 128}),
                         [](const ::testing::TestParamInfo<GCase> &info) {
                           return "b" + std::to_string(info.param.bits) + "_d" +
                                  std::to_string(info.param.d);
                         });

/// Runs matmulModule on fresh x (with ties and zeros) and W; returns the
/// outputs and the inputs as doubles.
struct MatmulRun {
  std::vector<HostTensor> out;
  std::vector<double> x, w;
};

MatmulRun runMatmul(const std::vector<int64_t> &xShape, DType xType, int64_t n,
                    int bits, double avg, uint64_t seed) {
  int64_t k = xShape.back(), rows = 1;
  for (size_t i = 0; i + 1 < xShape.size(); ++i)
    rows *= xShape[i];
  const char *elt = xType == DType::BF16 ? "bf16" : "f32";
  MatmulRun r;
  auto m = compileOrFail(matmulModule(xShape, elt, n, bits, avg));
  if (!m)
    return r;
  std::mt19937_64 rng(seed);
  r.x = randomValues(rows * k, xType, rng);
  r.w = randomValues(n * k, DType::F32, rng);
  // Ties of |x| (both signs) and zeros in every row.
  for (int64_t row = 0; row < rows; ++row) {
    r.x[row * k + 2] = 0.5;
    r.x[row * k + 5] = -0.5;
    r.x[row * k + 7] = 0.5;
    r.x[row * k + 9] = 0;
  }
  std::vector<HostTensor> in;
  in.push_back(makeTensor(xType, xShape, r.x));
  in.push_back(makeTensor(DType::F32, {n, k}, r.w));
  r.out = run(*m, in);
  return r;
}

struct MCase {
  std::vector<int64_t> xShape;
  int64_t n;
  int bits;
  double avg;
  bool bf16;
};

class GradedMatmul : public ::testing::TestWithParam<MCase> {};

// Against the reference allocation and lookups from the compiled packing
// (the packing itself is checked above); at avg_bits = B bit for bit against
// the dequantized weights summed in f32 over j ascending.
TEST_P(GradedMatmul, MatchesTheReference) {
  const MCase c = GetParam();
  DType xType = c.bf16 ? DType::BF16 : DType::F32;
  int64_t k = c.xShape.back(), rows = 1;
  for (size_t i = 0; i + 1 < c.xShape.size(); ++i)
    rows *= c.xShape[i];
  MatmulRun r = runMatmul(c.xShape, xType, c.n, c.bits, c.avg,
                          c.bits * 7919 + k + uint64_t(c.avg * 4));
  ASSERT_EQ(r.out.size(), 4u);
  Packed p{static_cast<const uint8_t *>(r.out[0].data()),
           static_cast<const float *>(r.out[1].data()), c.n, k, c.bits};
  const float *wHat = static_cast<const float *>(r.out[2].data());
  std::vector<double> y = valuesOf(r.out[3]);
  const bool full = c.avg == double(c.bits);
  for (int64_t row = 0; row < rows; ++row) {
    const double *x = r.x.data() + row * k;
    std::vector<int> b = referenceBits(x, k, c.avg, c.bits);
    int64_t spent = std::accumulate(b.begin(), b.end(), int64_t{0});
    EXPECT_EQ(spent,
              std::min<int64_t>(int64_t(std::floor(k * c.avg)), k * c.bits));
    for (int64_t n = 0; n < c.n; ++n) {
      double got = y[row * c.n + n];
      if (full) {
        // tessera.dequantize then the same f32 sum, one rounding per step.
        float acc = 0;
        for (int64_t j = 0; j < k; ++j) {
          float prod = static_cast<float>(x[j]) * wHat[n * k + j];
          acc = acc + prod;
        }
        float want = acc;
        if (c.bf16)
          want = bf16ToFloat(floatToBF16(acc));
        EXPECT_EQ(static_cast<float>(got), want) << "row " << row << " n " << n;
        continue;
      }
      double want = 0, mag = 0;
      for (int64_t j = 0; j < k; ++j) {
        if (b[j] == 0)
          continue;
        double term = x[j] * double(p.valueAt(n, j, b[j]));
        want += term;
        mag += std::fabs(term);
      }
      double tol = c.bf16 ? 1e-2 * std::max(std::fabs(want), 1e-3 * mag)
                          : 1e-5 * std::max(mag, 1e-30);
      EXPECT_NEAR(got, want, tol) << "row " << row << " n " << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(
    Budgets, GradedMatmul,
    ::testing::Values(
        MCase{{3, 64}, 9, 4, 4.0, false}, MCase{{2, 3, 100}, 7, 3, 3.0, false},
        MCase{{5, 256}, 12, 8, 8.0, false}, MCase{{4, 64}, 9, 4, 2.5, false},
        MCase{{2, 3, 100}, 7, 3, 1.0, false}, MCase{{3, 64}, 5, 4, 0.0, false},
        MCase{{3, 64}, 5, 4, 3.99, false}, MCase{{5, 256}, 12, 8, 0.3, false},
        MCase{{4, 96}, 6, 4, 4.0, true}, MCase{{4, 96}, 6, 4, 1.75, true}),
    [](const ::testing::TestParamInfo<MCase> &info) {
      std::string name = "x" + dims(info.param.xShape) + "_n" +
                         std::to_string(info.param.n) + "_b" +
                         std::to_string(info.param.bits) + "_avg" +
                         std::to_string(int(info.param.avg * 100)) +
                         (info.param.bf16 ? "_bf16" : "_f32");
      return name;
    });

// More bits, less error: ||y - x W^T|| over 16 rows of x and 32 outputs falls
// at every step of avg_bits from 0.5 to B.
TEST(GradedMatmulError, FallsWithTheBudget) {
  const int bits = 4;
  const int64_t rows = 16, k = 128, n = 32;
  double last = std::numeric_limits<double>::infinity();
  for (double avg : {0.5, 1.0, 2.0, 3.0, 4.0}) {
    MatmulRun r = runMatmul({rows, k}, DType::F32, n, bits, avg, 99);
    ASSERT_EQ(r.out.size(), 4u);
    std::vector<double> y = valuesOf(r.out[3]);
    double err = 0;
    for (int64_t row = 0; row < rows; ++row)
      for (int64_t o = 0; o < n; ++o) {
        double exact = 0;
        for (int64_t j = 0; j < k; ++j)
          exact += r.x[row * k + j] * r.w[o * k + j];
        double e = y[row * n + o] - exact;
        err += e * e;
      }
    err = std::sqrt(err);
    EXPECT_LT(err, last) << "avg_bits " << avg;
    last = err;
  }
}

} // namespace
