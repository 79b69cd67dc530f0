//===- Npy.h - NumPy .npy files <-> host tensors ----------------*- C++ -*-===//
//
// Format versions 1-3, C order, little-endian. dtype mapping: f32 '<f4', f16
// '<f2', i8 '|i1', u8 '|u1', i32 '<i4', i64 '<i8', i1 '|b1'. NumPy has no
// bfloat16, so bf16 tensors are stored as uint16 ('<u2') holding the bf16 bit
// patterns (the upper half of the f32 bits):
// `np.frombuffer(x.astype(np.float32).tobytes(), np.uint32) >> 16` makes one,
// and
// `(u16.astype(np.uint32) << 16).view(np.float32)` reads one back.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_SUPPORT_NPY_H
#define TESSERA_SUPPORT_NPY_H

#include "tessera/Support/Tensor.h"

#include <optional>
#include <string>

namespace tessera {

/// Reads `path`; on failure returns nullopt and sets `error`. A '<u2' array is
/// read as bf16.
std::optional<HostTensor> readNpy(const std::string &path, std::string &error);
/// Writes `tensor` to `path`; on failure returns false and sets `error`.
bool writeNpy(const std::string &path, const HostTensor &tensor,
              std::string &error);

} // namespace tessera

#endif // TESSERA_SUPPORT_NPY_H
