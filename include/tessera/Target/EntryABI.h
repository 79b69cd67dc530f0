//===- EntryABI.h - Calling conventions of a module's entries ---*- C++ -*-===//
#ifndef TESSERA_TARGET_ENTRYABI_H
#define TESSERA_TARGET_ENTRYABI_H

#include "tessera/Support/Tensor.h"

#include "mlir/IR/BuiltinOps.h"

#include <vector>

namespace mlir::tessera {

/// The entries of `module` (public functions with bodies) and their tensors, a
/// !tessera.qtensor contributing one tensor per storage component; also counts
/// each entry's attention FLOPs. Fails with a diagnostic on the function for
/// non-tensor arguments, dynamic shapes or unsupported element types.
FailureOr<std::vector<::tessera::EntryABI>> computeEntryABIs(ModuleOp module);

/// The element type of an ABI dtype.
Type elementTypeOf(MLIRContext *ctx, ::tessera::DType dtype);

} // namespace mlir::tessera

#endif // TESSERA_TARGET_ENTRYABI_H
