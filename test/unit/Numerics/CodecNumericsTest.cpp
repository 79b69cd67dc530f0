//===- CodecNumericsTest.cpp - tq_mse, block_gtq and lattice codecs -------===//
//
// The compile-time tables against the published numbers (Lloyd-Max MSE of
// Max 1960, orthogonality of the rotations), then each compiled codec against
// a reference written here from ALGORITHMS.md 4a-4c: nearest centroids by
// brute force, the Block-GTQ layout rebuilt from the bit list, lattice nearest
// points by exhaustive search, the lattices' normalised second moments
// measured through the compiled quantizer, and attention over each packed
// format against attention over the dequantized values.
//
//===----------------------------------------------------------------------===//
#include "Harness.h"
#include "Reference.h"

#include "tessera/Support/Codebooks.h"

#include <cmath>
#include <map>
#include <sstream>

using namespace tessera;
using namespace tessera::test;
using mlir::tessera::LatticeId;
using mlir::tessera::lloydMaxGaussian;
using mlir::tessera::orthogonalMatrix;
using mlir::tessera::RotationKind;

namespace {

/// Module `@q(x: rows x d) -> (packed, dequantized)` for the quant attribute
/// `attr`.
std::string roundTripModule(int64_t rows, int64_t d, const std::string &attr) {
  std::string t =
      "tensor<" + std::to_string(rows) + "x" + std::to_string(d) + "xf32>";
  std::string qt = "!tessera.qtensor<" + std::to_string(rows) + "x" +
                   std::to_string(d) + "xf32, " + attr + ">";
  return "func.func @q(%x: " + t + ") -> (" + qt + ", " + t +
         ") {\n  %p = tessera.quantize %x : " + t + " -> " + qt +
         "\n  %y = tessera.dequantize %p : " + qt + " -> " + t +
         "\n  return %p, %y : " + qt + ", " + t + "\n}\n";
}

/// Bits [pos, pos + bits) of an LSB-first byte stream.
int readBits(const uint8_t *bytes, int64_t pos, int bits) {
  int v = 0;
  for (int i = 0; i < bits; ++i) {
    int64_t at = pos + i;
    v |= ((bytes[at / 8] >> (at % 8)) & 1) << i;
  }
  return v;
}

double normOf(const std::vector<double> &v) {
  double s = 0;
  for (double x : v)
    s += x * x;
  return std::sqrt(s);
}

float normValue(const HostTensor &t, int64_t i) {
  if (t.dtype() == DType::F16)
    return halfToFloat(static_cast<const uint16_t *>(t.data())[i]);
  return static_cast<const float *>(t.data())[i];
}

//===----------------------------------------------------------------------===//
// Compile-time tables
//===----------------------------------------------------------------------===//

TEST(Codebooks, LloydMaxMatchesMax1960) {
  // ALGORITHMS.md 4d.
  const double mse[] = {0.3634, 0.1175, 0.03455, 0.009501};
  for (int bits = 1; bits <= 4; ++bits)
    EXPECT_NEAR(lloydMaxGaussian(bits).mse, mse[bits - 1], 0.01 * mse[bits - 1])
        << bits << " bits";
  const std::vector<std::vector<double>> positive = {
      {0.7979}, {0.4528, 1.5104}, {0.2451, 0.7560, 1.3439, 2.1519}};
  for (int bits = 1; bits <= 3; ++bits) {
    const auto &c = lloydMaxGaussian(bits).centroids;
    ASSERT_EQ(c.size(), size_t{1} << bits);
    for (size_t k = 0; k < positive[bits - 1].size(); ++k) {
      EXPECT_NEAR(c[c.size() / 2 + k], positive[bits - 1][k], 2e-4);
      EXPECT_NEAR(c[c.size() / 2 - 1 - k], -positive[bits - 1][k], 2e-4);
    }
  }
  // More bits always help, and no scalar quantizer reaches the bound 2^(-2b).
  for (int bits = 1; bits <= 8; ++bits) {
    const auto &cb = lloydMaxGaussian(bits);
    EXPECT_GT(cb.mse, std::pow(2.0, -2.0 * bits)) << bits;
    if (bits > 1) {
      EXPECT_LT(cb.mse, lloydMaxGaussian(bits - 1).mse) << bits;
    }
    for (size_t k = 0; k + 1 < cb.centroids.size(); ++k)
      ASSERT_LT(cb.centroids[k], cb.centroids[k + 1]);
  }
}

TEST(Codebooks, RotationsAreOrthogonal) {
  for (auto [kind, n] : std::vector<std::pair<RotationKind, int64_t>>{
           {RotationKind::Hadamard, 8},
           {RotationKind::Hadamard, 128},
           {RotationKind::Haar, 6},
           {RotationKind::Haar, 96}}) {
    std::vector<double> m = orthogonalMatrix(kind, 5, n);
    double worst = 0;
    for (int64_t i = 0; i < n; ++i)
      for (int64_t j = 0; j < n; ++j) {
        double dot = 0;
        for (int64_t k = 0; k < n; ++k)
          dot += m[i * n + k] * m[j * n + k];
        worst = std::max(worst, std::fabs(dot - (i == j ? 1.0 : 0.0)));
      }
    EXPECT_LT(worst, 1e-12) << n;
    EXPECT_NE(m, orthogonalMatrix(kind, 6, n)) << "the seed must matter";
  }
}

// The Hadamard rotation of the codecs is tessera.hadamard's transform.
TEST(Codebooks, HadamardRotationIsTheHadamardOp) {
  const int64_t d = 32;
  auto m =
      compileOrFail("func.func @h(%x: tensor<3x32xf32>) -> tensor<3x32xf32> {\n"
                    "  %y = tessera.hadamard %x {seed = 9} : tensor<3x32xf32>\n"
                    "  return %y : tensor<3x32xf32>\n}\n");
  ASSERT_TRUE(m);
  std::mt19937_64 rng(3);
  auto x = randomValues(3 * d, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {3, d}, x));
  std::vector<double> y = valuesOf(run(*m, in)[0]);
  std::vector<double> r = orthogonalMatrix(RotationKind::Hadamard, 9, d);
  for (int64_t row = 0; row < 3; ++row)
    for (int64_t p = 0; p < d; ++p) {
      double acc = 0;
      for (int64_t k = 0; k < d; ++k)
        acc += r[p * d + k] * x[row * d + k];
      EXPECT_NEAR(y[row * d + p], acc, 1e-5);
    }
}

