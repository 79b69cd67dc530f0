//===- QuantCodec.h - Packing and unpacking qtensor rows --------*- C++ -*-===//
//
// One codec per #tessera.quant scheme emits the code that packs an f32 row into
// a !tessera.qtensor's storage components and unpacks it again. Every lowering
// that touches packed data (quantize, dequantize, attention's K/V tiles,
// eviction's compaction) goes through this interface, so a new scheme is one
// new codec, never a change to those lowerings.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_QUANTCODEC_H
#define TESSERA_CONVERSION_QUANTCODEC_H

#include "Tessera/TesseraTypes.h"
#include "tessera/Conversion/EmitUtils.h"

#include <memory>

namespace mlir::tessera {

class QuantCodec {
public:
  /// The codec for `type`'s scheme; fails with a diagnostic from `emitError`
  /// for a scheme that has no loop lowering yet.
  static FailureOr<std::unique_ptr<QuantCodec>>
  get(QTensorType type, function_ref<InFlightDiagnostic()> emitError);
  /// The codec for `type`'s scheme, or null (no diagnostic) when there is none.
  static std::unique_ptr<QuantCodec> lookup(QTensorType type);
  virtual ~QuantCodec() = default;

  /// Unpacks the row of the packed tensor at leading indices `lead` into
  /// `dst[dstPrefix..., 0:D]` as f32. `parts` are the storage components as
  /// memrefs, in the order of QTensorType::getStorageComponents.
  virtual void emitUnpackRow(Emitter &e, ValueRange parts, ValueRange lead,
                             Value dst, ValueRange dstPrefix) const = 0;
  /// Whether each element decodes on its own through emitUnpackElement (so many
  /// threads can share a row). Codecs whose elements depend on the whole row (a
  /// rotation applied after decoding) return false and implement emitUnpackRow
  /// only.
  virtual bool isElementwise() const { return false; }
  /// Element `d` of the row at leading indices `lead`, as f32. Only called when
  /// isElementwise() is true; the default returns a null Value.
  virtual Value emitUnpackElement(Emitter &e, ValueRange parts, ValueRange lead,
                                  Value d) const {
    return Value();
  }
  /// Packs `src[srcPrefix..., 0:D]` (f32) into the row at leading indices
  /// `lead`.
  virtual void emitPackRow(Emitter &e, Value src, ValueRange srcPrefix,
                           ValueRange parts, ValueRange lead) const = 0;

  /// Codecs that quantize a rotated row y = M x (M orthogonal, fixed at compile
  /// time: tq_mse, block_gtq, lattice) return true. Their emitUnpackElement
  /// then yields element d of the decoded *rotated* row y_hat, while
  /// emitUnpackRow yields x_hat = M^T y_hat. A consumer that reads elements
  /// works in the rotated domain: attention rotates the queries by K's M
  /// (q.k = Mq.Mk) and un-rotates its output by V's M^T (sum_j p_j v_j =
  /// M^T sum_j p_j y_j).
  virtual bool hasTransform() const { return false; }
  /// `dst[dstPrefix..., 0:D] = M src[srcPrefix..., 0:D]` (or M^T with
  /// `inverse`); src and dst are distinct float memrefs of any float type.
  /// Only called when hasTransform() is true.
  virtual void emitTransform(Emitter &e, Value src, ValueRange srcPrefix,
                             Value dst, ValueRange dstPrefix,
                             bool inverse) const {}

  QTensorType getType() const { return type; }

protected:
  explicit QuantCodec(QTensorType type) : type(type) {}
  QTensorType type;
};

/// The codecs of the rotated schemes (TransformCodecs.cpp): tq_mse, block_gtq
/// and lattice; null for any other scheme.
std::unique_ptr<QuantCodec> makeTransformCodec(QTensorType type);

/// The codec of the graded scheme (GradedCodec.cpp: nested bit-planes and one
/// table per precision); null for any other scheme.
std::unique_ptr<QuantCodec> makeGradedCodec(QTensorType type);

/// LSB-first bit streams shared by the codecs: code e of a row occupies bits
/// [pos, pos + bits) of the row's bytes `codes[lead..., :]`, so 4-bit codes go
/// two per byte, low nibble first, and 3-bit codes 8 per 3 bytes
/// (b0 = c0 | c1 << 3 | c2 << 6, ...), the Block-GTQ layout.
/// ORs the low `bits` bits of the i32 `code` in at bit `bitPos` (index); the
/// bytes must have been zeroed first.
void emitWriteBits(Emitter &e, Value codes, ValueRange lead, Value bitPos,
                   Value code, int64_t bits);
/// Reads `bits` (an i32 Value, 1..8) bits at `bitPos` as an i32; never reads
/// past byte `numBytes - 1`.
Value emitReadBits(Emitter &e, Value codes, ValueRange lead, Value bitPos,
                   Value bits, int64_t numBytes);
/// Zeroes bytes [0, numBytes) of the row `codes[lead..., :]`.
void emitZeroBytes(Emitter &e, Value codes, ValueRange lead, int64_t numBytes);

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_QUANTCODEC_H
