//===- TesseraTypes.td - Tessera types ---------------------*- tablegen -*-===//
//
// Types of the tessera dialect: the packed quantized tensor.
//
//===----------------------------------------------------------------------===//

#ifndef TESSERA_TYPES_TD
#define TESSERA_TYPES_TD

include "Tessera/TesseraAttrs.td"
include "mlir/IR/BuiltinTypeInterfaces.td"
include "mlir/IR/BuiltinTypes.td"

def Tessera_QTensorType : TypeDef<Tessera_Dialect, "QTensor", [
    ShapedTypeInterface, ValueSemantics]> {
  let mnemonic = "qtensor";
  let summary = "A tensor stored in a packed quantized form";
  let description = [{
    A ranked tensor whose values are stored packed by a quantization scheme. The shape and
    element type are the *logical* ones (what `tessera.dequantize` returns); the scheme
    (`#tessera.quant`) fixes the physical layout, a short list of ranked storage tensors
    (codes, norms, scales, ...) that the lowering carries in place of the value and that
    `tessera-run` reads and writes as separate arrays. The quantized dimension is always the
    last one (the head dim D of a KV cache, the input dim K of a weight).

    Attention accepts K and V of this type directly, so every scheme feeds attention without a
    dequantized copy.

    Example: `!tessera.qtensor<1x2x128x64xbf16, #tessera.quant<tq_mse, bits = 3>>`
  }];
  let parameters = (ins
    ArrayRefParameter<"int64_t">:$shape,
    "::mlir::Type":$elementType,
    "::mlir::tessera::QuantAttr":$scheme
  );
  let hasCustomAssemblyFormat = 1;
  let genVerifyDecl = 1;
  let skipDefaultBuilders = 0;
  let extraClassDeclaration = [{
    /// One physical array of a packed tensor.
    struct StorageComponent {
      /// Name of the array ("codes", "norms", "scales", "zeros", "planes", "lut").
      ::llvm::StringRef name;
      ::mlir::RankedTensorType type;
    };
    /// The arrays the packed tensor is stored as, in a fixed order.
    ::llvm::SmallVector<StorageComponent> getStorageComponents() const;

    // ShapedTypeInterface.
    bool hasRank() const { return true; }
    ::mlir::ShapedType cloneWith(std::optional<::llvm::ArrayRef<int64_t>> shape,
                                 ::mlir::Type elementType) const;
    /// The same logical shape and element type as a plain tensor.
    ::mlir::RankedTensorType getLogicalTensorType() const;
  }];
}

#endif // TESSERA_TYPES_TD
