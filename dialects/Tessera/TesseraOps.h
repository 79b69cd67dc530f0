//===- TesseraOps.h - Tessera operations ------------------------*- C++ -*-===//
#ifndef TESSERA_DIALECT_TESSERA_TESSERAOPS_H
#define TESSERA_DIALECT_TESSERA_TESSERAOPS_H

#include "Tessera/TesseraAttrs.h"
#include "Tessera/TesseraDialect.h"
#include "Tessera/TesseraTypes.h"
#include "mlir/Bytecode/BytecodeOpInterface.h"
#include "mlir/IR/BuiltinOps.h"
#include "mlir/IR/OpDefinition.h"
#include "mlir/IR/OpImplementation.h"
#include "mlir/Interfaces/ControlFlowInterfaces.h"
#include "mlir/Interfaces/InferTypeOpInterface.h"
#include "mlir/Interfaces/SideEffectInterfaces.h"

#define GET_OP_CLASSES
#include "Tessera/TesseraOps.h.inc"

#endif // TESSERA_DIALECT_TESSERA_TESSERAOPS_H
