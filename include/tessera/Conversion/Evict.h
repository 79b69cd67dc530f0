//===- Evict.h - tessera.evict, one body per index set ----------*- C++ -*-===//
//
// KV-cache eviction (ALGORITHMS.md 5) emitted as IR: one row of a RowRunner
// per index set (batch x KV head, or batch alone for per-layer scope; an
// scf.parallel on the CPU, a thread per set on the GPU), each scoring its
// tokens by the op's policy, ranking them and copying the kept rows. Packed K/V
// are compacted component by component (the storage rows of the kept tokens,
// norms and scales with them), never decoded and re-encoded. Paged caches (page
// pools behind a block table) are copied first, then each set moves its kept
// rows to the front of its own sequence. See docs/eviction.md.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_EVICT_H
#define TESSERA_CONVERSION_EVICT_H

#include "tessera/Conversion/RowOps.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// Checks, with a located diagnostic, that the CPU lowering handles the
/// tessera.evict `op`: static head dims, a codec for every packed operand, and
/// no dithered lattice rows (their dither depends on the row's position, so
/// moving a row would change what it decodes to).
LogicalResult checkEvictLowerable(Operation *op);

/// tessera.evict for every target: operands to buffers, the outputs and the
/// per-set scratch allocated (n = min(budget, S) and S may be run-time sizes),
/// one row of `runner` per index set (the CPU: an scf.parallel; the GPU: a
/// thread per set); paged pools are first copied by a row of `runner` per
/// (page, slot, head). `hostChecks` adds the run-time query-row check (CPU
/// only: a kernel cannot call the host).
void populateEvictPatterns(const TypeConverter &converter,
                           RewritePatternSet &patterns, RowRunner runner,
                           bool hostChecks);

/// tessera.evict on the CPU: operands to buffers, the outputs allocated at
/// n = min(budget, S) (a run-time size when S is one), the index sets run in
/// an scf.parallel.
void populateEvictToLoopsPatterns(const TypeConverter &converter,
                                  RewritePatternSet &patterns);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_EVICT_H
