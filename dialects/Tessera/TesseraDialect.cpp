//===- TesseraDialect.cpp - Tessera dialect registration ------------------===//
#include "Tessera/TesseraDialect.h"
#include "Tessera/TesseraOps.h"

using namespace mlir;
using namespace mlir::tessera;

#include "Tessera/TesseraDialect.cpp.inc"

void TesseraDialect::initialize() {
  registerAttributes();
  registerTypes();
  addOperations<
#define GET_OP_LIST
#include "Tessera/TesseraOps.cpp.inc"
      >();
}
