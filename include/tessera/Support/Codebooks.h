//===- Codebooks.h - Compile-time tables of the quantization codecs -*- C++
//-*-===//
//
// The constants that the packed-KV codecs bake into the code they emit,
// computed here rather than typed in, in plain C++ (no MLIR) so that tests and
// tools can check them:
//  - Lloyd-Max codebooks of the unit Gaussian at 1..8 bits (Max 1960; the
//    TQ-MSE and Block-GTQ scalar quantizers, ALGORITHMS.md 4a/4d);
//  - seeded orthogonal rotations: the randomized Hadamard transform and
//    Haar-distributed matrices (ALGORITHMS.md 4a/4c);
//  - the normalised second moments of the lattices (ALGORITHMS.md 4c), used to
//    turn a target SNR into the lattice scale alpha.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_CODEBOOKS_H
#define TESSERA_SUPPORT_CODEBOOKS_H

#include <cstdint>
#include <vector>

namespace mlir::tessera {

/// The Lloyd-Max quantizer of N(0, 1) with 2^bits levels (1 <= bits <= 8):
/// centroids ascending, and thresholds[k] = (centroids[k] + centroids[k+1])
/// / 2.
struct LloydMaxCodebook {
  std::vector<double> centroids;
  std::vector<double> thresholds;
  /// E[(X - Q(X))^2] for X ~ N(0, 1), integrated exactly over the cells.
  double mse;
};

/// Computed once per width by Lloyd's iteration on the exact Gaussian cell
/// moments (erf / exp) until no centroid moves by more than 1e-11; cached.
const LloydMaxCodebook &lloydMaxGaussian(int bits);

/// An n x n orthogonal matrix, row-major: y = M x rotates x.
///  hadamard: M = H diag(s) / sqrt(n), H Sylvester-ordered and s the seeded
///            signs of tessera/Support/RandomSigns.h (n a power of two), so
///            y equals tessera.hadamard's output for the same seed;
///  haar:     Q of the QR factorisation of a seeded standard-Gaussian matrix
///            (entries from splitmix64 counters through Box-Muller), with the
///            signs of R's diagonal folded into Q so that Q is
///            Haar-distributed;
///  none:     the identity.
enum class RotationKind { None, Hadamard, Haar };
std::vector<double> orthogonalMatrix(RotationKind kind, uint64_t seed,
                                     int64_t n);

/// Lattices of the lattice scheme: the dimension of a piece and the volume of
/// the Voronoi cell of the scaled lattice as the codec uses it (Z^n and D_n
/// integer, E8 = D8 u (D8 + 1/2), A2 hexagonal with minimal distance 1).
enum class LatticeId { E8, D4, A2, Z };
int64_t latticePieceDim(LatticeId lattice);
double latticeCellVolume(LatticeId lattice);
/// Normalised second moment G = E||e||^2 / (n V^(2/n)) (Conway & Sloane):
/// E8 0.071682, D4 0.076603, A2 0.080188, Z 1/12.
double latticeSecondMoment(LatticeId lattice);
/// The scale alpha at which a unit-variance coordinate quantized on `lattice`
/// has the signal-to-noise ratio `snrDb` (granular noise G V^(2/n) / alpha^2).
double latticeAlphaForSnr(LatticeId lattice, double snrDb);

} // namespace mlir::tessera

#endif // TESSERA_SUPPORT_CODEBOOKS_H