//===----------------------------------------------------------------------===//
// Scalar codecs: tq_mse and block_gtq
//===----------------------------------------------------------------------===//

/// The layout of a scalar scheme, rebuilt from ALGORITHMS.md 4a/4b.
struct Segment {
  int bits;
  int64_t byteOffset;
  std::vector<int64_t> dims; ///< original dims, in rotated order
  std::vector<double> rotation;
};

std::vector<Segment> scalarLayout(const std::vector<int> &blockBits,
                                  int uniformBits, int64_t d, RotationKind kind,
                                  uint64_t seed) {
  std::vector<Segment> segs;
  if (blockBits.empty()) {
    Segment s{uniformBits, 0, {}, orthogonalMatrix(kind, seed, d)};
    for (int64_t i = 0; i < d; ++i)
      s.dims.push_back(i);
    segs.push_back(s);
    return segs;
  }
  std::map<int, std::vector<int64_t>, std::greater<int>> byWidth;
  for (size_t i = 0; i < blockBits.size(); ++i)
    byWidth[blockBits[i]].push_back(static_cast<int64_t>(i));
  int64_t offset = 0;
  for (auto &[w, blocks] : byWidth) {
    Segment s{w, offset, {}, {}};
    for (int64_t i : blocks)
      s.dims.push_back(i);
    for (int64_t i : blocks)
      s.dims.push_back(i + d / 2);
    s.rotation = orthogonalMatrix(kind, seed + segs.size(), s.dims.size());
    offset += (static_cast<int64_t>(s.dims.size()) * w + 7) / 8;
    segs.push_back(std::move(s));
  }
  return segs;
}

struct ScalarCase {
  std::string name;
  std::vector<int> blockBits; ///< empty: tq_mse
  int bits;                   ///< tq_mse width
  int64_t d;
  bool haar;
  bool f16Norm;
};

