//===- TesseraDialect.h - Tessera dialect declaration -----------*- C++ -*-===//
#ifndef TESSERA_DIALECT_TESSERA_TESSERADIALECT_H
#define TESSERA_DIALECT_TESSERA_TESSERADIALECT_H

#include "mlir/IR/Dialect.h"

#include "Tessera/TesseraDialect.h.inc"

#endif // TESSERA_DIALECT_TESSERA_TESSERADIALECT_H
