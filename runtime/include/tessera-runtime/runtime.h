/*===- tessera-runtime/runtime.h - Tessera runtime C API ----------*- C -*-===
 *
 * A small C ABI over the CUDA driver API that loads Tessera's compiled kernels and launches
 * them. Conventions:
 *  - Every fallible call returns a tsrt_status: NULL means success; otherwise the caller owns
 *    the status and frees it with tsrt_status_free. Nothing aborts.
 *  - Handles are opaque; the function that creates one documents who destroys it.
 *  - The CUDA driver is loaded with dlopen("libcuda.so.1") on first use; without it every call
 *    that needs the GPU returns TSRT_NO_DRIVER.
 *===----------------------------------------------------------------------===*/
#ifndef TESSERA_RUNTIME_RUNTIME_H
#define TESSERA_RUNTIME_RUNTIME_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(TSRT_BUILDING_LIBRARY)
#define TSRT_API __attribute__((visibility("default")))
#else
#define TSRT_API
#endif

/** ABI version of this header; bumped on any incompatible change. */
#define TSRT_API_VERSION 1

/** Status codes. */
typedef enum tsrt_code {
  TSRT_OK = 0,
  TSRT_INVALID_ARGUMENT = 1, /**< a NULL handle, a bad size, ... */
  TSRT_NO_DRIVER = 2,        /**< libcuda.so.1 could not be loaded or lacks a symbol */
  TSRT_NO_DEVICE = 3,        /**< the driver loaded but reports no usable GPU */
  TSRT_CUDA_ERROR = 4,       /**< a driver call failed; the message names the CUDA error */
  TSRT_OUT_OF_MEMORY = 5,
  TSRT_INTERNAL = 6,
} tsrt_code;

/** An error: a code and a message. NULL is success. */
typedef struct tsrt_status_impl *tsrt_status;

/** Code of a status (TSRT_OK for NULL). */
TSRT_API tsrt_code tsrt_status_code(tsrt_status status);
/** Message of a status ("" for NULL). Valid until the status is freed. */
TSRT_API const char *tsrt_status_message(tsrt_status status);
/** Frees a status; NULL is allowed. */
TSRT_API void tsrt_status_free(tsrt_status status);
/** Name of a code, e.g. "TSRT_NO_DRIVER". */
TSRT_API const char *tsrt_code_name(tsrt_code code);

/** The ABI version the library was built with (compare with TSRT_API_VERSION). */
TSRT_API int tsrt_api_version(void);

/** A loaded CUDA driver and one device's primary context. */
typedef struct tsrt_runtime_impl *tsrt_runtime;

/** Loads the driver, initialises it and retains device `ordinal`'s primary context.
 *  On success *out receives a runtime the caller destroys with tsrt_runtime_destroy. */
TSRT_API tsrt_status tsrt_runtime_create(int ordinal, tsrt_runtime *out);
/** Releases the context; NULL is allowed. */
TSRT_API void tsrt_runtime_destroy(tsrt_runtime runtime);
/** Number of CUDA devices the driver sees (loads the driver if needed). */
TSRT_API tsrt_status tsrt_device_count(int *out);
/** Name of the runtime's device and its compute capability (major*10 + minor).
 *  `name` receives at most `name_size` bytes including the terminating NUL. */
TSRT_API tsrt_status tsrt_device_info(tsrt_runtime runtime, char *name, size_t name_size,
                                      int *compute_capability);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_RUNTIME_RUNTIME_H */