void PrintTo(const ScalarCase &c, std::ostream *os) { *os << c.name; }

std::string scalarAttr(const ScalarCase &c) {
  std::ostringstream os;
  if (c.blockBits.empty()) {
    os << "#tessera.quant<tq_mse, bits = " << c.bits;
  } else {
    os << "#tessera.quant<block_gtq, bits = [";
    for (size_t i = 0; i < c.blockBits.size(); ++i)
      os << (i ? ", " : "") << c.blockBits[i];
    os << "]";
  }
  os << ", rotation = " << (c.haar ? "haar" : "hadamard")
     << ", seed = 3, norm = " << (c.f16Norm ? "f16" : "f32") << ">";
  return os.str();
}

class ScalarCodec : public ::testing::TestWithParam<ScalarCase> {};

TEST_P(ScalarCodec, PacksLikeTheReferenceAndDecodesExactly) {
  const ScalarCase c = GetParam();
  const int64_t rows = 41, d = c.d;
  auto m = compileOrFail(roundTripModule(rows, d, scalarAttr(c)));
  ASSERT_TRUE(m);
  std::mt19937_64 rng(c.d * 31 + c.bits + c.blockBits.size());
  auto x = randomValues(rows * d, DType::F32, rng);
  for (int64_t j = 0; j < d; ++j)
    x[j] = 0;        // a zero row
  x[2 * d + 1] = 40; // an outlier channel
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {rows, d}, x));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 3u);
  std::vector<Segment> segs =
      scalarLayout(c.blockBits, c.bits, d,
                   c.haar ? RotationKind::Haar : RotationKind::Hadamard, 3);
  int64_t bytes = out[0].shape().back();
  int64_t expectBytes = 0;
  for (const Segment &s : segs)
    expectBytes += (static_cast<int64_t>(s.dims.size()) * s.bits + 7) / 8;
  ASSERT_EQ(bytes, expectBytes);
  std::vector<double> deq = valuesOf(out[2]);

  int64_t mismatches = 0, coords = 0;
  double errSum = 0, normSum = 0;
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t *codes =
        static_cast<const uint8_t *>(out[0].data()) + r * bytes;
    std::vector<double> xhat(d, 0.0);
    for (size_t g = 0; g < segs.size(); ++g) {
      const Segment &s = segs[g];
      int64_t n = s.dims.size();
      const auto &cb = lloydMaxGaussian(s.bits);
      double cscale = 1.0 / std::sqrt(static_cast<double>(n));
      // y = R x[dims].
      std::vector<double> y(n, 0.0);
      for (int64_t p = 0; p < n; ++p)
        for (int64_t k = 0; k < n; ++k)
          y[p] += s.rotation[p * n + k] * x[r * d + s.dims[k]];
      double norm = normOf(y);
      std::vector<double> cval(n);
      for (int64_t p = 0; p < n; ++p) {
        int code = readBits(codes, s.byteOffset * 8 + p * s.bits, s.bits);
        cval[p] = cb.centroids[code] * cscale;
        // The nearest centroid, by brute force.
        double u = norm > 0 ? y[p] / norm : 0;
        int best = 0;
        for (size_t k = 1; k < cb.centroids.size(); ++k)
          if (std::fabs(u - cb.centroids[k] * cscale) <
              std::fabs(u - cb.centroids[best] * cscale))
            best = static_cast<int>(k);
        ++coords;
        if (code != best) {
          ++mismatches;
          // Only a near-tie (u on a threshold up to f32 rounding) may differ.
          double gap = std::fabs(std::fabs(u - cb.centroids[code] * cscale) -
                                 std::fabs(u - cb.centroids[best] * cscale));
          EXPECT_LT(gap, 2e-6)
              << "row " << r << " segment " << g << " pos " << p << ": code "
              << code << ", nearest " << best;
        }
      }
      // The stored norm is ||y|| / ||c|| (the norm correction, folded).
      double cn = normOf(cval);
      double want = cn > 0 ? norm / cn : 0;
      int64_t normIndex =
          c.blockBits.empty() ? r : r * static_cast<int64_t>(segs.size()) + g;
      double got = normValue(out[1], normIndex);
      EXPECT_NEAR(got, want, (c.f16Norm ? 1e-3 : 2e-6) * want + 1e-30)
          << "row " << r << " segment " << g;
      // x_hat = R^T (c * stored norm), from the compiled codes.
      for (int64_t k = 0; k < n; ++k) {
        double acc = 0;
        for (int64_t p = 0; p < n; ++p)
          acc += s.rotation[p * n + k] * cval[p] * got;
        xhat[s.dims[k]] = acc;
      }
    }
    for (int64_t j = 0; j < d; ++j) {
      EXPECT_NEAR(deq[r * d + j], xhat[j], 1e-5 * (1 + std::fabs(xhat[j])))
          << "row " << r << " dim " << j;
      if (r > 2) { // Gaussian rows only
        errSum +=
            (deq[r * d + j] - x[r * d + j]) * (deq[r * d + j] - x[r * d + j]);
        normSum += x[r * d + j] * x[r * d + j];
      }
    }
    if (r == 0) {
      for (int64_t j = 0; j < d; ++j)
        EXPECT_EQ(deq[j], 0.0) << "a zero row decodes to zero";
    }
  }
  EXPECT_LE(mismatches, coords / 200);
  // Quality: for tq_mse the relative error is the Lloyd-Max MSE of N(0, 1)
  // at that width (the norm correction changes it by a few percent).
  if (c.blockBits.empty()) {
    double rel = errSum / normSum, table = lloydMaxGaussian(c.bits).mse;
    EXPECT_GT(rel, 0.75 * table) << "relative MSE " << rel;
    EXPECT_LT(rel, 1.15 * table) << "relative MSE " << rel;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Schemes, ScalarCodec,
    ::testing::Values(ScalarCase{"tq1", {}, 1, 64, false, false},
                      ScalarCase{"tq2", {}, 2, 128, false, false},
                      ScalarCase{"tq3", {}, 3, 128, false, true},
                      ScalarCase{"tq4haar", {}, 4, 48, true, false},
                      ScalarCase{"tq8", {}, 8, 64, false, false},
                      ScalarCase{"gtq4211", {4, 2, 1, 1}, 0, 8, false, false},
                      ScalarCase{"gtqHaar",
                                 {4, 3, 3, 2, 2, 2, 1, 1, 8, 5, 1, 2},
                                 0,
                                 24,
                                 true,
                                 false},
                      ScalarCase{
                          "gtqF16",
                          {3, 3, 4, 2, 3, 3, 4, 2, 3, 3, 4, 2, 3, 3, 4, 2},
                          0,
                          32,
                          false,
                          true}),
    [](const auto &info) { return info.param.name; });

