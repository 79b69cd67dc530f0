//===- Codebooks.cpp - Compile-time tables of the quantization codecs -----===//
#include "tessera/Support/Codebooks.h"
#include "tessera/Support/RandomSigns.h"

#include <array>
#include <cmath>
#include <mutex>

using namespace mlir::tessera;

namespace {

constexpr double kPi = 3.14159265358979323846;

double phi(double x) { return std::exp(-0.5 * x * x) / std::sqrt(2.0 * kPi); }
double cdf(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }

/// Lloyd's iteration from equal-probability cells.
LloydMaxCodebook computeLloydMax(int bits) {
  int levels = 1 << bits;
  std::vector<double> c(levels), t(levels - 1);
  // Start from the high-resolution optimum (Panter & Dite: point density
  // proportional to p^(1/3), for N(0, 1) the quantiles of N(0, 3)), so that
  // Lloyd's linear convergence has little left to do even at 8 bits.
  for (int k = 0; k < levels; ++k) {
    double p = (k + 0.5) / levels, lo = -10, hi = 10;
    for (int it = 0; it < 200; ++it) {
      double mid = 0.5 * (lo + hi);
      (cdf(mid) < p ? lo : hi) = mid;
    }
    c[k] = std::sqrt(3.0) * 0.5 * (lo + hi);
  }
  // Over-relaxed Lloyd steps: the fixed point is the same, reached in far
  // fewer sweeps when there are many cells (the plain step's contraction
  // approaches 1 as the cells shrink).
  const double relax = levels >= 32 ? 1.9 : 1.0;
  for (int iter = 0; iter < 200000; ++iter) {
    for (int k = 0; k + 1 < levels; ++k)
      t[k] = 0.5 * (c[k] + c[k + 1]);
    double moved = 0;
    for (int k = 0; k < levels; ++k) {
      double a = k == 0 ? -INFINITY : t[k - 1];
      double b = k + 1 == levels ? INFINITY : t[k];
      double pa = std::isinf(a) ? 0 : phi(a), pb = std::isinf(b) ? 0 : phi(b);
      double mass = (std::isinf(b) ? 1 : cdf(b)) - (std::isinf(a) ? 0 : cdf(a));
      // E[X | a < X < b] = (phi(a) - phi(b)) / mass.
      double next = mass > 0 ? (pa - pb) / mass : c[k];
      moved = std::max(moved, std::fabs(next - c[k]));
      c[k] += relax * (next - c[k]);
    }
    if (moved < 1e-11)
      break;
  }
  for (int k = 0; k + 1 < levels; ++k)
    t[k] = 0.5 * (c[k] + c[k + 1]);
  // MSE = 1 - sum_k P_k c_k^2 at the centroid condition.
  double mse = 1.0;
  for (int k = 0; k < levels; ++k) {
    double a = k == 0 ? 0 : cdf(t[k - 1]);
    double b = k + 1 == levels ? 1 : cdf(t[k]);
    mse -= (b - a) * c[k] * c[k];
  }
  return {std::move(c), std::move(t), mse};
}

/// A standard Gaussian from two splitmix64 counters (Box-Muller).
double gaussian(uint64_t seed, uint64_t counter) {
  auto uniform = [&](uint64_t salt) {
    uint64_t z = splitmix64(seed * 0xD1B54A32D192ED03ULL +
                            (2 * counter + salt + 1) * 0x9E3779B97F4A7C15ULL);
    return (static_cast<double>(z >> 11) + 0.5) * (1.0 / 9007199254740992.0);
  };
  double u1 = uniform(0), u2 = uniform(1);
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

} // namespace

const LloydMaxCodebook &mlir::tessera::lloydMaxGaussian(int bits) {
  static std::array<LloydMaxCodebook, 9> cache;
  static std::array<std::once_flag, 9> once;
  std::call_once(once[bits], [bits] { cache[bits] = computeLloydMax(bits); });
  return cache[bits];
}

std::vector<double> mlir::tessera::orthogonalMatrix(RotationKind kind,
                                                    uint64_t seed, int64_t n) {
  std::vector<double> m(n * n, 0.0);
  switch (kind) {
  case RotationKind::None:
    for (int64_t i = 0; i < n; ++i)
      m[i * n + i] = 1;
    break;
  case RotationKind::Hadamard: {
    double scale = 1.0 / std::sqrt(static_cast<double>(n));
    for (int64_t p = 0; p < n; ++p)
      for (int64_t d = 0; d < n; ++d) {
        // Sylvester: H[p][d] = (-1)^popcount(p & d).
        int sign =
            __builtin_popcountll(static_cast<uint64_t>(p & d)) & 1 ? -1 : 1;
        m[p * n + d] = sign * randomSign(seed, d) * scale;
      }
    break;
  }
  case RotationKind::Haar: {
    // Modified Gram-Schmidt on the columns of a Gaussian matrix G = QR; column
    // j of Q is then multiplied by sign(R_jj), which Gram-Schmidt makes
    // positive already, so Q is Haar-distributed as is.
    std::vector<double> g(n * n);
    for (int64_t i = 0; i < n * n; ++i)
      g[i] = gaussian(seed, static_cast<uint64_t>(i));
    for (int64_t j = 0; j < n; ++j) {
      for (int64_t k = 0; k < j; ++k) {
        double dot = 0;
        for (int64_t i = 0; i < n; ++i)
          dot += g[i * n + j] * g[i * n + k];
        for (int64_t i = 0; i < n; ++i)
          g[i * n + j] -= dot * g[i * n + k];
      }
      double norm = 0;
      for (int64_t i = 0; i < n; ++i)
        norm += g[i * n + j] * g[i * n + j];
      norm = std::sqrt(norm);
      for (int64_t i = 0; i < n; ++i)
        g[i * n + j] /= norm;
    }
    m = std::move(g);
    break;
  }
  }
  return m;
}

int64_t mlir::tessera::latticePieceDim(LatticeId lattice) {
  switch (lattice) {
  case LatticeId::E8:
    return 8;
  case LatticeId::D4:
    return 4;
  case LatticeId::A2:
    return 2;
  case LatticeId::Z:
    return 1;
  }
  return 1;
}

double mlir::tessera::latticeCellVolume(LatticeId lattice) {
  switch (lattice) {
  case LatticeId::D4:
    return 2.0; // index 2 in Z^4
  case LatticeId::A2:
    return std::sqrt(3.0) / 2.0;
  case LatticeId::E8:
  case LatticeId::Z:
    return 1.0;
  }
  return 1.0;
}

double mlir::tessera::latticeSecondMoment(LatticeId lattice) {
  switch (lattice) {
  case LatticeId::E8:
    return 929.0 / 12960.0; // Conway & Sloane, table 2.3
  case LatticeId::D4:
    return 0.0766032;
  case LatticeId::A2:
    return 5.0 / (36.0 * std::sqrt(3.0));
  case LatticeId::Z:
    return 1.0 / 12.0;
  }
  return 1.0 / 12.0;
}

double mlir::tessera::latticeAlphaForSnr(LatticeId lattice, double snrDb) {
  double n = static_cast<double>(latticePieceDim(lattice));
  double noise = latticeSecondMoment(lattice) *
                 std::pow(latticeCellVolume(lattice), 2.0 / n);
  return std::sqrt(std::pow(10.0, snrDb / 10.0) * noise);
}
