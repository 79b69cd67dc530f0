//===- JIT.h - Compile tessera modules for the host, call them --*- C++ -*-===//
//
// MLIR text -> --tessera-cpu-pipeline -> LLVM IR -> optimised object code
// (cached on disk)
// -> loaded with ORC -> entries called with caller-owned buffers.
//
//===----------------------------------------------------------------------===//
#ifndef TESSERA_JIT_JIT_H
#define TESSERA_JIT_JIT_H

#include "tessera/Support/Tensor.h"

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace tessera::jit {

/// How to compile.
struct CompileOptions {
  /// "cpu" (the host). GPU targets come with the AOT path.
  std::string target = "cpu";
  /// f32 lanes per vector op; 0 picks the host's (16 with AVX-512, 8 with AVX2,
  /// else 4).
  int64_t vectorWidth = 0;
  /// LLVM optimisation level, 0..3.
  int optLevel = 3;
  /// Directory of the compiled-object cache; empty: $TESSERA_CACHE_DIR, else
  /// $XDG_CACHE_HOME/tessera, else ~/.cache/tessera. "off" disables the cache.
  std::string cacheDir;
};

/// Receives each diagnostic: severity ("error", "warning", "note", "remark"),
/// location
/// ("file:line:col", or empty when there is none) and message.
using DiagnosticFn =
    std::function<void(const std::string &severity, const std::string &location,
                       const std::string &message)>;

/// A compiled module: its entries' calling conventions and their machine code.
class CompiledModule {
public:
  virtual ~CompiledModule();
  /// Every public function with a body is an entry.
  virtual const std::vector<EntryABI> &entries() const = 0;
  const EntryABI *findEntry(const std::string &name) const;
  /// Calls `entry` with contiguous row-major buffers, inputs then outputs, in
  /// the ABI's order and dtypes; `inputShapes` gives each input's shape (its
  /// dynamic dims' sizes; see resolveShapes for the outputs' shapes, which the
  /// output buffers must hold). Returns false and calls `diag` on a bad call,
  /// and when a rule the compiled code checks at run time fails (sizes that
  /// do not agree): then the outputs are unspecified.
  virtual bool invoke(const std::string &entry,
                      const std::vector<void *> &inputs,
                      const std::vector<std::vector<int64_t>> &inputShapes,
                      const std::vector<void *> &outputs,
                      const DiagnosticFn &diag) = 0;
  /// The same for an entry whose shapes are all static.
  bool invoke(const std::string &entry, const std::vector<void *> &inputs,
              const std::vector<void *> &outputs, const DiagnosticFn &diag);
  /// Whether the object code came from the cache.
  virtual bool fromCache() const = 0;
  /// Hex key of the cache entry.
  virtual const std::string &cacheKey() const = 0;
};

/// Compiles `source` (MLIR text; `bufferName` names it in diagnostics). Returns
/// null after reporting the reasons through `diag`.
std::unique_ptr<CompiledModule> compile(const std::string &source,
                                        const std::string &bufferName,
                                        const CompileOptions &options,
                                        const DiagnosticFn &diag);

/// The vector width compile() picks for the host when options.vectorWidth is 0.
int64_t hostVectorWidth();

/// The version string that keys the cache and that tools print.
const char *version();

} // namespace tessera::jit

#endif // TESSERA_JIT_JIT_H