//===----------------------------------------------------------------------===//
// Lattice codec
//===----------------------------------------------------------------------===//

struct LatticeInfo {
  const char *name;
  LatticeId id;
  int n;
};
const LatticeInfo kLattices[] = {{"e8", LatticeId::E8, 8},
                                 {"d4", LatticeId::D4, 4},
                                 {"a2", LatticeId::A2, 2},
                                 {"z", LatticeId::Z, 1}};

/// The lattice point a piece's stored codes name.
std::vector<double> pointOf(LatticeId id, const int8_t *codes, int n) {
  std::vector<double> p(n);
  switch (id) {
  case LatticeId::Z:
  case LatticeId::D4:
    for (int i = 0; i < n; ++i)
      p[i] = codes[i];
    break;
  case LatticeId::E8:
    for (int i = 0; i < n; ++i)
      p[i] = 0.5 * codes[i];
    break;
  case LatticeId::A2:
    p[0] = codes[0] + 0.5 * codes[1];
    p[1] = codes[1] * std::sqrt(3.0) / 2;
    break;
  }
  return p;
}

bool isLatticePoint(LatticeId id, const int8_t *codes, int n) {
  int sum = 0;
  switch (id) {
  case LatticeId::Z:
  case LatticeId::A2:
    return true;
  case LatticeId::D4:
    for (int i = 0; i < n; ++i)
      sum += codes[i];
    return sum % 2 == 0;
  case LatticeId::E8: {
    bool odd = codes[0] & 1;
    for (int i = 0; i < n; ++i) {
      if (bool(codes[i] & 1) != odd)
        return false;
      sum += codes[i];
    }
    // Doubled coordinates: the sum of the point (or of point - 1/2) is even.
    return odd ? ((sum - n) / 2) % 2 == 0 : (sum / 2) % 2 == 0;
  }
  }
  return false;
}

