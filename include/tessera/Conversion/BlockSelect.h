//===- BlockSelect.h - tessera.block_select as row phases ------*- C++ -*-===//
//
// Routing (ALGORITHMS.md 2) lowered once for every target through a RowRunner:
// pooled keys per key block, then per (batch, KV head, query block) the pooled
// query, the block scores and the top_k / top_p selection, then (dual top-p)
// the layer cap per batch element, then the forced blocks and the counts. The
// CPU runs each phase's rows in an scf.parallel, the GPU a thread per row, so
// the CPU numerics tests cover the GPU's code. docs/routing.md explains each
// choice.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_BLOCKSELECT_H
#define TESSERA_CONVERSION_BLOCKSELECT_H

#include "tessera/Conversion/RowOps.h"

#include "mlir/Transforms/DialectConversion.h"

namespace mlir::tessera {

/// Checks, with one diagnostic on failure, that the lowering handles the
/// block_select `op`: static head counts, head dim and projection shapes
/// (batch, Sq and Skv may be run-time sizes).
LogicalResult checkBlockSelectLowerable(Operation *op);

/// tessera.block_select for every target: operands to buffers, the pooled
/// keys, scores, mask and counts allocated at run-time sizes where dims are
/// dynamic, the phases run by `runner`. With `hostChecks` (the CPU), run-time
/// sizes that the verifier could not compare are checked on the host.
void populateBlockSelectPatterns(const TypeConverter &converter,
                                 RewritePatternSet &patterns, RowRunner runner,
                                 bool hostChecks);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_BLOCKSELECT_H
