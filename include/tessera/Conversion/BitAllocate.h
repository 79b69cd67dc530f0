//===- BitAllocate.h - tessera.bit_allocate as per-row IR ------*- C++ -*-===//
//
// Block-GTQ's greedy bit allocation (ALGORITHMS.md 4b) emitted as IR, one row
// of energies at a time, through the same RowRunner as the other row ops: the
// CPU runs the rows in an scf.parallel, the GPU a thread per row. The host
// twin, for calibration tools, is tessera/Support/BitAllocation.h; the
// numerics tests hold the two to the same bits.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_BITALLOCATE_H
#define TESSERA_CONVERSION_BITALLOCATE_H

#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/RowOps.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// Row `lead` of the f32 `energies` -> row `lead` of the i32 `bits` (memrefs
/// of the same shape, L = the static last dim): every block starts at
/// `minBits`; while fewer than floor(L * avgBits) bits are given, the block
/// with the largest gain s_i * 4^(-b_i) (-1 at `maxBits`; the first on ties)
/// gets one more, stopping when no gain is positive. `gains` is an f32
/// scratch row [L] holding each block's current gain.
void emitBitAllocateRow(Emitter &e, Value energies, Value bits, ValueRange lead,
                        Value gains, double avgBits, int64_t minBits,
                        int64_t maxBits);

/// tessera.bit_allocate for every target: operands to buffers, the bits
/// allocated (at run-time leading sizes where dims are dynamic), the rows run
/// by `runner`, a tensor out.
void populateBitAllocatePatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns, RowRunner runner);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_BITALLOCATE_H