double dist2(const std::vector<double> &a, const std::vector<double> &b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i)
    s += (a[i] - b[i]) * (a[i] - b[i]);
  return s;
}

/// The squared distance from `v` to the nearest lattice point, by exhaustive
/// search (floor/ceil per coordinate for Z^n cosets, a 5 x 5 window for A2).
double bruteForceNearest(LatticeId id, const std::vector<double> &v) {
  int n = v.size();
  double best = INFINITY;
  auto searchCoset = [&](double shift, bool evenSum) {
    for (int mask = 0; mask < (1 << n); ++mask) {
      std::vector<double> p(n);
      int sum = 0;
      for (int i = 0; i < n; ++i) {
        double f = std::floor(v[i] - shift) + ((mask >> i) & 1);
        p[i] = f + shift;
        sum += static_cast<int>(f);
      }
      if (evenSum && (sum % 2 + 2) % 2 != 0)
        continue;
      best = std::min(best, dist2(v, p));
    }
  };
  switch (id) {
  case LatticeId::Z:
    searchCoset(0, false);
    break;
  case LatticeId::D4:
    searchCoset(0, true);
    break;
  case LatticeId::E8:
    searchCoset(0, true);
    searchCoset(0.5, true);
    break;
  case LatticeId::A2: {
    double r3 = std::sqrt(3.0);
    int j0 = static_cast<int>(std::lround(2 * v[1] / r3));
    int i0 = static_cast<int>(std::lround(v[0] - 0.5 * j0));
    for (int j = j0 - 2; j <= j0 + 2; ++j)
      for (int i = i0 - 2; i <= i0 + 2; ++i)
        best = std::min(best, dist2(v, {i + 0.5 * j, j * r3 / 2}));
    break;
  }
  }
  return best;
}

struct LatticeRun {
  std::vector<double> x, deq, v; ///< v: alpha sqrt(D) y / ||y||
  HostTensor codes, norms;
};

LatticeRun runLattice(const LatticeInfo &l, int64_t rows, int64_t d,
                      double alpha, const char *rotation, uint64_t seed) {
  std::ostringstream attr;
  attr << "#tessera.quant<lattice, lattice = " << l.name
       << ", alpha = " << std::fixed << alpha << ", rotation = " << rotation
       << ", seed = 4>";
  LatticeRun out;
  auto m = compileOrFail(roundTripModule(rows, d, attr.str()));
  if (!m)
    return out;
  std::mt19937_64 rng(seed);
  out.x = randomValues(rows * d, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {rows, d}, out.x));
  std::vector<HostTensor> res = run(*m, in);
  out.codes = std::move(res[0]);
  out.norms = std::move(res[1]);
  out.deq = valuesOf(res[2]);
  std::vector<double> r = orthogonalMatrix(
      std::string(rotation) == "haar"       ? RotationKind::Haar
      : std::string(rotation) == "hadamard" ? RotationKind::Hadamard
                                            : RotationKind::None,
      4, d);
  for (int64_t row = 0; row < rows; ++row) {
    std::vector<double> y(d, 0.0);
    for (int64_t p = 0; p < d; ++p)
      for (int64_t k = 0; k < d; ++k)
        y[p] += r[p * d + k] * out.x[row * d + k];
    double n = normOf(y);
    for (int64_t p = 0; p < d; ++p)
      out.v.push_back(alpha * std::sqrt(double(d)) * y[p] / n);
  }
  return out;
}

class LatticeCodec : public ::testing::TestWithParam<int> {};

