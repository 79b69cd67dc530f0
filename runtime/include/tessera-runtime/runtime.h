/*===- tessera-runtime/runtime.h - Tessera runtime C API ----------*- C -*-===
 *
 * A small C ABI over the CUDA driver API that loads Tessera's compiled kernels
 * and launches them. Conventions:
 *  - Every fallible call returns a tsrt_status: NULL means success; otherwise
 * the caller owns the status and frees it with tsrt_status_free. Nothing
 * aborts.
 *  - Handles are opaque; the function that creates one documents who destroys
 * it.
 *  - The CUDA driver is loaded with dlopen("libcuda.so.1") on first use;
 * without it every call that needs the GPU returns TSRT_NO_DRIVER.
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
  TSRT_NO_DRIVER = 2, /**< libcuda.so.1 could not be loaded or lacks a symbol */
  TSRT_NO_DEVICE = 3, /**< the driver loaded but reports no usable GPU */
  TSRT_CUDA_ERROR =
      4, /**< a driver call failed; the message names the CUDA error */
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

/** The ABI version the library was built with (compare with TSRT_API_VERSION).
 */
TSRT_API int tsrt_api_version(void);

/** A loaded CUDA driver and one device's primary context. */
typedef struct tsrt_runtime_impl *tsrt_runtime;

/** Loads the driver, initialises it and retains device `ordinal`'s primary
 * context. On success *out receives a runtime the caller destroys with
 * tsrt_runtime_destroy. */
TSRT_API tsrt_status tsrt_runtime_create(int ordinal, tsrt_runtime *out);
/** Releases the context; NULL is allowed. */
TSRT_API void tsrt_runtime_destroy(tsrt_runtime runtime);
/** Number of CUDA devices the driver sees (loads the driver if needed). */
TSRT_API tsrt_status tsrt_device_count(int *out);
/** Name of the runtime's device and its compute capability (major*10 + minor).
 *  `name` receives at most `name_size` bytes including the terminating NUL. */
TSRT_API tsrt_status tsrt_device_info(tsrt_runtime runtime, char *name,
                                      size_t name_size,
                                      int *compute_capability);

/*===----------------------------------------------------------------------===*
 * Device memory, streams and timing
 *===----------------------------------------------------------------------===*/

/** A stream; NULL means the default stream wherever a stream is taken. */
typedef struct tsrt_stream_impl *tsrt_stream;
/** Creates a non-blocking stream; destroy it with tsrt_stream_destroy. */
TSRT_API tsrt_status tsrt_stream_create(tsrt_runtime runtime, tsrt_stream *out);
TSRT_API void tsrt_stream_destroy(tsrt_stream stream);
TSRT_API tsrt_status tsrt_stream_synchronize(tsrt_runtime runtime,
                                             tsrt_stream stream);

/** A device allocation owned by the caller (tsrt_buffer_free). */
typedef struct tsrt_buffer_impl *tsrt_buffer;
TSRT_API tsrt_status tsrt_buffer_alloc(tsrt_runtime runtime, size_t bytes,
                                       tsrt_buffer *out);
TSRT_API void tsrt_buffer_free(tsrt_buffer buffer);
TSRT_API size_t tsrt_buffer_size(tsrt_buffer buffer);
/** Copies `bytes` (at most the buffer's size) from host to device and back;
 * synchronous. */
TSRT_API tsrt_status tsrt_buffer_upload(tsrt_buffer buffer, const void *host,
                                        size_t bytes);
TSRT_API tsrt_status tsrt_buffer_download(tsrt_buffer buffer, void *host,
                                          size_t bytes);

/** Measures device time between two points of a stream. */
typedef struct tsrt_timer_impl *tsrt_timer;
TSRT_API tsrt_status tsrt_timer_create(tsrt_runtime runtime, tsrt_timer *out);
TSRT_API void tsrt_timer_destroy(tsrt_timer timer);
TSRT_API tsrt_status tsrt_timer_start(tsrt_timer timer, tsrt_stream stream);
TSRT_API tsrt_status tsrt_timer_stop(tsrt_timer timer, tsrt_stream stream);
/** Waits for the stop point and returns the milliseconds between start and
 * stop. */
TSRT_API tsrt_status tsrt_timer_elapsed_ms(tsrt_timer timer, float *ms);

/*===----------------------------------------------------------------------===*
 * Modules, kernels and launches
 *===----------------------------------------------------------------------===*/

/** Loaded device code; owns its kernels. Unload with tsrt_module_unload. */
typedef struct tsrt_module_impl *tsrt_module;
/** A kernel of a module; valid while its module is loaded. */
typedef struct tsrt_kernel_impl *tsrt_kernel;

/** Loads PTX text (JIT-compiled by the driver for the runtime's device; the
 * driver's error log is part of a failing status's message). `ptx` need not be
 * NUL-terminated. */
TSRT_API tsrt_status tsrt_module_load_ptx(tsrt_runtime runtime, const char *ptx,
                                          size_t length, tsrt_module *out);
/** Loads a cubin (or fatbin) image. */
TSRT_API tsrt_status tsrt_module_load_image(tsrt_runtime runtime,
                                            const void *image, size_t length,
                                            tsrt_module *out);
TSRT_API void tsrt_module_unload(tsrt_module module);
TSRT_API tsrt_status tsrt_module_get_kernel(tsrt_module module,
                                            const char *name, tsrt_kernel *out);

/** Kinds of kernel arguments. */
typedef enum tsrt_arg_kind {
  TSRT_ARG_BUFFER = 0, /**< a tsrt_buffer, passed as its device address */
  TSRT_ARG_I32 = 1,
  TSRT_ARG_I64 = 2,
  TSRT_ARG_F32 = 3,
} tsrt_arg_kind;

/** One kernel argument. */
typedef struct tsrt_arg {
  tsrt_arg_kind kind;
  union {
    tsrt_buffer buffer;
    int32_t i32;
    int64_t i64;
    float f32;
  } value;
} tsrt_arg;

/** Grid, block and dynamic shared memory of a launch. */
typedef struct tsrt_launch_config {
  uint32_t grid[3];
  uint32_t block[3];
  uint32_t shared_bytes;
} tsrt_launch_config;

/** Launches `kernel` with `args` in order on `stream` (asynchronous). */
TSRT_API tsrt_status tsrt_launch(tsrt_kernel kernel,
                                 const tsrt_launch_config *config,
                                 const tsrt_arg *args, size_t num_args,
                                 tsrt_stream stream);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* TESSERA_RUNTIME_RUNTIME_H */
