//===- InitAll.h - What Tessera's tools register ----------------*- C++ -*-===//
#ifndef TESSERA_INITALL_H
#define TESSERA_INITALL_H

namespace mlir {
class DialectRegistry;
} // namespace mlir

namespace tessera {

/// Registers the tessera dialect and the upstream dialects its pipelines
/// produce and consume (func, arith, math, tensor, linalg, scf, memref, vector,
/// gpu, nvvm, llvm, bufferization), with the bufferization models of the
/// upstream ops.
void registerAllDialects(mlir::DialectRegistry &registry);

/// Registers what lowering GPU kernels to NVVM and serialising them to
/// PTX/cubin in-process needs: the NVVM target interface, the ConvertToLLVM
/// interfaces of the dialects kernels use, and the LLVM IR translations of
/// builtin, llvm, gpu and nvvm.
void registerGPUTargets(mlir::DialectRegistry &registry);

} // namespace tessera

#endif // TESSERA_INITALL_H
