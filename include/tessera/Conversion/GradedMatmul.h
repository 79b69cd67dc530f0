//===- GradedMatmul.h - tessera.graded_matmul for every target --*- C++ -*-===//
//
// tessera.graded_matmul runs in two row phases, each through a target's
// RowRunner (RowOps.h), so the CPU (scf.parallel) and the GPU (a thread per
// row) run the same code and the CPU numerics tests cover both:
//  1. per row of x: the bits b_j of every input channel, from the rank of
//     |x_j| under the row's budget, into an i32 buffer [..., K];
//  2. per output element (row of x, n): sum_j x_j * W_{b_j}[n, j] over j
//     ascending in f32, skipping b_j = 0.
// When the budget covers every channel at full precision the first phase is
// left out and every channel reads all planes.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_GRADEDMATMUL_H
#define TESSERA_CONVERSION_GRADEDMATMUL_H

#include "tessera/Conversion/GradedCodec.h"
#include "tessera/Conversion/RowOps.h"

namespace mlir::tessera {

/// The graded_matmul pattern, its phases run by `runner`.
void populateGradedMatmulPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns,
                                  RowRunner runner);

/// The CPU lowering's registration (TesseraToLoops/GradedMatmulToLoops.cpp):
/// both phases in scf.parallel loops.
void populateGradedMatmulToLoopsPatterns(const TypeConverter &converter,
                                         RewritePatternSet &patterns);

/// The bits of every input channel of row `lead` of `x` ([..., K], any float
/// type) into `bits[lead..., 0:K]` (i32): channels in decreasing |x_j| (ties:
/// lower j first) take `maxBits` while `budget` allows, the next one what
/// remains, the rest 0. `row` is an f32 scratch row of K.
void emitGradedBitsRow(Emitter &e, Value x, ValueRange lead, Value bits,
                       Value row, int64_t budget, int64_t maxBits);

/// y[lead..., n] of the graded matmul: sum over j ascending of x[lead..., j]
/// * W_b[n, j] in f32, b = bits[lead..., j] (channels with b = 0 skipped), or
/// b = B for every channel when `bits` is null. `parts` are W's components.
Value emitGradedDot(Emitter &e, const GradedCodec &codec, Value x,
                    ValueRange lead, Value n, ValueRange parts, Value bits);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_GRADEDMATMUL_H
