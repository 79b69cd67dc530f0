//===- TesseraAttrs.h - Tessera enums and attributes ------------*- C++ -*-===//
#ifndef TESSERA_DIALECT_TESSERA_TESSERAATTRS_H
#define TESSERA_DIALECT_TESSERA_TESSERAATTRS_H

#include "mlir/IR/Attributes.h"
#include "mlir/IR/BuiltinAttributes.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Diagnostics.h"
#include "llvm/ADT/APFloat.h"

#include "Tessera/TesseraEnums.h.inc"

#define GET_ATTRDEF_CLASSES
#include "Tessera/TesseraAttrs.h.inc"

#endif // TESSERA_DIALECT_TESSERA_TESSERAATTRS_H
