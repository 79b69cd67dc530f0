//===- RowOps.h - Per-row bodies of the row-wise tessera ops -----*- C++ -*-===//
//
// tessera.hadamard, quantize and dequantize transform each row of their last dim on its own.
// These emitters write one row's computation with an Emitter, over memrefs, so the CPU
// lowering (rows in an scf.parallel) and the GPU lowering (one thread per row) run the same
// code, and the CPU numerics tests cover both.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_ROWOPS_H
#define TESSERA_CONVERSION_ROWOPS_H

#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/QuantCodec.h"

namespace mlir::tessera {

/// The random signs of (seed, dim) as a constant memref.global in `symbolTable` (the module,
/// or the kernels' gpu.module), created once; returns a memref.get_global of it.
Value emitHadamardSigns(Emitter &e, Operation *symbolTable, int64_t seed, int64_t dim);

/// Row `lead` of `in` -> row `lead` of `out` (same shape, any float type): the randomized
/// Hadamard transform with `signs` (null: none), through the f32 scratch row `buf` [dim],
/// butterflies `vectorWidth` lanes wide.
void emitHadamardRow(Emitter &e, Value in, Value out, ValueRange lead, Value buf, Value signs,
                     bool inverse, int64_t vectorWidth);

/// Row `lead` of `in` (any float type) packed by `codec` into the components `parts`, through
/// the f32 scratch row `buf`.
void emitQuantizeRow(Emitter &e, const QuantCodec &codec, Value in, ValueRange parts,
                     ValueRange lead, Value buf);

/// Row `lead` of the components `parts` unpacked by `codec` into `out` (any float type),
/// through the f32 scratch row `buf`.
void emitDequantizeRow(Emitter &e, const QuantCodec &codec, ValueRange parts, Value out,
                       ValueRange lead, Value buf);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_ROWOPS_H
