/*===- tessera-c/Tessera.h - Tessera's JIT embedding C API ---------*- C -*-===
 *
 * Compile tessera modules (MLIR text) for the host from a C or C++ program and
 * call their entries on caller-owned buffers.
 *
 * Conventions:
 *  - Calls return a tessera_status; TESSERA_OK is 0. Diagnostics (compile
 * errors with their file:line:col, bad calls) go to the handler set with
 *    tessera_compiler_set_diagnostic_handler; without one, they are dropped.
 *  - Handles are opaque. The creator of a handle destroys it; a module may
 * outlive nothing: destroy modules before the compiler that made them.
 *  - Buffers are contiguous, row-major, owned by the caller; they must stay
 * valid during tessera_invoke only.
 *  - Every public function of a module is an entry. A !tessera.qtensor argument
 * or result is passed as one buffer per storage component (see docs/jit.md).
 *===----------------------------------------------------------------------===*/
#ifndef TESSERA_C_TESSERA_H
#define TESSERA_C_TESSERA_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TESSERA_C_BUILDING_LIBRARY)
#define TESSERA_C_API __attribute__((visibility("default")))
#else
#define TESSERA_C_API
#endif

/** Version of this header's ABI. Compare with tessera_c_api_version(). */
#define TESSERA_C_API_VERSION 2

typedef enum tessera_status {
  TESSERA_OK = 0,
  TESSERA_ERROR_INVALID_ARGUMENT =
      1, /**< NULL handle, bad buffer, unknown option value */
  TESSERA_ERROR_COMPILE = 2,   /**< the module did not parse, verify or lower */
  TESSERA_ERROR_NOT_FOUND = 3, /**< no such entry, file or option */
  TESSERA_ERROR_UNSUPPORTED = 4, /**< e.g. a target this build cannot JIT for */
} tessera_status;

typedef enum tessera_severity {
  TESSERA_SEVERITY_ERROR = 0,
  TESSERA_SEVERITY_WARNING = 1,
  TESSERA_SEVERITY_NOTE = 2,
  TESSERA_SEVERITY_REMARK = 3,
} tessera_severity;

/** Element types; the values match tessera-run's and the .npy mapping
 * (docs/tessera-run.md). */
typedef enum tessera_dtype {
  TESSERA_F32 = 0,
  TESSERA_F16 = 1,
  TESSERA_BF16 = 2, /**< stored as uint16 bit patterns */
  TESSERA_I8 = 3,
  TESSERA_U8 = 4,
  TESSERA_I32 = 5,
  TESSERA_I64 = 6,
  TESSERA_I1 = 7, /**< one byte per element, 0 or 1 */
} tessera_dtype;

/** A caller-owned tensor: `data` holds the product of `shape` elements of
 * `dtype`. */
typedef struct tessera_buffer {
  void *data;
  tessera_dtype dtype;
  int64_t rank;
  const int64_t *shape;
} tessera_buffer;

/** Receives one diagnostic; `location` is "file:line:col" or "" when there is
 * none. */
typedef void (*tessera_diagnostic_fn)(tessera_severity severity,
                                      const char *location, const char *message,
                                      void *user_data);

typedef struct tessera_compiler_impl *tessera_compiler;
typedef struct tessera_module_impl *tessera_module;

/** The ABI version of the library (TESSERA_C_API_VERSION it was built with). */
TESSERA_C_API int tessera_c_api_version(void);

/** Creates a compiler; destroy it with tessera_compiler_destroy. */
TESSERA_C_API tessera_status tessera_compiler_create(tessera_compiler *out);
TESSERA_C_API void tessera_compiler_destroy(tessera_compiler compiler);
/** Routes diagnostics of this compiler and of its modules to `fn`. */
TESSERA_C_API void tessera_compiler_set_diagnostic_handler(
    tessera_compiler compiler, tessera_diagnostic_fn fn, void *user_data);
/** Options: "opt_level" (0..3), "vector_width" (lanes; 0 = host), "cache_dir"
 * (a path, or "off"). */
TESSERA_C_API tessera_status tessera_compiler_set_option(
    tessera_compiler compiler, const char *key, const char *value);

/** Compiles MLIR text for `target` ("cpu"). `name` labels it in diagnostics. On
 * success *out receives a module the caller destroys with
 * tessera_module_destroy. */
TESSERA_C_API tessera_status tessera_compile_source(
    tessera_compiler compiler, const char *source, size_t length,
    const char *name, const char *target, tessera_module *out);
/** As tessera_compile_source, reading the file at `path`. */
TESSERA_C_API tessera_status tessera_compile_file(tessera_compiler compiler,
                                                  const char *path,
                                                  const char *target,
                                                  tessera_module *out);
TESSERA_C_API void tessera_module_destroy(tessera_module module);

/** Number of entries, and the name of entry `index` (valid while the module
 * lives). */
TESSERA_C_API size_t tessera_module_num_entries(tessera_module module);
TESSERA_C_API const char *tessera_module_entry_name(tessera_module module,
                                                    size_t index);
/** Signature of `entry`: counts, then each input or output's dtype, rank and
 * shape
 *  (`shape` valid while the module lives). */
TESSERA_C_API tessera_status tessera_entry_signature(tessera_module module,
                                                     const char *entry,
                                                     size_t *num_inputs,
                                                     size_t *num_outputs);
TESSERA_C_API tessera_status tessera_entry_tensor(
    tessera_module module, const char *entry, int is_output, size_t index,
    tessera_dtype *dtype, int64_t *rank, const int64_t **shape);

/** The shape of output `index` of `entry` when called with `inputs` (only
 * their ranks and shapes are read): the output's rank entries are written to
 * `shape`. A signature dim of -1 is a run-time size; an output's comes from
 * an input's. */
TESSERA_C_API tessera_status tessera_output_shape(tessera_module module,
                                                  const char *entry,
                                                  const tessera_buffer *inputs,
                                                  size_t num_inputs,
                                                  size_t index, int64_t *shape);

/** Calls `entry`: inputs, then outputs, each checked against the signature
 * (-1 dims: any size; outputs must have the shapes tessera_output_shape
 * gives). Sizes the signature cannot check (dynamic dims that must agree) are
 * checked by the compiled code: a mismatch is an error through the
 * diagnostic handler and TESSERA_ERROR_INVALID_ARGUMENT. */
TESSERA_C_API tessera_status tessera_invoke(
    tessera_module module, const char *entry, const tessera_buffer *inputs,
    size_t num_inputs, const tessera_buffer *outputs, size_t num_outputs);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_C_TESSERA_H */