TEST_P(LatticeCodec, NearestPointsMatchExhaustiveSearch) {
  const LatticeInfo &l = kLattices[GetParam()];
  const int64_t rows = 60, d = 64;
  for (const char *rotation : {"none", "hadamard"}) {
    LatticeRun r = runLattice(l, rows, d, 1.5, rotation, 21 + GetParam());
    ASSERT_FALSE(r.deq.empty());
    const int8_t *codes = static_cast<const int8_t *>(r.codes.data());
    for (int64_t piece = 0; piece < rows * d / l.n; ++piece) {
      const int8_t *c = codes + piece * l.n;
      ASSERT_TRUE(isLatticePoint(l.id, c, l.n)) << "piece " << piece;
      std::vector<double> v(r.v.begin() + piece * l.n,
                            r.v.begin() + (piece + 1) * l.n);
      double got = dist2(v, pointOf(l.id, c, l.n));
      EXPECT_LE(got, bruteForceNearest(l.id, v) + 1e-4)
          << l.name << " piece " << piece << " (" << rotation << ")";
    }
    // Dequantized: point * ||y|| / (alpha sqrt(D)), rotated back.
    std::vector<double> rot = orthogonalMatrix(std::string(rotation) == "none"
                                                   ? RotationKind::None
                                                   : RotationKind::Hadamard,
                                               4, d);
    for (int64_t row = 0; row < rows; ++row) {
      float norm = static_cast<const float *>(r.norms.data())[row];
      std::vector<double> yhat(d);
      for (int64_t p = 0; p < d; p += l.n) {
        std::vector<double> pt = pointOf(l.id, codes + row * d + p, l.n);
        for (int i = 0; i < l.n; ++i)
          yhat[p + i] = pt[i] * norm / (1.5 * std::sqrt(double(d)));
      }
      for (int64_t k = 0; k < d; ++k) {
        double acc = 0;
        for (int64_t p = 0; p < d; ++p)
          acc += rot[p * d + k] * yhat[p];
        EXPECT_NEAR(r.deq[row * d + k], acc, 1e-5 * (1 + std::fabs(acc)));
      }
    }
  }
}

// G = E||e||^2 / (n V^(2/n)) in the granular regime, measured on the compiled
// quantizer's choices: within 1% of Conway & Sloane's values.
TEST_P(LatticeCodec, NormalisedSecondMoment) {
  const LatticeInfo &l = kLattices[GetParam()];
  const double table[] = {0.071682, 0.076603, 0.080188, 1.0 / 12};
  const int64_t rows = 3000, d = 64;
  LatticeRun r = runLattice(l, rows, d, 7.0, "none", 90 + GetParam());
  ASSERT_FALSE(r.deq.empty());
  const int8_t *codes = static_cast<const int8_t *>(r.codes.data());
  double sum = 0;
  int64_t pieces = rows * d / l.n;
  for (int64_t piece = 0; piece < pieces; ++piece) {
    std::vector<double> v(r.v.begin() + piece * l.n,
                          r.v.begin() + (piece + 1) * l.n);
    sum += dist2(v, pointOf(l.id, codes + piece * l.n, l.n));
  }
  double g = sum / pieces / l.n /
             std::pow(mlir::tessera::latticeCellVolume(l.id), 2.0 / l.n);
  EXPECT_NEAR(g, table[GetParam()], 0.01 * table[GetParam()]) << l.name;
}

