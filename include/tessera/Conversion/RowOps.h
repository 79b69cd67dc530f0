//===- RowOps.h - Per-row bodies of the row-wise tessera ops ----*- C++ -*-===//
//
// tessera.hadamard, quantize and dequantize transform each row of their last
// dim on its own. These emitters write one row's computation with an Emitter,
// over memrefs, so the CPU lowering (rows in an scf.parallel) and the GPU
// lowering (one thread per row) run the same code, and the CPU numerics tests
// cover both.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_ROWOPS_H
#define TESSERA_CONVERSION_ROWOPS_H

#include "tessera/Conversion/EmitUtils.h"
#include "tessera/Conversion/QuantCodec.h"

#include "mlir/Transforms/DialectConversion.h"

#include <functional>

namespace mlir::tessera {

/// The per-row body a row op hands its target: `args` are the operands as the
/// body sees them, `row` an f32 scratch row of the op's last dim.
using RowBody =
    function_ref<void(Emitter &e, ValueRange lead, ValueRange args, Value row)>;
/// How a target runs `body` for every index tuple `lead` of `leadShape` over
/// `operands` (memrefs): the CPU in an scf.parallel, the GPU as a kernel with a
/// thread per row. `stem` names the kernel where there is one.
using RowRunner =
    std::function<void(ImplicitLocOpBuilder &b, Operation *op, StringRef stem,
                       ArrayRef<int64_t> leadShape, ValueRange leadSizes,
                       int64_t rowLen, ArrayRef<Value> operands, RowBody body)>;

/// tessera.hadamard, quantize, dequantize and kv_write, each one pattern for
/// every target: operands to buffers, outputs allocated, the row body run by
/// `runner`, tensors out. `vectorWidth` is the Hadamard butterflies' lane
/// count.
void populateRowOpPatterns(const TypeConverter &converter,
                           RewritePatternSet &patterns, RowRunner runner,
                           int64_t vectorWidth);

/// The leading sizes of `shape` (all but the row length) as index values read
/// off `buffer` where they are run-time dims (constants elsewhere), and those
/// run-time ones alone (the operands an alloc of that shape takes).
std::pair<SmallVector<Value>, SmallVector<Value>>
leadSizesOf(ImplicitLocOpBuilder &b, ArrayRef<int64_t> shape, Value buffer);

/// One fresh buffer (memref.alloc) per storage component of `packed`, in
/// component order.
SmallVector<Value> allocateComponents(OpBuilder &b, Location loc,
                                      QTensorType packed,
                                      ValueRange dynamicLead = {});

/// The random signs of (seed, dim) as a constant memref.global in `symbolTable`
/// (the module, or the kernels' gpu.module), created once; returns a
/// memref.get_global of it.
Value emitHadamardSigns(Emitter &e, Operation *symbolTable, int64_t seed,
                        int64_t dim);

/// Row `lead` of `in` -> row `lead` of `out` (same shape, any float type): the
/// randomized Hadamard transform with `signs` (null: none), through the f32
/// scratch row `buf` [dim], butterflies `vectorWidth` lanes wide.
void emitHadamardRow(Emitter &e, Value in, Value out, ValueRange lead,
                     Value buf, Value signs, bool inverse, int64_t vectorWidth);

/// Row `lead` of `in` (any float type) packed by `codec` into the components
/// `parts`, through the f32 scratch row `buf`.
void emitQuantizeRow(Emitter &e, const QuantCodec &codec, Value in,
                     ValueRange parts, ValueRange lead, Value buf);

/// Row `inLead` of `in` (any float type) packed by `codec` into the row
/// `lead` of the components `parts` (tessera.kv_write's slot), through `buf`.
void emitQuantizeRowTo(Emitter &e, const QuantCodec &codec, Value in,
                       ValueRange inLead, ValueRange parts, ValueRange lead,
                       Value buf);

/// Row `lead` of the components `parts` unpacked by `codec` into `out` (any
/// float type), through the f32 scratch row `buf`.
void emitDequantizeRow(Emitter &e, const QuantCodec &codec, ValueRange parts,
                       Value out, ValueRange lead, Value buf);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_ROWOPS_H
