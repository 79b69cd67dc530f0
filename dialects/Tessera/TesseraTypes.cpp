//===- TesseraTypes.cpp - Tessera types: qtensor and its storage layout ---===//
#include "Tessera/TesseraTypes.h"
#include "Tessera/TesseraDialect.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/DialectImplementation.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/TypeSwitch.h"

using namespace mlir;
using namespace mlir::tessera;

#define GET_TYPEDEF_CLASSES
#include "Tessera/TesseraTypes.cpp.inc"

void TesseraDialect::registerTypes() {
  addTypes<
#define GET_TYPEDEF_LIST
#include "Tessera/TesseraTypes.cpp.inc"
      >();
}

Type QTensorType::parse(AsmParser &parser) {
  SMLoc loc = parser.getCurrentLocation();
  SmallVector<int64_t> shape;
  Type elementType;
  QuantAttr scheme;
  if (parser.parseLess() ||
      parser.parseDimensionList(shape, /*allowDynamic=*/true,
                                /*withTrailingX=*/true) ||
      parser.parseType(elementType) || parser.parseComma() ||
      parser.parseAttribute(scheme) || parser.parseGreater())
    return {};
  return parser.getChecked<QTensorType>(loc, parser.getContext(), shape,
                                        elementType, scheme);
}

void QTensorType::print(AsmPrinter &printer) const {
  printer << "<";
  printer.printDimensionList(getShape());
  printer << "x" << getElementType() << ", " << getScheme() << ">";
}

LogicalResult QTensorType::verify(function_ref<InFlightDiagnostic()> emitError,
                                  ArrayRef<int64_t> shape, Type elementType,
                                  QuantAttr scheme) {
  if (!elementType.isF32() && !elementType.isF16() && !elementType.isBF16())
    return emitError() << "qtensor element type (" << elementType
                       << ") must be f32, f16 or bf16";
  if (shape.empty())
    return emitError()
           << "qtensor must have rank >= 1 (the last dim is quantized)";
  for (int64_t d : shape)
    if (d < 0 && !ShapedType::isDynamic(d))
      return emitError() << "qtensor dimension (" << d
                         << ") must be non-negative";
  if (ShapedType::isDynamic(shape.back()))
    return emitError()
           << "the quantized (last) dim of a qtensor must be static";
  if (!scheme)
    return emitError() << "qtensor needs a #tessera.quant scheme";
  return scheme.verifyForHeadDim(emitError, shape.back());
}

ShapedType QTensorType::cloneWith(std::optional<ArrayRef<int64_t>> shape,
                                  Type elementType) const {
  return QTensorType::get(getContext(), shape ? *shape : getShape(),
                          elementType, getScheme());
}

RankedTensorType QTensorType::getLogicalTensorType() const {
  return RankedTensorType::get(getShape(), getElementType());
}

SmallVector<QTensorType::StorageComponent>
QTensorType::getStorageComponents() const {
  MLIRContext *ctx = getContext();
  QuantAttr q = getScheme();
  ArrayRef<int64_t> lead = getShape().drop_back();
  int64_t d = getShape().back();
  Type i8 = IntegerType::get(ctx, 8);
  Type f32 = Float32Type::get(ctx);
  auto withInner = [&](ArrayRef<int64_t> inner, Type elt) {
    SmallVector<int64_t> dims(lead);
    dims.append(inner.begin(), inner.end());
    return RankedTensorType::get(dims, elt);
  };
  auto packedBytes = [](int64_t count, int64_t bits) {
    return (count * bits + 7) / 8;
  };

  SmallVector<StorageComponent> parts;
  switch (q.getScheme()) {
  case QuantScheme::Int: {
    int64_t groups = q.getGroup() == 0 ? 1 : d / q.getGroup();
    parts.push_back(
        {"codes", withInner({packedBytes(d, q.getUniformBits())}, i8)});
    parts.push_back({"scales", withInner({groups}, f32)});
    if (!q.getSymmetric())
      parts.push_back({"zeros", withInner({groups}, f32)});
    break;
  }
  case QuantScheme::TqMse:
    parts.push_back(
        {"codes", withInner({packedBytes(d, q.getUniformBits())}, i8)});
    parts.push_back({"norms", withInner({}, q.getNormType())});
    break;
  case QuantScheme::BlockGtq: {
    // Dims are grouped by bit width (widest first); each group is packed on its
    // own and has its own norm, so a token's codes take sum over groups of
    // ceil(2 * blocks_w * w / 8).
    llvm::MapVector<int64_t, int64_t> blocksPerWidth;
    SmallVector<int64_t> widths(q.getBits());
    llvm::sort(widths, std::greater<int64_t>());
    for (int64_t w : widths)
      ++blocksPerWidth[w];
    int64_t bytes = 0;
    for (auto [w, n] : blocksPerWidth)
      bytes += packedBytes(2 * n, w);
    parts.push_back({"codes", withInner({bytes}, i8)});
    parts.push_back(
        {"norms", withInner({static_cast<int64_t>(blocksPerWidth.size())},
                            q.getNormType())});
    break;
  }
  case QuantScheme::Lattice:
    // Lattice coordinates, one i8 per dim (E8 and A2 half-integers stored
    // doubled). The Rice-coded form is an at-rest format; attention reads this
    // fixed-width one.
    parts.push_back({"codes", withInner({d}, i8)});
    parts.push_back({"norms", withInner({}, f32)});
    break;
  case QuantScheme::Graded: {
    int64_t planes = q.getUniformBits();
    SmallVector<int64_t> planeDims{planes};
    planeDims.append(lead.begin(), lead.end());
    planeDims.push_back(packedBytes(d, 1));
    parts.push_back({"planes", RankedTensorType::get(planeDims, i8)});
    // One centroid table per row for every precision k = 1..planes: 2^k entries
    // each.
    parts.push_back({"lut", withInner({(int64_t{2} << planes) - 2}, f32)});
    break;
  }
  }
  return parts;
}
