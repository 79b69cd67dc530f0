//===- TesseraTypes.h - Tessera types ---------------------------*- C++ -*-===//
#ifndef TESSERA_DIALECT_TESSERA_TESSERATYPES_H
#define TESSERA_DIALECT_TESSERA_TESSERATYPES_H

#include "Tessera/TesseraAttrs.h"
#include "mlir/IR/BuiltinTypeInterfaces.h"
#include "mlir/IR/BuiltinTypes.h"
#include "mlir/IR/Types.h"

#define GET_TYPEDEF_CLASSES
#include "Tessera/TesseraTypes.h.inc"

#endif // TESSERA_DIALECT_TESSERA_TESSERATYPES_H
