//===- Passes.h - Tessera pass declarations and registration ----*- C++ -*-===//
#ifndef TESSERA_PASSES_H
#define TESSERA_PASSES_H

#include "mlir/Pass/Pass.h"

namespace mlir {
namespace arith {
class ArithDialect;
} // namespace arith
namespace bufferization {
class BufferizationDialect;
} // namespace bufferization
namespace func {
class FuncOp;
} // namespace func
namespace gpu {
class GPUDialect;
} // namespace gpu
namespace LLVM {
class LLVMDialect;
} // namespace LLVM
namespace NVVM {
class NVVMDialect;
} // namespace NVVM
namespace omp {
class OpenMPDialect;
} // namespace omp
namespace math {
class MathDialect;
} // namespace math
namespace memref {
class MemRefDialect;
} // namespace memref
namespace scf {
class SCFDialect;
} // namespace scf
namespace vector {
class VectorDialect;
} // namespace vector

namespace tessera {
#define GEN_PASS_DECL
#include "Tessera/Passes.h.inc"

#define GEN_PASS_REGISTRATION
#include "Tessera/Passes.h.inc"
} // namespace tessera
} // namespace mlir

#endif // TESSERA_PASSES_H
