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

  QTensorType getType() const { return type; }

protected:
  explicit QuantCodec(QTensorType type) : type(type) {}
  QTensorType type;
};

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_QUANTCODEC_H