// Subtractive dither: one fixed vector quantized in 4000 rows (each row draws
// its own dither) has a zero-mean error on every coordinate, whose mean square
// is the cell's second moment G V^(2/n) whatever the input; without dither the
// same rows all carry the same (biased) error.
TEST_P(LatticeCodec, DitherMakesTheErrorZeroMean) {
  const LatticeInfo &l = kLattices[GetParam()];
  const double table[] = {0.071682, 0.076603, 0.080188, 1.0 / 12};
  const int64_t rows = 4000, d = 32;
  const double alpha = 1.25;
  std::mt19937_64 rng(500 + GetParam());
  std::vector<double> one = randomValues(d, DType::F32, rng), x;
  for (int64_t r = 0; r < rows; ++r)
    x.insert(x.end(), one.begin(), one.end());
  double norm = normOf(one), toLattice = alpha * std::sqrt(double(d)) / norm;
  for (bool dither : {true, false}) {
    for (int seed : {1, 2, 3}) {
      std::ostringstream attr;
      attr << "#tessera.quant<lattice, lattice = " << l.name
           << ", alpha = " << std::fixed << alpha << (dither ? ", dither" : "")
           << ", rotation = none, seed = " << seed << ">";
      auto m = compileOrFail(roundTripModule(rows, d, attr.str()));
      ASSERT_TRUE(m);
      std::vector<HostTensor> in;
      in.push_back(makeTensor(DType::F32, {rows, d}, x));
      std::vector<double> deq = valuesOf(run(*m, in)[2]);
      // Per coordinate: the mean error's z-score; mean of their squares ~ 1
      // (chi-square / dof) when the errors are zero-mean.
      double chi = 0, mse = 0;
      for (int64_t j = 0; j < d; ++j) {
        double sum = 0, sum2 = 0;
        for (int64_t r = 0; r < rows; ++r) {
          double err = (deq[r * d + j] - x[r * d + j]) * toLattice;
          sum += err;
          sum2 += err * err;
        }
        double mean = sum / rows, var = sum2 / rows - mean * mean;
        mse += sum2 / rows;
        chi += var > 0 ? mean * mean / (var / rows) : INFINITY;
      }
      chi /= d;
      mse /= d;
      if (dither) {
        EXPECT_GT(chi, 0.4) << l.name << " seed " << seed;
        EXPECT_LT(chi, 1.8) << l.name << " seed " << seed;
        double cell =
            table[GetParam()] *
            std::pow(mlir::tessera::latticeCellVolume(l.id), 2.0 / l.n);
        EXPECT_NEAR(mse, cell, 0.06 * cell) << l.name << " seed " << seed;
      } else {
        EXPECT_GT(chi, 100.0) << l.name
                              << ": without dither the error is a "
                                 "fixed bias";
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Lattices, LatticeCodec, ::testing::Values(0, 1, 2, 3),
                         [](const auto &info) {
                           return std::string(kLattices[info.param].name);
                         });

//===----------------------------------------------------------------------===//
// Attention over packed K/V, quantized in the same module
//===----------------------------------------------------------------------===//

struct AttnCase {
  std::string name, kAttr, vAttr;
  int64_t d;
};

void PrintTo(const AttnCase &c, std::ostream *os) { *os << c.name; }

class TransformCodecAttention : public ::testing::TestWithParam<AttnCase> {};

TEST_P(TransformCodecAttention, MatchesAttentionOnDequantizedValues) {
  const AttnCase c = GetParam();
  const int64_t B = 2, Hq = 8, Hkv = 2, Sq = 19, Skv = 150, D = c.d;
  auto shape = [&](int64_t h, int64_t s) {
    return "tensor<" + std::to_string(B) + "x" + std::to_string(h) + "x" +
           std::to_string(s) + "x" + std::to_string(D) + "xf32>";
  };
  std::string qT = shape(Hq, Sq), kvT = shape(Hkv, Skv);
  std::string kQ = "!tessera.qtensor<" + kvT.substr(7, kvT.size() - 8) + ", " +
                   c.kAttr + ">";
  std::string vQ = "!tessera.qtensor<" + kvT.substr(7, kvT.size() - 8) + ", " +
                   c.vAttr + ">";
  std::string lseT = "tensor<2x8x19xf32>";
  std::string mlir =
      "func.func @a(%q: " + qT + ", %k: " + kvT + ", %v: " + kvT + ") -> (" +
      qT + ", " + lseT + ", " + kvT + ", " + kvT + ") {\n" +
      "  %kp = tessera.quantize %k : " + kvT + " -> " + kQ + "\n" +
      "  %vp = tessera.quantize %v : " + kvT + " -> " + vQ + "\n" +
      "  %o, %l = tessera.attention %q, %kp, %vp {causal, window = 90, "
      "block_q = 16, block_k = 32} : " +
      qT + ", " + kQ + ", " + vQ + " -> " + qT + ", " + lseT + "\n" +
      "  %kd = tessera.dequantize %kp : " + kQ + " -> " + kvT + "\n" +
      "  %vd = tessera.dequantize %vp : " + vQ + " -> " + kvT + "\n" +
      "  return %o, %l, %kd, %vd : " + qT + ", " + lseT + ", " + kvT + ", " +
      kvT + "\n}\n";
  auto m = compileOrFail(mlir);
  ASSERT_TRUE(m);
  std::mt19937_64 rng(D + c.name.size());
  auto q = randomValues(B * Hq * Sq * D, DType::F32, rng);
  auto k = randomValues(B * Hkv * Skv * D, DType::F32, rng);
  auto v = randomValues(B * Hkv * Skv * D, DType::F32, rng);
  std::vector<HostTensor> in;
  in.push_back(makeTensor(DType::F32, {B, Hq, Sq, D}, q));
  in.push_back(makeTensor(DType::F32, {B, Hkv, Skv, D}, k));
  in.push_back(makeTensor(DType::F32, {B, Hkv, Skv, D}, v));
  std::vector<HostTensor> out = run(*m, in);
  ASSERT_EQ(out.size(), 4u);
  std::vector<double> kd = valuesOf(out[2]), vd = valuesOf(out[3]);

  reference::Attention ref;
  ref.B = B, ref.Hq = Hq, ref.Hkv = Hkv, ref.Sq = Sq, ref.Skv = Skv, ref.D = D,
  ref.Dv = D;
  ref.causal = true;
  ref.window = 90;
  std::vector<double> oRef, lseRef;
  reference::attention(ref, q, kd, vd, oRef, lseRef);
  std::vector<double> o = valuesOf(out[0]), lse = valuesOf(out[1]);
  double scale = 0, worst = 0, worstLse = 0;
  for (double x : oRef)
    scale = std::max(scale, std::fabs(x));
  for (size_t i = 0; i < o.size(); ++i)
    worst = std::max(worst, std::fabs(o[i] - oRef[i]) / scale);
  for (size_t i = 0; i < lse.size(); ++i)
    worstLse = std::max(worstLse, std::fabs(lse[i] - lseRef[i]));
  EXPECT_LE(worst, 2e-5);
  EXPECT_LE(worstLse, 2e-5);
  // And the packed cache is close to the f32 one (the codec did quantize).
  double kErr = 0, kNorm = 0;
  for (size_t i = 0; i < k.size(); ++i) {
    kErr += (kd[i] - k[i]) * (kd[i] - k[i]);
    kNorm += k[i] * k[i];
  }
  EXPECT_LT(kErr / kNorm, 0.2);
  EXPECT_GT(kErr / kNorm, 1e-6);
}

INSTANTIATE_TEST_SUITE_P(
    Formats, TransformCodecAttention,
    ::testing::Values(
        AttnCase{"tq3", "#tessera.quant<tq_mse, bits = 3>",
                 "#tessera.quant<tq_mse, bits = 3, seed = 1, norm = f16>", 64},
        // K3V3: Block-GTQ keys (average 3 bits), TQ-MSE 3-bit values.
        AttnCase{"K3V3",
                 "#tessera.quant<block_gtq, bits = [5, 4, 4, 3, 3, 3, 3, 3, 3, "
                 "3, 3, 3, 2, 2, 2, 2], rotation = haar, seed = 2>",
                 "#tessera.quant<tq_mse, bits = 3, seed = 5, norm = f16>", 32},
        AttnCase{"lattice",
                 "#tessera.quant<lattice, lattice = e8, alpha = 3.0, rotation "
                 "= hadamard, seed = 1>",
                 "#tessera.quant<lattice, lattice = d4, alpha = 2.5, rotation "
                 "= haar, seed = 2>",
                 64},
        AttnCase{"dither",
                 "#tessera.quant<lattice, lattice = e8, snr = 18.0, dither, "
                 "rotation = hadamard, seed = 3>",
                 "#tessera.quant<lattice, lattice = a2, snr = 15.0, dither, "
                 "rotation = none, seed = 4>",
                 32},
        AttnCase{"mixed", "#tessera.quant<tq_mse, bits = 4, rotation = haar>",
                 "#tessera.quant<int, bits = 4, group = 16>", 48}),
    [](const auto &info) { return info.param.name; });

} // namespace
