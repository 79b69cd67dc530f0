//===- tessera-opt.cpp - opt-style driver for the tessera dialect ---------===//
//
// Parses, verifies, transforms and prints MLIR with the tessera dialect, like
// mlir-opt.
//
//===----------------------------------------------------------------------===//

#include "tessera/InitAll.h"
#include "tessera/Passes.h"
#include "tessera/Pipelines.h"

#include "mlir/IR/DialectRegistry.h"
#include "mlir/InitAllPasses.h"
#include "mlir/Tools/mlir-opt/MlirOptMain.h"

int main(int argc, char **argv) {
  mlir::DialectRegistry registry;
  tessera::registerAllDialects(registry);
  tessera::registerGPUTargets(registry);
  mlir::registerAllPasses();
  mlir::tessera::registerTesseraPasses();
  mlir::tessera::registerTesseraPipelines();
  return mlir::asMainReturnCode(
      mlir::MlirOptMain(argc, argv, "Tessera optimizer driver\n", registry));
}
