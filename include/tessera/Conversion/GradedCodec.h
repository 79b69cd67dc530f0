//===- GradedCodec.h - Nested bit-plane weights (graded) --------*- C++ -*-===//
//
// The codec of #tessera.quant<graded, bits = B> (ALGORITHMS.md 4e, after
// Any-Precision LLM): every element of a row has a B-bit index stored as B
// bit-planes, most significant plane first, so the first k planes hold the
// element's k-bit index; each row keeps one centroid table per precision
// k = 1..B. tessera.graded_matmul decodes each input channel at its own
// precision through emitUnpackElementAt. Choices and their reasons:
// docs/graded-weights.md.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_CONVERSION_GRADEDCODEC_H
#define TESSERA_CONVERSION_GRADEDCODEC_H

#include "tessera/Conversion/QuantCodec.h"

namespace mlir::tessera {

/// Storage (QTensorType::getStorageComponents): `planes` [B, lead...,
/// ceil(D/8)] i8, plane p holding bit (B-1-p) of every element's index, one bit
/// per element, LSB-first within a byte; `lut` [lead..., 2^(B+1) - 2] f32, the
/// tables of k = 1..B in that order (precision k's starts at 2^k - 2).
class GradedCodec final : public QuantCodec {
public:
  explicit GradedCodec(QTensorType type);

  /// Per row: B-bit indices from B-bit uniform levels between the row's min
  /// and max, idx = clamp(round((x - min) * ((2^B - 1) / (max - min))), 0,
  /// 2^B - 1) (all 0 when max == min); table entry j of precision k is the
  /// mean of the values whose top k index bits are j, or, for an empty bucket,
  /// the centre of the levels its B-bit indices stand for.
  void emitPackRow(Emitter &e, Value src, ValueRange srcPrefix,
                   ValueRange parts, ValueRange lead) const override;
  /// The row at full precision B.
  void emitUnpackRow(Emitter &e, ValueRange parts, ValueRange lead, Value dst,
                     ValueRange dstPrefix) const override;
  bool isElementwise() const override { return true; }
  /// Element `d` at full precision B.
  Value emitUnpackElement(Emitter &e, ValueRange parts, ValueRange lead,
                          Value d) const override;
  /// Element `d` of the row at leading indices `lead` decoded at precision
  /// `k` (an index Value in [1, B]): the first k planes give the k-bit index,
  /// looked up in precision k's table. At k = B it yields exactly
  /// emitUnpackElement's value.
  Value emitUnpackElementAt(Emitter &e, ValueRange parts, ValueRange lead,
                            Value d, Value k) const;

  /// B, the number of bit-planes (the highest precision).
  int64_t getBits() const { return bits; }
  /// The length of a row's table part: 2^(B+1) - 2.
  int64_t getTableSize() const { return (int64_t{2} << bits) - 2; }

private:
  /// Bit (B-1-p) of element d's index, from plane `p` (index Values), as an
  /// index 0 or 1.
  Value emitReadPlane(Emitter &e, Value planes, ValueRange lead, Value p,
                      Value d) const;
  /// Entry `at` (an index) of the table part of the row at `lead`.
  Value emitLookup(Emitter &e, Value lut, ValueRange lead, Value at) const;

  int64_t dim, bits, numBytes;
};

} // namespace mlir::tessera

#endif // TESSERA_CONVERSION_GRADEDCODEC_H
